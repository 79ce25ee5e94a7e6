// The AVX2 and AVX-512 kernels, written once over a thin layer of vector
// operations: kernels_avx2.c includes this file with HM_ISA 2 and
// kernels_avx512.c with HM_ISA 3. Every function carries the instruction
// set as a target attribute, so nothing else in the package is compiled
// for it and dispatch (kernels.c) chooses at run time.
//
// The kernels compute what the scalar versions and the Go references
// compute, bit for bit: the same operations in the same order, with no fused
// multiply-adds (AVX-512F has them; kernels.h forbids contracting), and sums
// in the same 16 float lanes.

#include <immintrin.h>
#include <string.h>
#include "kernels.h"

#if HM_ISA == 3
#define HM_TARGET "avx512f"
#define HM_W 16
#define HM_NAME(name) name##_avx512
typedef __m512 vf;
typedef __m512i vi;
typedef __mmask16 vmask;
#elif HM_ISA == 2
#define HM_TARGET "avx2"
#define HM_W 8
#define HM_NAME(name) name##_avx2
typedef __m256 vf;
typedef __m256i vi;
typedef __m256i vmask;
#else
#error "HM_ISA must be 2 (AVX2) or 3 (AVX-512)"
#endif

#define HM_INL static inline __attribute__((always_inline, target(HM_TARGET)))
#define HM_EXPORT __attribute__((target(HM_TARGET)))
// HM_NACC vectors hold the 16 float lanes of a row sum.
#define HM_NACC (16 / HM_W)

// ---- The vector layer ----

#if HM_ISA == 3
HM_INL vf vset(float a) { return _mm512_set1_ps(a); }
HM_INL vf vzero(void) { return _mm512_setzero_ps(); }
HM_INL vf vld(const float *p) { return _mm512_loadu_ps(p); }
HM_INL void vst(float *p, vf v) { _mm512_storeu_ps(p, v); }
// vtail is the mask of the first n lanes (0 <= n <= HM_W).
HM_INL vmask vtail(int64_t n) { return (vmask)(n >= 16 ? 0xFFFF : (1u << n) - 1); }
HM_INL vf vldm(const float *p, vmask m) { return _mm512_maskz_loadu_ps(m, p); }
HM_INL void vstm(float *p, vmask m, vf v) { _mm512_mask_storeu_ps(p, m, v); }
HM_INL vf vadd(vf a, vf b) { return _mm512_add_ps(a, b); }
HM_INL vf vsub(vf a, vf b) { return _mm512_sub_ps(a, b); }
HM_INL vf vmul(vf a, vf b) { return _mm512_mul_ps(a, b); }
HM_INL vf vdiv(vf a, vf b) { return _mm512_div_ps(a, b); }
// vmin(a, b) is a < b ? a : b and vmax(a, b) a > b ? a : b, as the
// instructions define them (so b when either is NaN).
HM_INL vf vmin(vf a, vf b) { return _mm512_min_ps(a, b); }
HM_INL vf vmax(vf a, vf b) { return _mm512_max_ps(a, b); }
HM_INL vf vabs(vf x) { return _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(0x7FFFFFFF))); }
HM_INL vf vneg(vf x) { return _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(x), _mm512_set1_epi32((int)0x80000000u))); }
// vlt01 is 1 where a < b, else 0 (0 where either is NaN).
HM_INL vf vlt01(vf a, vf b) { return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(a, b, _CMP_LT_OQ), vset(1.0f)); }
// vflush is 0 where |v| < t, else v.
HM_INL vf vflush(vf v, vf t) { return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(vabs(v), t, _CMP_NLT_UQ), v); }
// vscale is 2^n for an integral float n, as the float with exponent field
// max(n + 127, 1).
HM_INL vf vscale(vf n) {
	vi e = _mm512_add_epi32(_mm512_cvttps_epi32(n), _mm512_set1_epi32(127));
	e = _mm512_max_epi32(e, _mm512_set1_epi32(1));
	return _mm512_castsi512_ps(_mm512_slli_epi32(e, 23));
}
// vpow2 is vscale for n >= -126.
HM_INL vf vpow2(vf n) {
	return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(_mm512_cvttps_epi32(n), _mm512_set1_epi32(127)), 23));
}
HM_INL vi vldi(const uint32_t *p) { return _mm512_loadu_si512((const void *)p); }
HM_INL vf vunif(vi w) { return vmul(_mm512_cvtepi32_ps(_mm512_srli_epi32(w, 8)), vset(1.0f / 16777216.0f)); }
HM_INL void vstore_tmp(float *tmp, vf v) { _mm512_storeu_ps(tmp, v); }
HM_INL vf vsqrt(vf a) { return _mm512_sqrt_ps(a); }

// 32-bit integer lanes (the normal deviates' bit manipulations).
HM_INL vi iadd32(vi a, vi b) { return _mm512_add_epi32(a, b); }
HM_INL vi isub32(vi a, vi b) { return _mm512_sub_epi32(a, b); }
HM_INL vi iand(vi a, vi b) { return _mm512_and_si512(a, b); }
HM_INL vi ixor(vi a, vi b) { return _mm512_xor_si512(a, b); }
#define isrl32(a, n) _mm512_srli_epi32((a), (n))
#define isll32(a, n) _mm512_slli_epi32((a), (n))
#define isra32(a, n) _mm512_srai_epi32((a), (n))
HM_INL vf vcvti(vi a) { return _mm512_cvtepi32_ps(a); } // signed 32-bit integers to float
HM_INL vi vbits(vf a) { return _mm512_castps_si512(a); }
HM_INL vf vfrombits(vi a) { return _mm512_castsi512_ps(a); }
// vselodd is b in the lanes where k is odd, else a.
HM_INL vf vselodd(vi k, vf a, vf b) { return _mm512_mask_blend_ps(_mm512_test_epi32_mask(k, _mm512_set1_epi32(1)), a, b); }
// vkeep_nle0 is x where !(x <= 0) (x > 0 or NaN), else +0.
HM_INL vf vkeep_nle0(vf x) { return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_NLE_UQ), x); }
// vsel_gt0 is a where x > 0, else b.
HM_INL vf vsel_gt0(vf x, vf a, vf b) { return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GT_OQ), b, a); }
// vbitsel is a where the mask m is all ones, b where it is 0.
HM_INL vf vbitsel(vi m, vf a, vf b) { return _mm512_castsi512_ps(_mm512_ternarylogic_epi32(m, _mm512_castps_si512(a), _mm512_castps_si512(b), 0xCA)); }
// ievens and iodds are the words 0, 2, 4, ... and 1, 3, 5, ... of a
// followed by b.
HM_INL vi ievens(vi a, vi b) {
	return _mm512_permutex2var_epi32(a, _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30), b);
}
HM_INL vi iodds(vi a, vi b) {
	return _mm512_permutex2var_epi32(a, _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31), b);
}
// vst2 stores x and y interleaved: p[2i] = x[i], p[2i+1] = y[i].
HM_INL void vst2(float *p, vf x, vf y) {
	_mm512_storeu_ps(p, _mm512_permutex2var_ps(x, _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23), y));
	_mm512_storeu_ps(p + 16, _mm512_permutex2var_ps(x, _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31), y));
}

// Integer lanes for Philox: each 64-bit lane holds one block's word in its
// low half (the high half is ignored, and may hold anything).
HM_INL vi iset(uint32_t a) { return _mm512_set1_epi32((int)a); }
HM_INL vi iset64(uint64_t a) { return _mm512_set1_epi64((long long)a); }
HM_INL vi iadd64(vi a, vi b) { return _mm512_add_epi64(a, b); }
HM_INL vi ihigh(vi a) { return _mm512_srli_epi64(a, 32); }
HM_INL vi imul(vi a, vi b) { return _mm512_mul_epu32(a, b); } // 32x32 -> 64 bits
HM_INL vi ixor3(vi a, vi b, vi c) { return _mm512_ternarylogic_epi32(a, b, c, 0x96); }
// ieven and iodd are the lane offsets of the even and odd blocks.
HM_INL vi ieven(void) { return _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14); }
HM_INL vi iodd(void) { return _mm512_setr_epi64(1, 3, 5, 7, 9, 11, 13, 15); }
// ipair puts the low halves of b's lanes in the high halves of a's.
HM_INL vi ipair(vi a, vi b) { return _mm512_mask_blend_epi32(0xAAAA, a, _mm512_slli_epi64(b, 32)); }
// istore4 stores the words of 16 blocks in counter order (block 0's four
// words, block 1's, ...), from words w of the even blocks in ew and of the
// odd blocks in ow.
HM_INL void istore4(uint32_t *out, vi e0, vi e1, vi e2, vi e3, vi o0, vi o1, vi o2, vi o3) {
	vi ea = ipair(e0, e1), eb = ipair(e2, e3), oa = ipair(o0, o1), ob = ipair(o2, o3);
	// 128-bit lanes of blocks 0|4|8|12, 2|6|10|14, 1|5|9|13, 3|7|11|15.
	vi u0 = _mm512_unpacklo_epi64(ea, eb), u2 = _mm512_unpackhi_epi64(ea, eb);
	vi u1 = _mm512_unpacklo_epi64(oa, ob), u3 = _mm512_unpackhi_epi64(oa, ob);
	// Then a 4x4 transpose of the 128-bit lanes.
	vi a = _mm512_shuffle_i32x4(u0, u1, 0x44), b = _mm512_shuffle_i32x4(u2, u3, 0x44); // 0 4 1 5 | 2 6 3 7
	vi c = _mm512_shuffle_i32x4(u0, u1, 0xEE), d = _mm512_shuffle_i32x4(u2, u3, 0xEE); // 8 12 9 13 | 10 14 11 15
	_mm512_storeu_si512((void *)out, _mm512_shuffle_i32x4(a, b, 0x88));
	_mm512_storeu_si512((void *)(out + 16), _mm512_shuffle_i32x4(a, b, 0xDD));
	_mm512_storeu_si512((void *)(out + 32), _mm512_shuffle_i32x4(c, d, 0x88));
	_mm512_storeu_si512((void *)(out + 48), _mm512_shuffle_i32x4(c, d, 0xDD));
}
#else
HM_INL vf vset(float a) { return _mm256_set1_ps(a); }
HM_INL vf vzero(void) { return _mm256_setzero_ps(); }
HM_INL vf vld(const float *p) { return _mm256_loadu_ps(p); }
HM_INL void vst(float *p, vf v) { _mm256_storeu_ps(p, v); }
HM_INL vmask vtail(int64_t n) {
	return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n > 8 ? 8 : n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
HM_INL vf vldm(const float *p, vmask m) { return _mm256_maskload_ps(p, m); }
// vstmi stores the 32-bit lanes of m, a mask of the first lanes (all the
// kernels' masks come from vtail), as one full store or pieces of 4, 2 and
// 1 lanes: AMD's CPUs run the AVX2 masked stores (vmaskmovps, vpmaskmovd)
// as microcode, 40-50 cycles each on Zen 4, and the sparse products store
// a masked vector for every row and block.
HM_INL void vstmi(void *p, vmask m, __m256i v) {
	const unsigned bits = (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(m));
	if (bits == 0xFF) {
		_mm256_storeu_si256((__m256i *)p, v);
		return;
	}
	char *q = (char *)p;
	int n = bits ? 32 - __builtin_clz(bits) : 0;
	__m128i x = _mm256_castsi256_si128(v);
	if (n >= 4) {
		_mm_storeu_si128((__m128i *)q, x);
		q += 16, n -= 4;
		x = _mm256_extracti128_si256(v, 1);
	}
	if (n >= 2) {
		_mm_storel_epi64((__m128i *)q, x);
		q += 8, n -= 2;
		x = _mm_srli_si128(x, 8);
	}
	if (n) {
		const int32_t w = _mm_cvtsi128_si32(x);
		memcpy(q, &w, 4);
	}
}
HM_INL void vstm(float *p, vmask m, vf v) { vstmi(p, m, _mm256_castps_si256(v)); }
HM_INL vf vadd(vf a, vf b) { return _mm256_add_ps(a, b); }
HM_INL vf vsub(vf a, vf b) { return _mm256_sub_ps(a, b); }
HM_INL vf vmul(vf a, vf b) { return _mm256_mul_ps(a, b); }
HM_INL vf vdiv(vf a, vf b) { return _mm256_div_ps(a, b); }
HM_INL vf vmin(vf a, vf b) { return _mm256_min_ps(a, b); }
HM_INL vf vmax(vf a, vf b) { return _mm256_max_ps(a, b); }
HM_INL vf vabs(vf x) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x); }
HM_INL vf vneg(vf x) { return _mm256_xor_ps(x, _mm256_set1_ps(-0.0f)); }
HM_INL vf vlt01(vf a, vf b) { return _mm256_and_ps(_mm256_cmp_ps(a, b, _CMP_LT_OQ), vset(1.0f)); }
HM_INL vf vflush(vf v, vf t) { return _mm256_andnot_ps(_mm256_cmp_ps(vabs(v), t, _CMP_LT_OQ), v); }
HM_INL vf vscale(vf n) {
	vi e = _mm256_add_epi32(_mm256_cvttps_epi32(n), _mm256_set1_epi32(127));
	e = _mm256_max_epi32(e, _mm256_set1_epi32(1));
	return _mm256_castsi256_ps(_mm256_slli_epi32(e, 23));
}
HM_INL vf vpow2(vf n) {
	return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(n), _mm256_set1_epi32(127)), 23));
}
HM_INL vi vldi(const uint32_t *p) { return _mm256_loadu_si256((const __m256i *)p); }
HM_INL vf vunif(vi w) { return vmul(_mm256_cvtepi32_ps(_mm256_srli_epi32(w, 8)), vset(1.0f / 16777216.0f)); }
HM_INL void vstore_tmp(float *tmp, vf v) { _mm256_storeu_ps(tmp, v); }
HM_INL vf vsqrt(vf a) { return _mm256_sqrt_ps(a); }

HM_INL vi iadd32(vi a, vi b) { return _mm256_add_epi32(a, b); }
HM_INL vi isub32(vi a, vi b) { return _mm256_sub_epi32(a, b); }
HM_INL vi iand(vi a, vi b) { return _mm256_and_si256(a, b); }
HM_INL vi ixor(vi a, vi b) { return _mm256_xor_si256(a, b); }
#define isrl32(a, n) _mm256_srli_epi32((a), (n))
#define isll32(a, n) _mm256_slli_epi32((a), (n))
#define isra32(a, n) _mm256_srai_epi32((a), (n))
HM_INL vf vcvti(vi a) { return _mm256_cvtepi32_ps(a); }
HM_INL vi vbits(vf a) { return _mm256_castps_si256(a); }
HM_INL vf vfrombits(vi a) { return _mm256_castsi256_ps(a); }
// blendv picks by the sign bit: k's lowest bit moved there.
HM_INL vf vselodd(vi k, vf a, vf b) { return _mm256_blendv_ps(a, b, _mm256_castsi256_ps(_mm256_slli_epi32(k, 31))); }
HM_INL vf vkeep_nle0(vf x) { return _mm256_and_ps(_mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_NLE_UQ), x); }
HM_INL vf vsel_gt0(vf x, vf a, vf b) { return _mm256_blendv_ps(b, a, _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GT_OQ)); }
HM_INL vf vbitsel(vi m, vf a, vf b) { return _mm256_blendv_ps(b, a, _mm256_castsi256_ps(m)); }
HM_INL vi ievens(vi a, vi b) {
	// a0 a2 b0 b2 | a4 a6 b4 b6, then the 64-bit pairs in order 0 2 1 3.
	__m256 e = _mm256_shuffle_ps(_mm256_castsi256_ps(a), _mm256_castsi256_ps(b), 0x88);
	return _mm256_permute4x64_epi64(_mm256_castps_si256(e), 0xD8);
}
HM_INL vi iodds(vi a, vi b) {
	__m256 o = _mm256_shuffle_ps(_mm256_castsi256_ps(a), _mm256_castsi256_ps(b), 0xDD);
	return _mm256_permute4x64_epi64(_mm256_castps_si256(o), 0xD8);
}
HM_INL void vst2(float *p, vf x, vf y) {
	vf lo = _mm256_unpacklo_ps(x, y), hi = _mm256_unpackhi_ps(x, y); // x0 y0 x1 y1 | x4 y4 x5 y5, x2 y2 x3 y3 | x6 ...
	_mm256_storeu_ps(p, _mm256_permute2f128_ps(lo, hi, 0x20));
	_mm256_storeu_ps(p + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
}

HM_INL vi iset(uint32_t a) { return _mm256_set1_epi32((int)a); }
HM_INL vi iset64(uint64_t a) { return _mm256_set1_epi64x((long long)a); }
HM_INL vi iadd64(vi a, vi b) { return _mm256_add_epi64(a, b); }
HM_INL vi ihigh(vi a) { return _mm256_srli_epi64(a, 32); }
HM_INL vi imul(vi a, vi b) { return _mm256_mul_epu32(a, b); }
HM_INL vi ixor3(vi a, vi b, vi c) { return _mm256_xor_si256(_mm256_xor_si256(a, b), c); }
HM_INL vi ieven(void) { return _mm256_setr_epi64x(0, 2, 4, 6); }
HM_INL vi iodd(void) { return _mm256_setr_epi64x(1, 3, 5, 7); }
HM_INL vi ipair(vi a, vi b) { return _mm256_blend_epi32(a, _mm256_slli_epi64(b, 32), 0xAA); }
HM_INL void istore4(uint32_t *out, vi e0, vi e1, vi e2, vi e3, vi o0, vi o1, vi o2, vi o3) {
	vi ea = ipair(e0, e1), eb = ipair(e2, e3), oa = ipair(o0, o1), ob = ipair(o2, o3);
	vi u0 = _mm256_unpacklo_epi64(ea, eb), u2 = _mm256_unpackhi_epi64(ea, eb); // blocks 0|4, 2|6
	vi u1 = _mm256_unpacklo_epi64(oa, ob), u3 = _mm256_unpackhi_epi64(oa, ob); // blocks 1|5, 3|7
	_mm256_storeu_si256((__m256i *)out, _mm256_permute2x128_si256(u0, u1, 0x20));
	_mm256_storeu_si256((__m256i *)(out + 8), _mm256_permute2x128_si256(u2, u3, 0x20));
	_mm256_storeu_si256((__m256i *)(out + 16), _mm256_permute2x128_si256(u0, u1, 0x31));
	_mm256_storeu_si256((__m256i *)(out + 24), _mm256_permute2x128_si256(u2, u3, 0x31));
}
#endif

// ---- Functions, as in kernels.c ----

// vexp85 is vexp for x in [-85, 85] (or NaN), where its clamps and the
// exponent's lower bound change nothing: it skips them.
HM_INL vf vexp85(vf x) {
	vf n = vsub(vadd(vmul(x, vset(1.44269504088896341f)), vset(12582912.0f)), vset(12582912.0f));
	vf r = vsub(x, vmul(n, vset(0.693359375f)));
	r = vsub(r, vmul(n, vset(-2.12194440e-4f)));
	vf p = vset(1.9875691500e-4f);
	p = vadd(vmul(p, r), vset(1.3981999507e-3f));
	p = vadd(vmul(p, r), vset(8.3334519073e-3f));
	p = vadd(vmul(p, r), vset(4.1665795894e-2f));
	p = vadd(vmul(p, r), vset(1.6666665459e-1f));
	p = vadd(vmul(p, r), vset(5.0000001201e-1f));
	p = vadd(vmul(p, vmul(r, r)), r);
	p = vadd(p, vset(1.0f));
	return vmul(p, vpow2(n));
}

HM_INL vf vexp(vf x) {
	x = vmin(vset(88.0f), x); // x > 88 ? 88 : x, keeping NaN
	x = vmax(vset(-88.0f), x);
	vf n = vsub(vadd(vmul(x, vset(1.44269504088896341f)), vset(12582912.0f)), vset(12582912.0f));
	vf r = vsub(x, vmul(n, vset(0.693359375f)));
	r = vsub(r, vmul(n, vset(-2.12194440e-4f)));
	vf p = vset(1.9875691500e-4f);
	p = vadd(vmul(p, r), vset(1.3981999507e-3f));
	p = vadd(vmul(p, r), vset(8.3334519073e-3f));
	p = vadd(vmul(p, r), vset(4.1665795894e-2f));
	p = vadd(vmul(p, r), vset(1.6666665459e-1f));
	p = vadd(vmul(p, r), vset(5.0000001201e-1f));
	p = vadd(vmul(p, vmul(r, r)), r);
	p = vadd(p, vset(1.0f));
	return vmul(p, vscale(n));
}

HM_INL vf vsigmoid(vf x) {
	x = vmin(vset(85.0f), x);
	x = vmax(vset(-85.0f), x);
	return vdiv(vset(1.0f), vadd(vset(1.0f), vexp85(vneg(x))));
}

HM_INL vf vsoftplus(vf x) {
	vf y = vexp(vneg(vabs(x)));
	vf s = vdiv(y, vadd(vset(2.0f), y));
	vf s2 = vmul(s, s);
	vf p = vset(1.0f / 13.0f);
	p = vadd(vmul(p, s2), vset(1.0f / 11.0f));
	p = vadd(vmul(p, s2), vset(1.0f / 9.0f));
	p = vadd(vmul(p, s2), vset(1.0f / 7.0f));
	p = vadd(vmul(p, s2), vset(1.0f / 5.0f));
	p = vadd(vmul(p, s2), vset(1.0f / 3.0f));
	p = vadd(vmul(p, s2), vset(1.0f));
	vf l = vmul(vmul(vset(2.0f), s), p);
	return vadd(vmax(x, vzero()), l); // x > 0 ? x + l : l (0 + l is l)
}

// ---- Philox-4x32-10 ----

// HM_ROUND is Philox round r (1 ... 9) of the blocks in x0 ... x3.
#define HM_ROUND(r, x0, x1, x2, x3)             \
	do {                                        \
		vi p0 = imul(x0, m0), p1 = imul(x2, m1); \
		x0 = ixor3(ihigh(p1), x1, rk0[r]);      \
		x1 = p1;                                \
		x2 = ixor3(ihigh(p0), x3, rk1[r]);      \
		x3 = p0;                                \
	} while (0)

// HM_GROUPS groups of HM_W blocks go through the rounds together, so that
// the vector units have independent work while a multiply's result is on
// its way. AVX2 has registers for the state of one group only.
#if HM_ISA == 3
#define HM_GROUPS 2
#else
#define HM_GROUPS 1
#endif

#if defined(__clang__)
#define HM_UNROLL _Pragma("unroll")
#else
#define HM_UNROLL _Pragma("GCC unroll 16")
#endif

// vfill writes numbers c0 ... c0+n-1 of stream key to buf (HM_BUF words,
// n <= HM_CHUNK), HM_GROUPS * HM_W blocks at a time, and returns a pointer
// to number c0. The even and odd blocks of each HM_W go through the rounds
// in separate vectors (e and o), one block per 64-bit lane: then each
// multiply gives the whole 64-bit products that Philox needs.
HM_INL const uint32_t *vfill(uint64_t key, uint64_t c0, int64_t n, uint32_t *buf) {
	const vi m0 = iset(0xD2511F53u), m1 = iset(0xCD9E8D57u);
	// The round keys, broadcast once.
	vi rk0[10], rk1[10];
	for (int r = 0; r < 10; r++) {
		rk0[r] = iset((uint32_t)key + (uint32_t)r * 0x9E3779B9u);
		rk1[r] = iset((uint32_t)(key >> 32) + (uint32_t)r * 0xBB67AE85u);
	}
	const int64_t off = (int64_t)(c0 & 3), blocks = (off + n + 3) >> 2;
	const vi even = ieven(), odd = iodd();
	uint64_t q = c0 >> 2;
	for (int64_t b = 0; b < blocks; b += HM_GROUPS * HM_W, q += HM_GROUPS * HM_W) {
		vi e[HM_GROUPS][4], o[HM_GROUPS][4];
		HM_UNROLL
		for (int g = 0; g < HM_GROUPS; g++) {
			// Counters (q + i, its high word, 0, 0); round 0 with the
			// last two words 0.
			vi ce = iadd64(iset64(q + (uint64_t)(g * HM_W)), even), co = iadd64(iset64(q + (uint64_t)(g * HM_W)), odd);
			vi pe = imul(ce, m0), po = imul(co, m0);
			e[g][0] = ixor3(ihigh(ce), rk0[0], iset(0));
			e[g][1] = iset(0);
			e[g][2] = ixor3(ihigh(pe), rk1[0], iset(0));
			e[g][3] = pe;
			o[g][0] = ixor3(ihigh(co), rk0[0], iset(0));
			o[g][1] = iset(0);
			o[g][2] = ixor3(ihigh(po), rk1[0], iset(0));
			o[g][3] = po;
		}
		HM_UNROLL
		for (int r = 1; r < 10; r++)
			HM_UNROLL
			for (int g = 0; g < HM_GROUPS; g++) {
				HM_ROUND(r, e[g][0], e[g][1], e[g][2], e[g][3]);
				HM_ROUND(r, o[g][0], o[g][1], o[g][2], o[g][3]);
			}
		HM_UNROLL
		for (int g = 0; g < HM_GROUPS; g++)
			istore4(buf + 4 * (b + g * HM_W), e[g][0], e[g][1], e[g][2], e[g][3], o[g][0], o[g][1], o[g][2], o[g][3]);
	}
	return buf + off;
}

HM_EXPORT void HM_NAME(hm_philox_fill)(uint64_t key, uint64_t c0, int64_t n, uint32_t *out) {
	uint32_t buf[HM_BUF];
	for (int64_t lo = 0; lo < n; lo += HM_CHUNK) {
		int64_t m = n - lo < HM_CHUNK ? n - lo : HM_CHUNK;
		memcpy(out + lo, vfill(key, c0 + (uint64_t)lo, m, buf), (size_t)m * 4);
	}
}

// ---- Kernels ----

HM_EXPORT void HM_NAME(hm_sigmoid_bias)(float *x, const float *bias, int64_t rows, int64_t cols, int64_t ld) {
	for (int64_t i = 0; i < rows; i++) {
		float *row = x + i * ld;
		int64_t j = 0;
		for (; j + HM_W <= cols; j += HM_W) vst(row + j, vsigmoid(vadd(vld(row + j), vld(bias + j))));
		if (j < cols) {
			vmask m = vtail(cols - j);
			vstm(row + j, m, vsigmoid(vadd(vldm(row + j, m), vldm(bias + j, m))));
		}
	}
}

HM_EXPORT void HM_NAME(hm_sigmoid_bias_sample)(float *x, float *s, const float *bias, int64_t rows, int64_t cols, int64_t ld, uint64_t key, uint64_t base) {
	uint32_t buf[HM_BUF] __attribute__((aligned(64)));
	for (int64_t i = 0; i < rows; i++) {
		uint64_t b = base + (uint64_t)(i * ld);
		for (int64_t j0 = 0; j0 < cols; j0 += HM_CHUNK) {
			int64_t n = cols - j0 < HM_CHUNK ? cols - j0 : HM_CHUNK;
			const uint32_t *u = vfill(key, b + (uint64_t)j0, n, buf);
			float *row = x + i * ld + j0, *srow = s + i * ld + j0;
			const float *bb = bias + j0;
			int64_t j = 0;
			for (; j + HM_W <= n; j += HM_W) {
				vf p = vsigmoid(vadd(vld(row + j), vld(bb + j)));
				vst(row + j, p);
				vst(srow + j, vlt01(vunif(vldi(u + j)), p));
			}
			if (j < n) {
				vmask m = vtail(n - j);
				vf p = vsigmoid(vadd(vldm(row + j, m), vldm(bb + j, m)));
				vstm(row + j, m, p);
				vstm(srow + j, m, vlt01(vunif(vldi(u + j)), p));
			}
		}
	}
}

HM_EXPORT void HM_NAME(hm_bernoulli)(float *s, const float *p, int64_t n, uint64_t key, uint64_t base) {
	uint32_t buf[HM_BUF] __attribute__((aligned(64)));
	for (int64_t lo = 0; lo < n; lo += HM_CHUNK) {
		int64_t m = n - lo < HM_CHUNK ? n - lo : HM_CHUNK;
		const uint32_t *u = vfill(key, base + (uint64_t)lo, m, buf);
		float *sp = s + lo;
		const float *pp = p + lo;
		int64_t i = 0;
		for (; i + HM_W <= m; i += HM_W) vst(sp + i, vlt01(vunif(vldi(u + i)), vld(pp + i)));
		if (i < m) {
			vmask t = vtail(m - i);
			vstm(sp + i, t, vlt01(vunif(vldi(u + i)), vldm(pp + i, t)));
		}
	}
}

// diff_block is hm_diff_stats over the 4 vectors of columns from j0; with
// full (a constant after inlining) all 4 are whole and need no masks.
HM_INL void diff_block(const float *a, float *b, int64_t rows, int64_t cols, int64_t ld, int64_t j0, float *colsum, vf va,
                       float *sq, int negb, const int full) {
	vmask m[4];
	vf s[4], c[4];
	for (int k = 0; k < 4; k++) {
		int64_t left = cols - j0 - k * HM_W;
		m[k] = vtail(left < 0 ? 0 : left > HM_W ? HM_W : left);
		s[k] = vzero();
		c[k] = full ? vld(colsum + j0 + k * HM_W) : vldm(colsum + j0 + k * HM_W, m[k]);
	}
	for (int64_t i = 0; i < rows; i++) {
		const float *ar = a + i * ld + j0;
		float *br = b + i * ld + j0;
		for (int k = 0; k < 4; k++) {
			vf bv = full ? vld(br + k * HM_W) : vldm(br + k * HM_W, m[k]);
			vf d = vsub(full ? vld(ar + k * HM_W) : vldm(ar + k * HM_W, m[k]), bv);
			s[k] = vadd(s[k], vmul(d, d));
			c[k] = vadd(c[k], vmul(va, d));
			if (negb) {
				if (full)
					vst(br + k * HM_W, vneg(bv));
				else
					vstm(br + k * HM_W, m[k], vneg(bv));
			}
		}
	}
	for (int k = 0; k < 4; k++) {
		if (full) {
			vst(sq + j0 + k * HM_W, s[k]);
			vst(colsum + j0 + k * HM_W, c[k]);
		} else {
			vstm(sq + j0 + k * HM_W, m[k], s[k]);
			vstm(colsum + j0 + k * HM_W, m[k], c[k]);
		}
	}
}

// hm_diff_stats keeps a block of up to 4 vectors of columns' sums in
// registers while it runs down the rows (ld floats apart).
HM_EXPORT double HM_NAME(hm_diff_stats)(const float *a, float *b, int64_t rows, int64_t cols, int64_t ld, float *colsum, float alpha,
                                        float *sq, int negb) {
	const vf va = vset(alpha);
	int64_t j0 = 0;
	for (; j0 + 4 * HM_W <= cols; j0 += 4 * HM_W) diff_block(a, b, rows, cols, ld, j0, colsum, va, sq, negb, 1);
	if (j0 < cols) diff_block(a, b, rows, cols, ld, j0, colsum, va, sq, negb, 0);
	double total = 0;
	for (int64_t j = 0; j < cols; j++) total += (double)sq[j];
	return total;
}

HM_EXPORT void HM_NAME(hm_momentum_step)(float *w, float *vel, int64_t n, float decay) {
	const vf vd = vset(decay), t = vset(1e-30f);
	int64_t i = 0;
	for (; i + HM_W <= n; i += HM_W) {
		vf wi = vld(w + i);
		vf v = vflush(vsub(vld(vel + i), vmul(vd, wi)), t);
		vst(vel + i, v);
		vst(w + i, vadd(wi, v));
	}
	if (i < n) {
		vmask m = vtail(n - i);
		vf wi = vldm(w + i, m);
		vf v = vflush(vsub(vldm(vel + i, m), vmul(vd, wi)), t);
		vstm(vel + i, m, v);
		vstm(w + i, m, vadd(wi, v));
	}
}

// vadam_step is hm_adam_step on the HM_W values at w, g, m and v (on the
// lanes of mask t only, unless full); k holds b1, 1-b1, b2, 1-b2, step,
// c2 and eps.
HM_INL void vadam_step(float *w, const float *g, float *m, float *v, const vf *k, vmask t, int full) {
	vf gi = full ? vld(g) : vldm(g, t);
	vf mi = vadd(vmul(k[0], full ? vld(m) : vldm(m, t)), vmul(k[1], gi));
	vf vi2 = vadd(vmul(k[2], full ? vld(v) : vldm(v, t)), vmul(vmul(k[3], gi), gi));
	vf d = vdiv(vmul(k[4], mi), vadd(vmul(vsqrt(vi2), k[5]), k[6]));
	if (full) {
		vst(m, mi);
		vst(v, vi2);
		vst(w, vsub(vld(w), d));
	} else {
		vstm(m, t, mi);
		vstm(v, t, vi2);
		vstm(w, t, vsub(vldm(w, t), d));
	}
}

HM_EXPORT void HM_NAME(hm_adam_step)(float *w, const float *g, float *m, float *v, int64_t n, float b1, float b2, float step, float c2, float eps) {
	const vf k[7] = {vset(b1), vset(1.0f - b1), vset(b2), vset(1.0f - b2), vset(step), vset(c2), vset(eps)};
	int64_t i = 0;
	for (; i + HM_W <= n; i += HM_W) vadam_step(w + i, g + i, m + i, v + i, k, vtail(HM_W), 1);
	if (i < n) vadam_step(w + i, g + i, m + i, v + i, k, vtail(n - i), 0);
}

HM_EXPORT void HM_NAME(hm_scale)(float *x, int64_t n, float f) {
	const vf vf_ = vset(f);
	int64_t i = 0;
	for (; i + HM_W <= n; i += HM_W) vst(x + i, vmul(vld(x + i), vf_));
	if (i < n) {
		vmask m = vtail(n - i);
		vstm(x + i, m, vmul(vldm(x + i, m), vf_));
	}
}

// hm_lanes_total returns total plus the 16 float lanes in acc, each
// converted to double, in lane order.
HM_INL double hm_lanes_total(double total, const vf *acc) {
	float lane[16];
	for (int k = 0; k < HM_NACC; k++) vstore_tmp(lane + k * HM_W, acc[k]);
	for (int k = 0; k < 16; k++) total += (double)lane[k];
	return total;
}

// hm_add_tail adds the first n lanes of v to total, in order.
HM_INL double hm_add_tail(double total, vf v, int64_t n) {
	float lane[HM_W];
	vstore_tmp(lane, v);
	for (int64_t k = 0; k < n && k < HM_W; k++) total += (double)lane[k];
	return total;
}

HM_EXPORT void HM_NAME(hm_softplus_rowsum)(const float *x, const float *bias, int64_t rows, int64_t cols, int64_t ld, float beta, double *out) {
	const vf vb = vset(beta);
	for (int64_t i = 0; i < rows; i++) {
		const float *row = x + i * ld;
		vf acc[HM_NACC];
		for (int k = 0; k < HM_NACC; k++) acc[k] = vzero();
		int64_t j = 0;
		for (; j + 16 <= cols; j += 16)
			for (int k = 0; k < HM_NACC; k++) {
				int64_t c = j + k * HM_W;
				acc[k] = vadd(acc[k], vsoftplus(vmul(vb, vadd(vld(row + c), vld(bias + c)))));
			}
		double total = 0;
		for (; j < cols; j += HM_W) {
			vmask m = vtail(cols - j);
			total = hm_add_tail(total, vsoftplus(vmul(vb, vadd(vldm(row + j, m), vldm(bias + j, m)))), cols - j);
		}
		out[i] = hm_lanes_total(total, acc);
	}
}

HM_EXPORT void HM_NAME(hm_ais_hidden)(const float *x, const float *bias, int64_t rows, int64_t cols, float bk, float bp, float *s, uint64_t key, uint64_t base, double *delta) {
	uint32_t buf[HM_BUF] __attribute__((aligned(64)));
	const vf vk = vset(bk), vp = vset(bp);
	for (int64_t i = 0; i < rows; i++) {
		const float *row = x + i * cols;
		float *srow = s + i * cols;
		uint64_t b = base + (uint64_t)(i * cols);
		vf acc[HM_NACC];
		for (int k = 0; k < HM_NACC; k++) acc[k] = vzero();
		double total = 0;
		for (int64_t j0 = 0; j0 < cols; j0 += HM_CHUNK) {
			int64_t n = cols - j0 < HM_CHUNK ? cols - j0 : HM_CHUNK;
			const uint32_t *u = vfill(key, b + (uint64_t)j0, n, buf);
			int64_t j = 0;
			// HM_CHUNK is a multiple of 16, so whole groups of 16 in a
			// chunk are whole groups of the row.
			for (; j + 16 <= n; j += 16)
				for (int k = 0; k < HM_NACC; k++) {
					int64_t c = j0 + j + k * HM_W;
					vf t = vadd(vld(row + c), vld(bias + c));
					vf z = vmul(vk, t);
					acc[k] = vadd(acc[k], vsub(vsoftplus(z), vsoftplus(vmul(vp, t))));
					vst(srow + c, vlt01(vunif(vldi(u + j + k * HM_W)), vsigmoid(z)));
				}
			for (; j < n; j += HM_W) {
				int64_t c = j0 + j;
				vmask m = vtail(n - j);
				vf t = vadd(vldm(row + c, m), vldm(bias + c, m));
				vf z = vmul(vk, t);
				total = hm_add_tail(total, vsub(vsoftplus(z), vsoftplus(vmul(vp, t))), n - j);
				vstm(srow + c, m, vlt01(vunif(vldi(u + j)), vsigmoid(z)));
			}
		}
		delta[i] += hm_lanes_total(total, acc);
	}
}

HM_EXPORT void HM_NAME(hm_flip_rowsum)(const float *w, const float *wneg, const float *v, int64_t rows, int64_t cols, const float *x, double *out) {
	for (int64_t i = 0; i < rows; i++) {
		const float *row = (v[i] > 0.5f ? wneg : w) + i * cols;
		vf acc[HM_NACC];
		for (int k = 0; k < HM_NACC; k++) acc[k] = vzero();
		int64_t j = 0;
		for (; j + 16 <= cols; j += 16)
			for (int k = 0; k < HM_NACC; k++) {
				int64_t c = j + k * HM_W;
				acc[k] = vadd(acc[k], vsoftplus(vadd(vld(row + c), vld(x + c))));
			}
		double total = 0;
		for (; j < cols; j += HM_W) {
			vmask m = vtail(cols - j);
			total = hm_add_tail(total, vsoftplus(vadd(vldm(row + j, m), vldm(x + j, m))), cols - j);
		}
		out[i] = hm_lanes_total(total, acc);
	}
}

// ---- Real-valued units (real.go, kernels.c) ----

// vlog_uniform is hm_log_uniform (logUniform) on each lane.
HM_INL vf vlog_uniform(vi w) {
	vi bits = vbits(vcvti(iadd32(isrl32(w, 8), iset(1))));
	vi t = isub32(bits, iset(HM_SQRT_HALF_BITS));
	vf e = vcvti(isub32(isrl32(t, 23), iset(24)));
	vf x = vsub(vfrombits(isub32(bits, iand(t, iset(0xFF800000u)))), vset(1.0f));
	vf z = vmul(x, x);
	vf y = vset(HM_LOG_L0);
	y = vadd(vmul(y, x), vset(HM_LOG_L1));
	y = vadd(vmul(y, x), vset(HM_LOG_L2));
	y = vadd(vmul(y, x), vset(HM_LOG_L3));
	y = vadd(vmul(y, x), vset(HM_LOG_L4));
	y = vadd(vmul(y, x), vset(HM_LOG_L5));
	y = vadd(vmul(y, x), vset(HM_LOG_L6));
	y = vadd(vmul(y, x), vset(HM_LOG_L7));
	y = vadd(vmul(y, x), vset(HM_LOG_L8));
	y = vmul(vmul(y, x), z);
	y = vadd(y, vmul(e, vset(HM_LN2_LO)));
	y = vadd(y, vmul(z, vset(-0.5f)));
	x = vadd(x, y);
	return vadd(x, vmul(e, vset(HM_LN2_HI)));
}

// vnormal_pair is hm_normal_pair on each lane: the deviates r cos and
// r sin from the numbers w0 (radius) and w1 (angle).
HM_INL void vnormal_pair(vi w0, vi w1, vf *zc, vf *zs) {
	vf r = vsqrt(vmul(vlog_uniform(w0), vset(-2.0f)));
	vi t = isrl32(w1, 8);
	vi q = isrl32(iadd32(t, iset(1u << 21)), 22);
	vf a = vmul(vcvti(isub32(t, isll32(q, 22))), vset(HM_TURN_STEP));
	vf z = vmul(a, a);
	vf s = vset(HM_SIN_S0);
	s = vadd(vmul(s, z), vset(HM_SIN_S1));
	s = vadd(vmul(s, z), vset(HM_SIN_S2));
	s = vadd(vmul(vmul(s, z), a), a);
	vf c = vset(HM_COS_C0);
	c = vadd(vmul(c, z), vset(HM_COS_C1));
	c = vadd(vmul(c, z), vset(HM_COS_C2));
	c = vmul(vmul(c, z), z);
	c = vadd(c, vmul(z, vset(-0.5f)));
	c = vadd(c, vset(1.0f));
	vf sq = vselodd(q, s, c), cq = vselodd(q, c, s);
	sq = vfrombits(ixor(vbits(sq), isll32(iand(q, iset(2)), 30)));
	cq = vfrombits(ixor(vbits(cq), isll32(iand(iadd32(q, iset(1)), iset(2)), 30)));
	*zc = vmul(r, cq);
	*zs = vmul(r, sq);
}

// vnormals writes the normal deviates of elements c0 ... c0+n-1 (n <=
// HM_NCHUNK) of the block at base to z (HM_ZBUF floats) and returns a
// pointer to element c0's. It computes whole vectors of pairs: the last
// may read words of buf past those vfill computed for it (but inside buf),
// and their deviates are never used.
HM_INL const float *vnormals(uint64_t key, uint64_t base, uint64_t c0, int64_t n, uint32_t *buf, float *z) {
	uint64_t e0 = c0 & ~(uint64_t)1;
	int64_t m = (int64_t)(c0 - e0) + n;
	m += m & 1;
	const uint32_t *w = vfill(key, base + e0, m, buf);
	for (int64_t k = 0; k < m; k += 2 * HM_W) {
		vi a = vldi(w + k), b = vldi(w + k + HM_W);
		vf zc, zs;
		vnormal_pair(ievens(a, b), iodds(a, b), &zc, &zs);
		vst2(z + k, zc, zs);
	}
	return z + (c0 - e0);
}

HM_EXPORT void HM_NAME(hm_normals)(uint64_t key, uint64_t base, uint64_t c0, int64_t n, float *out) {
	uint32_t buf[HM_BUF] __attribute__((aligned(64)));
	float zb[HM_ZBUF] __attribute__((aligned(64)));
	for (int64_t lo = 0; lo < n; lo += HM_NCHUNK) {
		int64_t m = n - lo < HM_NCHUNK ? n - lo : HM_NCHUNK;
		memcpy(out + lo, vnormals(key, base, c0 + (uint64_t)lo, m, buf, zb), (size_t)m * 4);
	}
}

// The sampling kernels draw HM_NCHUNK deviates at a time for consecutive
// elements, and go through them in segments that end where rows do (j is
// the column of the segment's first element).

HM_EXPORT void HM_NAME(hm_gaussian_sample)(float *s, const float *mean, const float *std, int64_t rows, int64_t cols, uint64_t key, uint64_t base, uint64_t c0) {
	uint32_t buf[HM_BUF] __attribute__((aligned(64)));
	float zb[HM_ZBUF] __attribute__((aligned(64)));
	const int64_t n = rows * cols;
	int64_t j = 0;
	for (int64_t lo = 0; lo < n; lo += HM_NCHUNK) {
		int64_t m = n - lo < HM_NCHUNK ? n - lo : HM_NCHUNK;
		const float *z = vnormals(key, base, c0 + (uint64_t)lo, m, buf, zb);
		for (int64_t k = 0; k < m;) {
			int64_t len = m - k < cols - j ? m - k : cols - j;
			float *sp = s + lo + k;
			const float *mp = mean + lo + k, *dp = std + j, *zp = z + k;
			int64_t i = 0;
			for (; i + HM_W <= len; i += HM_W) vst(sp + i, vadd(vld(mp + i), vmul(vld(dp + i), vld(zp + i))));
			if (i < len) {
				vmask t = vtail(len - i);
				vstm(sp + i, t, vadd(vldm(mp + i, t), vmul(vldm(dp + i, t), vldm(zp + i, t))));
			}
			k += len;
			j += len;
			if (j == cols) j = 0;
		}
	}
}

// vrelu is x < 0 ? 0 : x (NaN stays NaN, -0 stays -0).
HM_INL vf vrelu(vf x) { return vmax(vzero(), x); }

// vpositive is hm_positive's mask: all ones in the lanes where x > 0
// (sign clear, not a zero; NaNs included).
HM_INL vi vpositive(vf x) {
	vi b = vbits(x);
	vi notb = ixor(b, iset(0xFFFFFFFFu));
	vi mag = iand(b, iset(0x7FFFFFFFu));
	return iand(isra32(notb, 31), isra32(isub32(iset(0), mag), 31));
}

// act1 is one vector of hm_act for kind (a constant after inlining).
HM_INL vf act1(const int kind, vf va, vf x, vf y, vf g) {
	switch (kind) {
	case HM_ACT_SIGMOID: return vsigmoid(x);
	case HM_ACT_RELU: return vkeep_nle0(x);
	case HM_ACT_LEAKY: return vsel_gt0(x, x, vmul(va, x));
	case HM_ACT_SIGMOID_GRAD: return vmul(vmul(g, y), vsub(vset(1.0f), y));
	case HM_ACT_TANH_GRAD: return vmul(g, vsub(vset(1.0f), vmul(y, y)));
	case HM_ACT_RELU_GRAD: return vfrombits(iand(vbits(g), vpositive(x)));
	default: return vmul(g, vbitsel(vpositive(x), vset(1.0f), va)); // HM_ACT_LEAKY_GRAD
	}
}

// act_loop is hm_act for one kind: x is read by the forward kinds and
// the ReLU gradients, y and dy by the gradients.
HM_INL void act_loop(const int kind, float alpha, const float *x, const float *y, const float *dy, float *out, int64_t n) {
	const int needx = kind == HM_ACT_SIGMOID || kind == HM_ACT_RELU || kind == HM_ACT_LEAKY || kind == HM_ACT_RELU_GRAD ||
	                  kind == HM_ACT_LEAKY_GRAD;
	const int needy = kind == HM_ACT_SIGMOID_GRAD || kind == HM_ACT_TANH_GRAD;
	const int needg = kind >= HM_ACT_SIGMOID_GRAD;
	const vf va = vset(alpha);
	int64_t i = 0;
	for (; i + HM_W <= n; i += HM_W) {
		vf xv = needx ? vld(x + i) : vzero(), yv = needy ? vld(y + i) : vzero(), gv = needg ? vld(dy + i) : vzero();
		vst(out + i, act1(kind, va, xv, yv, gv));
	}
	if (i < n) {
		vmask m = vtail(n - i);
		vf xv = needx ? vldm(x + i, m) : vzero(), yv = needy ? vldm(y + i, m) : vzero(), gv = needg ? vldm(dy + i, m) : vzero();
		vstm(out + i, m, act1(kind, va, xv, yv, gv));
	}
}

HM_EXPORT void HM_NAME(hm_act)(int kind, float alpha, const float *x, const float *y, const float *dy, float *out, int64_t n) {
	switch (kind) {
	case HM_ACT_SIGMOID: act_loop(HM_ACT_SIGMOID, alpha, x, y, dy, out, n); break;
	case HM_ACT_RELU: act_loop(HM_ACT_RELU, alpha, x, y, dy, out, n); break;
	case HM_ACT_LEAKY: act_loop(HM_ACT_LEAKY, alpha, x, y, dy, out, n); break;
	case HM_ACT_SIGMOID_GRAD: act_loop(HM_ACT_SIGMOID_GRAD, alpha, x, y, dy, out, n); break;
	case HM_ACT_TANH_GRAD: act_loop(HM_ACT_TANH_GRAD, alpha, x, y, dy, out, n); break;
	case HM_ACT_RELU_GRAD: act_loop(HM_ACT_RELU_GRAD, alpha, x, y, dy, out, n); break;
	case HM_ACT_LEAKY_GRAD: act_loop(HM_ACT_LEAKY_GRAD, alpha, x, y, dy, out, n); break;
	}
}

HM_EXPORT void HM_NAME(hm_relu_bias)(float *x, const float *bias, int64_t rows, int64_t cols) {
	for (int64_t i = 0; i < rows; i++) {
		float *row = x + i * cols;
		int64_t j = 0;
		for (; j + HM_W <= cols; j += HM_W) vst(row + j, vrelu(vadd(vld(row + j), vld(bias + j))));
		if (j < cols) {
			vmask m = vtail(cols - j);
			vstm(row + j, m, vrelu(vadd(vldm(row + j, m), vldm(bias + j, m))));
		}
	}
}

// vrelu_sample stores relu(x + sqrt(sigmoid(x)) z) to s and relu(x) to p,
// x = p + b, in that order (s may be p).
HM_INL void vrelu_sample(float *p, float *s, vf b, vf z, vmask m, int full) {
	vf x = vadd(full ? vld(p) : vldm(p, m), b);
	vf y = vrelu(vadd(x, vmul(vsqrt(vsigmoid(x)), z)));
	x = vrelu(x);
	if (full) {
		vst(s, y);
		vst(p, x);
	} else {
		vstm(s, m, y);
		vstm(p, m, x);
	}
}

HM_EXPORT void HM_NAME(hm_relu_bias_sample)(float *p, float *s, const float *bias, int64_t rows, int64_t cols, uint64_t key, uint64_t base, uint64_t c0) {
	uint32_t buf[HM_BUF] __attribute__((aligned(64)));
	float zb[HM_ZBUF] __attribute__((aligned(64)));
	const int64_t n = rows * cols;
	int64_t j = 0;
	for (int64_t lo = 0; lo < n; lo += HM_NCHUNK) {
		int64_t m = n - lo < HM_NCHUNK ? n - lo : HM_NCHUNK;
		const float *z = vnormals(key, base, c0 + (uint64_t)lo, m, buf, zb);
		for (int64_t k = 0; k < m;) {
			int64_t len = m - k < cols - j ? m - k : cols - j;
			float *pp = p + lo + k, *sp = s + lo + k;
			const float *bp = bias + j, *zp = z + k;
			int64_t i = 0;
			for (; i + HM_W <= len; i += HM_W) vrelu_sample(pp + i, sp + i, vld(bp + i), vld(zp + i), vtail(HM_W), 1);
			if (i < len) {
				vmask t = vtail(len - i);
				vrelu_sample(pp + i, sp + i, vldm(bp + i, t), vldm(zp + i, t), t, 0);
			}
			k += len;
			j += len;
			if (j == cols) j = 0;
		}
	}
}

HM_EXPORT void HM_NAME(hm_add_row)(float *x, const float *v, int64_t rows, int64_t cols) {
	for (int64_t i = 0; i < rows; i++) {
		float *row = x + i * cols;
		int64_t j = 0;
		for (; j + 4 * HM_W <= cols; j += 4 * HM_W)
			for (int k = 0; k < 4; k++) vst(row + j + k * HM_W, vadd(vld(row + j + k * HM_W), vld(v + j + k * HM_W)));
		for (; j + HM_W <= cols; j += HM_W) vst(row + j, vadd(vld(row + j), vld(v + j)));
		if (j < cols) {
			vmask m = vtail(cols - j);
			vstm(row + j, m, vadd(vldm(row + j, m), vldm(v + j, m)));
		}
	}
}

// HM_SPV vectors (64 columns) make a block of the sparse products.
#define HM_SPV (64 / HM_W)

// The rows of b are taken in chunks of HM_SPK (a chunk of a block, 16 KB,
// stays in the level-1 cache) by groups of up to HM_SPG rows of the sparse
// matrix: each row of the group adds its entries in the chunk to its
// running sums, kept in out when beta is 0 and in part otherwise. The sums
// still add each row's entries in index order, so the result is the same
// as without chunks. With b in the level-2 cache only (an RBM's 784 x 500
// weights) and rows dense enough, chunks make the product 1.1-1.3 times
// as fast (BenchmarkSparseCD).
#define HM_SPK 64
#define HM_SPG 128

// spmm_ld and spmm_st load and store the last vector of a block: the
// lanes of last when tail is set (a constant after inlining), else whole,
// so that whole blocks need no masked loads and stores.
HM_INL vf spmm_ld(const float *p, vmask last, const int tail) { return tail ? vldm(p, last) : vld(p); }
HM_INL void spmm_st(float *p, vmask last, const int tail, vf v) {
	if (tail)
		vstm(p, last, v);
	else
		vst(p, v);
}

// spmm_entry adds entry q (value val[q], or 1 when val is NULL: the same
// sums without the products) times the block's nv vectors of b to acc.
HM_INL void spmm_entry(const int32_t *idx, const float *val, int32_t q, const float *b, int64_t ldb, vf *acc, const int nv,
                       vmask last, const int tail) {
	const float *brow = b + (int64_t)idx[q] * ldb;
	if (val) {
		const vf a = vset(val[q]);
#pragma GCC unroll 8
		for (int k = 0; k < nv - 1; k++) acc[k] = vadd(acc[k], vmul(a, vld(brow + k * HM_W)));
		acc[nv - 1] = vadd(acc[nv - 1], vmul(a, spmm_ld(brow + (nv - 1) * HM_W, last, tail)));
	} else {
#pragma GCC unroll 8
		for (int k = 0; k < nv - 1; k++) acc[k] = vadd(acc[k], vld(brow + k * HM_W));
		acc[nv - 1] = vadd(acc[nv - 1], spmm_ld(brow + (nv - 1) * HM_W, last, tail));
	}
}

// spmm_chunk adds the entries of a row from *p, below end and in columns
// below k1, to acc, and leaves *p at the first entry not added.
HM_INL void spmm_chunk(const int32_t *idx, const float *val, int32_t *p, int32_t end, int32_t k1, const float *b,
                       int64_t ldb, vf *acc, const int nv, vmask last, const int tail) {
	int32_t q = *p;
	for (; q < end && idx[q] < k1; q++) spmm_entry(idx, val, q, b, ldb, acc, nv, last, tail);
	*p = q;
}

// spmm_row adds all the entries of a row, p to end, to acc.
HM_INL void spmm_row(const int32_t *idx, const float *val, int32_t p, int32_t end, const float *b, int64_t ldb, vf *acc,
                     const int nv, vmask last, const int tail) {
	for (; p < end; p++) spmm_entry(idx, val, p, b, ldb, acc, nv, last, tail);
}

// spmm_add is spmm_row (chunks == 1) or spmm_chunk, with the values'
// presence made a constant.
HM_INL void spmm_add(const int32_t *idx, const float *val, int32_t *p, int32_t end, int32_t chunks, int32_t k1,
                     const float *b, int64_t ldb, vf *acc, const int nv, vmask last, const int tail) {
	if (chunks == 1) {
		if (val)
			spmm_row(idx, val, *p, end, b, ldb, acc, nv, last, tail);
		else
			spmm_row(idx, NULL, *p, end, b, ldb, acc, nv, last, tail);
	} else if (val) {
		spmm_chunk(idx, val, p, end, k1, b, ldb, acc, nv, last, tail);
	} else {
		spmm_chunk(idx, NULL, p, end, k1, b, ldb, acc, nv, last, tail);
	}
}

// spmm_block is hm_spmm over nv vectors of columns (nv <= 8, a constant
// after inlining); the last vector's lanes are those of the mask last.
HM_INL void spmm_block(const int32_t *ptr, const int32_t *idx, const float *val, int64_t rows, const float *b, int64_t ldb,
                       float alpha, float beta, float *out, int64_t ldo, const int nv, vmask last, const int tail) {
	const vf va = vset(alpha), vb = vset(beta);
	int32_t cur[HM_SPG];
	float part[HM_SPG * 64];
	for (int64_t g = 0; g < rows; g += HM_SPG) {
		const int64_t gn = rows - g < HM_SPG ? rows - g : HM_SPG;
		int32_t kmax = 0;
		for (int64_t r = 0; r < gn; r++) {
			cur[r] = ptr[g + r];
			if (ptr[g + r + 1] > ptr[g + r] && idx[ptr[g + r + 1] - 1] >= kmax) kmax = idx[ptr[g + r + 1] - 1] + 1;
		}
		// Chunks pay when the block of b outgrows the level-1 cache (32 KB)
		// and a row has about 8 entries or more in each.
		const int64_t nnz = ptr[g + gn] - ptr[g];
		const int32_t chunks = kmax > 2 * HM_SPK && nnz * HM_SPK >= 8 * gn * kmax ? (kmax + HM_SPK - 1) / HM_SPK : 1;
		// Running sums of row r: sum + r * ss.
		float *sum = beta == 0 ? out + g * ldo : part;
		const int64_t ss = beta == 0 ? ldo : 64;
		for (int32_t c = 0; c < chunks; c++) {
			const int32_t k1 = c == chunks - 1 ? kmax : (c + 1) * HM_SPK;
			for (int64_t r = 0; r < gn; r++) {
				vf acc[8];
				float *s = sum + r * ss;
#pragma GCC unroll 8
				for (int k = 0; k < nv - 1; k++) acc[k] = c == 0 ? vzero() : vld(s + k * HM_W);
				acc[nv - 1] = c == 0 ? vzero() : spmm_ld(s + (nv - 1) * HM_W, last, tail);
				spmm_add(idx, val, &cur[r], ptr[g + r + 1], chunks, k1, b, ldb, acc, nv, last, tail);
				if (c < chunks - 1) {
#pragma GCC unroll 8
					for (int k = 0; k < nv - 1; k++) vst(s + k * HM_W, acc[k]);
					spmm_st(s + (nv - 1) * HM_W, last, tail, acc[nv - 1]);
					continue;
				}
				float *o = out + (g + r) * ldo;
#pragma GCC unroll 8
				for (int k = 0; k < nv - 1; k++) {
					vf x = vmul(va, acc[k]);
					if (beta != 0) x = vadd(vmul(vb, vld(o + k * HM_W)), x);
					vst(o + k * HM_W, x);
				}
				vf x = vmul(va, acc[nv - 1]);
				if (beta != 0) x = vadd(vmul(vb, spmm_ld(o + (nv - 1) * HM_W, last, tail)), x);
				spmm_st(o + (nv - 1) * HM_W, last, tail, x);
			}
		}
	}
}

HM_EXPORT void HM_NAME(hm_spmm)(const int32_t *ptr, const int32_t *idx, const float *val, int64_t rows, const float *b,
                                int64_t ldb, int64_t cols, float alpha, float beta, float *out, int64_t ldo) {
	const vmask all = vtail(HM_W);
	int64_t j = 0;
	for (; j + HM_SPV * HM_W <= cols; j += HM_SPV * HM_W)
		spmm_block(ptr, idx, val, rows, b + j, ldb, alpha, beta, out + j, ldo, HM_SPV, all, 0);
	if (j == cols) return;
	const int64_t rest = cols - j;
	const vmask m = vtail(rest - (rest - 1) / HM_W * HM_W);
	switch ((rest + HM_W - 1) / HM_W) {
	case 1: spmm_block(ptr, idx, val, rows, b + j, ldb, alpha, beta, out + j, ldo, 1, m, 1); break;
	case 2: spmm_block(ptr, idx, val, rows, b + j, ldb, alpha, beta, out + j, ldo, 2, m, 1); break;
	case 3: spmm_block(ptr, idx, val, rows, b + j, ldb, alpha, beta, out + j, ldo, 3, m, 1); break;
	case 4: spmm_block(ptr, idx, val, rows, b + j, ldb, alpha, beta, out + j, ldo, 4, m, 1); break;
	case 5: spmm_block(ptr, idx, val, rows, b + j, ldb, alpha, beta, out + j, ldo, 5, m, 1); break;
	case 6: spmm_block(ptr, idx, val, rows, b + j, ldb, alpha, beta, out + j, ldo, 6, m, 1); break;
	case 7: spmm_block(ptr, idx, val, rows, b + j, ldb, alpha, beta, out + j, ldo, 7, m, 1); break;
	default: spmm_block(ptr, idx, val, rows, b + j, ldb, alpha, beta, out + j, ldo, 8, m, 1); break;
	}
}

// compress8 stores the entries among 8 values x in columns c ... c+7 (the
// lanes of nz) at idx+n and val+n with full-width stores, adds them to
// count, and returns their number.
#if HM_ISA == 2
HM_INL int compress8(__m256 x, __m256 nz, int64_t c, int32_t *idx, float *val, __m256i *cnt) {
	const int m = _mm256_movemask_ps(nz);
	const __m256i perm = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)hm_lanes8[m]));
	const __m256i col = _mm256_add_epi32(_mm256_set1_epi32((int)c), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
	_mm256_storeu_ps(val, _mm256_permutevar8x32_ps(x, perm));
	_mm256_storeu_si256((__m256i *)idx, _mm256_permutevar8x32_epi32(col, perm));
	*cnt = _mm256_sub_epi32(*cnt, _mm256_castps_si256(nz));
	return __builtin_popcount((unsigned)m);
}
#endif

// hm_compress_rows is hm_sparse_from's by-row part (see the scalar
// version); a lane is an entry when it is not equal to 0 (NaN is). Its
// stores are full vectors (idx and val have room past the last entry):
// compressing straight to memory is slow on some CPUs.
HM_EXPORT int64_t HM_NAME(hm_compress_rows)(const float *d, int64_t rows, int64_t cols, int32_t *ptr, int32_t *idx, float *val,
                                            int32_t *count) {
	int64_t n = 0;
	for (int64_t r = 0; r < rows; r++) {
		ptr[r] = (int32_t)n;
		const float *row = d + r * cols;
		for (int64_t c = 0; c < cols; c += HM_W) {
#if HM_ISA == 3
			const int64_t w = cols - c < HM_W ? cols - c : HM_W;
			const __mmask16 lanes = (__mmask16)(w >= 16 ? 0xFFFF : (1u << w) - 1);
			const __m512 x = _mm512_maskz_loadu_ps(lanes, row + c);
			const __mmask16 m = _mm512_mask_cmp_ps_mask(lanes, x, _mm512_setzero_ps(), _CMP_NEQ_UQ);
			_mm512_storeu_ps(val + n, _mm512_maskz_compress_ps(m, x));
			const __m512i col = _mm512_add_epi32(_mm512_set1_epi32((int)c), _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
			_mm512_storeu_si512((void *)(idx + n), _mm512_maskz_compress_epi32(m, col));
			__m512i cnt = _mm512_maskz_loadu_epi32(lanes, count + c);
			cnt = _mm512_mask_add_epi32(cnt, m, cnt, _mm512_set1_epi32(1));
			_mm512_mask_storeu_epi32(count + c, lanes, cnt);
			n += __builtin_popcount((unsigned)m);
#else
			const __m256 zero = _mm256_setzero_ps();
			if (c + 8 <= cols) {
				const __m256 x = _mm256_loadu_ps(row + c);
				__m256i cnt = _mm256_loadu_si256((const __m256i *)(count + c));
				n += compress8(x, _mm256_cmp_ps(x, zero, _CMP_NEQ_UQ), c, idx + n, val + n, &cnt);
				_mm256_storeu_si256((__m256i *)(count + c), cnt);
			} else {
				const __m256i lanes = vtail(cols - c);
				const __m256 x = _mm256_maskload_ps(row + c, lanes);
				const __m256 nz = _mm256_and_ps(_mm256_cmp_ps(x, zero, _CMP_NEQ_UQ), _mm256_castsi256_ps(lanes));
				__m256i cnt = _mm256_maskload_epi32(count + c, lanes);
				n += compress8(x, nz, c, idx + n, val + n, &cnt);
				vstmi(count + c, lanes, cnt);
			}
#endif
		}
	}
	ptr[rows] = (int32_t)n;
	return n;
}

// ---- Winograd tiles (tiles.go) ----

HM_INL vf rem_load(const float *p, int64_t rem) { return rem >= HM_W ? vld(p) : vldm(p, vtail(rem)); }

HM_INL void tile_store(float *p, vf v, int64_t rem) {
	if (rem >= HM_W)
		vst(p, v);
	else
		vstm(p, vtail(rem), v);
}

// tile_acc is, for the HM_W channels at s + c (rem of them valid), the sum
// over the nonzero entries j of row r, in order, of r->val[j] * s[r->idx[j]
// * ss + c], from zero: the scalar kernels' sums.
HM_INL vf tile_acc(const float *s, int64_t ss, const hm_tile_row *r, int64_t c, int64_t rem) {
	vf acc = vzero();
	if (rem >= HM_W) {
		for (int j = 0; j < r->n; j++) acc = vadd(acc, vmul(vset(r->val[j]), vld(s + r->idx[j] * ss + c)));
	} else {
		const vmask m = vtail(rem);
		for (int j = 0; j < r->n; j++) acc = vadd(acc, vmul(vset(r->val[j]), vldm(s + r->idx[j] * ss + c, m)));
	}
	return acc;
}

// tile_mul sets z (p x q blocks of cb values) to the rows' matrix (p x q)
// times s, whose value (a, b) starts at s + a*sa + b*sb.
HM_INL void tile_mul(float *z, const float *s, int64_t sa, int64_t sb, const hm_tile_row *rows, int64_t p, int64_t q, int64_t cb) {
	for (int64_t k = 0; k < p; k++)
		for (int64_t b = 0; b < q; b++)
			for (int64_t c = 0; c < cb; c += HM_W) tile_store(z + (k * q + b) * cb + c, tile_acc(s + b * sb, sa, rows + k, c, cb - c), cb - c);
}

// tile_mul6 is tile_mul for q = 6 with all six columns of a row of z
// summed at once (six independent sums, so that they overlap).
HM_INL void tile_mul6(float *z, const float *s, int64_t sa, int64_t sb, const hm_tile_row *rows, int64_t p, int64_t cb) {
	for (int64_t k = 0; k < p; k++) {
		const hm_tile_row *r = rows + k;
		for (int64_t c = 0; c < cb; c += HM_W) {
			const int64_t rem = cb - c;
			const vmask mk = vtail(rem);
			vf acc[6];
			for (int b = 0; b < 6; b++) acc[b] = vzero();
			for (int j = 0; j < r->n; j++) {
				const vf f = vset(r->val[j]);
				const float *row = s + r->idx[j] * sa + c;
				for (int b = 0; b < 6; b++) acc[b] = vadd(acc[b], vmul(f, rem >= HM_W ? vld(row + b * sb) : vldm(row + b * sb, mk)));
			}
			for (int b = 0; b < 6; b++) tile_store(z + (k * 6 + b) * cb + c, acc[b], rem);
		}
	}
}

// tile_out6 sets out[m] (m < p, each cb values; NULL ones are skipped) to
// the sum over the nonzero entries j of rows[m], in order, of val[j] *
// z[idx[j]] (six blocks of cb values), from zero, plus bias when not NULL:
// row k of tile_mul's z times the transform's transpose, for q = 6.
HM_INL void tile_out6(float *const *out, const float *z, const hm_tile_row *rows, int64_t p, int64_t cb, const float *bias) {
	for (int64_t c = 0; c < cb; c += HM_W) {
		const int64_t rem = cb - c;
		vf zv[6];
		for (int b = 0; b < 6; b++) zv[b] = rem_load(z + b * cb + c, rem);
		const vf bv = bias ? rem_load(bias + c, rem) : vzero();
		for (int64_t m = 0; m < p; m++) {
			if (!out[m]) continue;
			const hm_tile_row *r = rows + m;
			vf acc = vzero();
			for (int j = 0; j < r->n; j++) acc = vadd(acc, vmul(vset(r->val[j]), zv[r->idx[j]]));
			if (bias) acc = vadd(acc, bv);
			tile_store(out[m] + c, acc, rem);
		}
	}
}

// HM_TGROUP tiles of a row share one strip of first-stage sums.
#define HM_TGROUP 4

// hm_tiles_fwd computes the first stage (the sums down the columns, L P)
// once per column of a strip of HM_TGROUP neighbouring tiles, which
// overlap when the step is less than the tile: each column's sums are the
// ones every tile holding it would compute, in the same order.
HM_EXPORT void HM_NAME(hm_tiles_fwd)(const float *img, const hm_tiling *t, const float *l, int64_t p, int64_t q, float *dst, int64_t ld) {
	float zs[HM_MAXTILE * ((HM_TGROUP - 1) * HM_MAXTILE + HM_MAXTILE) * HM_TBLOCK];
	hm_tile_row rows[HM_MAXTILE];
	hm_tile_rows(l, p, q, rows);
	const int64_t ch = t->ch, step = t->step < q ? t->step : q;
	for (int64_t ty = 0; ty < t->tiles_y; ty++) {
		const int64_t y0 = ty * t->step - t->pad;
		for (int64_t tx0 = 0; tx0 < t->tiles_x; tx0 += HM_TGROUP) {
			const int64_t ntx = t->tiles_x - tx0 < HM_TGROUP ? t->tiles_x - tx0 : HM_TGROUP;
			for (int64_t c0 = 0; c0 < ch; c0 += HM_TBLOCK) {
				const int64_t cb = ch - c0 < HM_TBLOCK ? ch - c0 : HM_TBLOCK;
				// The strip's columns: those of each tile, which starts
				// t->step after the last (tiles further apart than q
				// leave columns out, which nothing reads).
				for (int64_t i = 0; i < ntx; i++) {
					const int64_t first = i == 0 ? 0 : q - step; // columns shared with the previous tile
					for (int64_t b = first; b < q; b++) {
						const int64_t xs = i * step + b, x = (tx0 + i) * t->step - t->pad + b;
						const int64_t ws = (ntx - 1) * step + q;
						for (int64_t c = 0; c < cb; c += HM_W) {
							const int64_t rem = cb - c;
							vf pv[HM_MAXTILE];
							for (int64_t a = 0; a < q; a++) {
								const int64_t y = y0 + a;
								pv[a] = y < 0 || y >= t->h || x < 0 || x >= t->w ? vzero() : rem_load(img + (y * t->w + x) * ch + c0 + c, rem);
							}
							for (int64_t k = 0; k < p; k++) {
								const hm_tile_row *r = rows + k;
								vf acc = vzero();
								for (int j = 0; j < r->n; j++) acc = vadd(acc, vmul(vset(r->val[j]), pv[r->idx[j]]));
								tile_store(zs + (k * ws + xs) * cb + c, acc, rem);
							}
						}
					}
				}
				const int64_t ws = (ntx - 1) * step + q;
				for (int64_t i = 0; i < ntx; i++) {
					const int64_t n = ty * t->tiles_x + tx0 + i;
					for (int64_t k = 0; k < p; k++) {
						const float *z = zs + (k * ws + i * step) * cb;
						if (q == 6) {
							float *outs[HM_MAXTILE];
							for (int64_t m = 0; m < p; m++) outs[m] = dst + ((k * p + m) * ld + n) * ch + c0;
							tile_out6(outs, z, rows, p, cb, NULL);
							continue;
						}
						for (int64_t m = 0; m < p; m++) {
							float *out = dst + ((k * p + m) * ld + n) * ch + c0;
							for (int64_t c = 0; c < cb; c += HM_W) tile_store(out + c, tile_acc(z, cb, rows + m, c, cb - c), cb - c);
						}
					}
				}
			}
		}
	}
}

HM_EXPORT void HM_NAME(hm_tiles_back)(const float *src, int64_t ld, const float *l, int64_t p, int64_t q, float *img, const hm_tiling *t,
                                      const float *bias) {
	float zb[HM_MAXTILE * HM_MAXTILE * HM_TBLOCK];
	hm_tile_row rows[HM_MAXTILE];
	hm_tile_rows(l, p, q, rows);
	const int64_t ch = t->ch;
	for (int64_t ty = 0; ty < t->tiles_y; ty++)
		for (int64_t tx = 0; tx < t->tiles_x; tx++) {
			const int64_t n = ty * t->tiles_x + tx, y0 = ty * t->step - t->pad, x0 = tx * t->step - t->pad;
			for (int64_t c0 = 0; c0 < ch; c0 += HM_TBLOCK) {
				const int64_t cb = ch - c0 < HM_TBLOCK ? ch - c0 : HM_TBLOCK;
				// Z = L S, reading S where it lies: value (a, b) at src + (a*q+b)*ld*ch.
				if (q == 6)
					tile_mul6(zb, src + n * ch + c0, q * ld * ch, ld * ch, rows, p, cb);
				else
					tile_mul(zb, src + n * ch + c0, q * ld * ch, ld * ch, rows, p, q, cb);
				for (int64_t k = 0; k < p; k++) {
					if (q == 6) {
						float *outs[HM_MAXTILE];
						for (int64_t m = 0; m < p; m++) {
							const int64_t y = y0 + k, x = x0 + m;
							outs[m] = y < 0 || y >= t->h || x < 0 || x >= t->w ? NULL : img + (y * t->w + x) * ch + c0;
						}
						tile_out6(outs, zb + k * q * cb, rows, p, cb, bias ? bias + c0 : NULL);
						continue;
					}
					for (int64_t m = 0; m < p; m++) {
						const int64_t y = y0 + k, x = x0 + m;
						if (y < 0 || y >= t->h || x < 0 || x >= t->w) continue;
						float *out = img + (y * t->w + x) * ch + c0;
						for (int64_t c = 0; c < cb; c += HM_W) {
							vf v = tile_acc(zb + k * q * cb, cb, rows + m, c, cb - c);
							if (bias) v = vadd(v, rem_load(bias + c0 + c, cb - c));
							tile_store(out + c, v, cb - c);
						}
					}
				}
			}
		}
}

// ---- Transpose ----

// transpose8 transposes the 8 x 8 block at src (rows ls apart) into dst
// (rows ld apart), with 256-bit shuffles (AVX2, and AVX-512F has them).
HM_INL void transpose8(float *dst, int64_t ld, const float *src, int64_t ls) {
	__m256 r[8], t[8];
	for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(src + i * ls);
	for (int i = 0; i < 8; i += 2) {
		t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
		t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
	}
	for (int i = 0; i < 8; i += 4) {
		r[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
		r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
		r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
		r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
	}
	for (int i = 0; i < 4; i++) {
		_mm256_storeu_ps(dst + i * ld, _mm256_permute2f128_ps(r[i], r[i + 4], 0x20));
		_mm256_storeu_ps(dst + (i + 4) * ld, _mm256_permute2f128_ps(r[i], r[i + 4], 0x31));
	}
}

HM_EXPORT void HM_NAME(hm_transpose)(float *dst, int64_t ldd, const float *src, int64_t lds, int64_t rows, int64_t cols) {
	const int64_t r8 = rows & ~(int64_t)7, c8 = cols & ~(int64_t)7;
	for (int64_t i = 0; i < r8; i += 8)
		for (int64_t j = 0; j < c8; j += 8) transpose8(dst + j * ldd + i, ldd, src + i * lds + j, lds);
	// The edges: the last cols % 8 columns of every row, then the last
	// rows % 8 rows.
	for (int64_t i = 0; i < r8; i++)
		for (int64_t j = c8; j < cols; j++) dst[j * ldd + i] = src[i * lds + j];
	for (int64_t i = r8; i < rows; i++)
		for (int64_t j = 0; j < cols; j++) dst[j * ldd + i] = src[i * lds + j];
}
