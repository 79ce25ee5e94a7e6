// C element-wise kernels for mat32 (cgo builds). They compute exactly what
// kernels_go.go computes, bit for bit: the same float32 operations in the
// same order, without fused multiply-adds (contracting a*b+c into one is
// switched off below; -std=c11 also does that for gcc).
//
// Each kernel exists in up to three versions, chosen per call by its first
// argument (one of the HM_PATH_ values): portable scalar C (kernels.c), and
// on x86-64 AVX2 and AVX-512 versions written with intrinsics
// (kernels_simd.h, compiled by kernels_avx2.c and kernels_avx512.c for
// those instruction sets only). hm_path_ok tells which of them this CPU can
// run; Go never passes a path it refused.
#ifndef HM_KERNELS_H
#define HM_KERNELS_H
#include <stdint.h>

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#if defined(__x86_64__)
#include <xmmintrin.h>
// Products and kernels run with denormals flushed to zero (FTZ and DAZ): probabilities
// of saturated units reach the denormal range, where the CPU slows down
// many times over, and values that small change nothing.
#define HM_FTZ_ON unsigned int hm_csr = _mm_getcsr(); _mm_setcsr(hm_csr | 0x8040);
#define HM_FTZ_OFF _mm_setcsr(hm_csr);
#else
#define HM_FTZ_ON
#define HM_FTZ_OFF
#endif

// The vector versions need x86-64 and gcc or clang; defining HM_NO_SIMD
// (CGO_CFLAGS=-DHM_NO_SIMD) leaves them out, as on other machines.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(HM_NO_SIMD)
#define HM_X86_SIMD 1
#else
#define HM_X86_SIMD 0
#endif

enum { HM_PATH_SCALAR = 1, HM_PATH_AVX2 = 2, HM_PATH_AVX512 = 3 };

// hm_path_ok reports whether path is compiled in and the CPU (and the
// operating system, for the vector registers' state) supports it.
int hm_path_ok(int path);

// Random numbers: number n of the stream with key k is word n%4 of the
// Philox-4x32-10 block of counter (n/4, 0, 0) under key (k, k>>32); the
// kernels compare its top 24 bits, scaled to [0, 1), with probabilities.
// hm_philox_fill writes numbers c0 ... c0+n-1 to out (for tests).
void hm_philox_fill(int path, uint64_t key, uint64_t c0, int64_t n, uint32_t *out);

void hm_sigmoid_bias(int path, float *x, const float *bias, int64_t rows, int64_t cols, int64_t ld);
void hm_sigmoid_bias_sample(int path, float *x, float *s, const float *bias, int64_t rows, int64_t cols, int64_t ld, uint64_t key, uint64_t base);
void hm_bernoulli(int path, float *s, const float *p, int64_t n, uint64_t key, uint64_t base);
double hm_diff_stats(int path, const float *a, const float *b, int64_t rows, int64_t cols, float *colsum, float alpha, float *sq);
void hm_momentum_step(int path, float *w, float *vel, int64_t n, float decay);
void hm_scale(int path, float *x, int64_t n, float f);
void hm_softplus_rowsum(int path, const float *x, const float *bias, int64_t rows, int64_t cols, int64_t ld, float beta, double *out);
void hm_ais_hidden(int path, const float *x, const float *bias, int64_t rows, int64_t cols, float bk, float bp, float *s, uint64_t key, uint64_t base, double *delta);
void hm_flip_rowsum(int path, const float *w, const float *wneg, const float *v, int64_t rows, int64_t cols, const float *x, double *out);

// The versions of each kernel, declared for every suffix in HM_ISAS.
#define HM_DECLARE(sfx)                                                                                                       \
	void hm_philox_fill_##sfx(uint64_t key, uint64_t c0, int64_t n, uint32_t *out);                                          \
	void hm_sigmoid_bias_##sfx(float *x, const float *bias, int64_t rows, int64_t cols, int64_t ld);                         \
	void hm_sigmoid_bias_sample_##sfx(float *x, float *s, const float *bias, int64_t rows, int64_t cols, int64_t ld,          \
	                                  uint64_t key, uint64_t base);                                                          \
	void hm_bernoulli_##sfx(float *s, const float *p, int64_t n, uint64_t key, uint64_t base);                               \
	double hm_diff_stats_##sfx(const float *a, const float *b, int64_t rows, int64_t cols, float *colsum, float alpha,        \
	                           float *sq);                                                                                   \
	void hm_momentum_step_##sfx(float *w, float *vel, int64_t n, float decay);                                               \
	void hm_scale_##sfx(float *x, int64_t n, float f);                                                                       \
	void hm_softplus_rowsum_##sfx(const float *x, const float *bias, int64_t rows, int64_t cols, int64_t ld, float beta,     \
	                              double *out);                                                                              \
	void hm_ais_hidden_##sfx(const float *x, const float *bias, int64_t rows, int64_t cols, float bk, float bp, float *s,     \
	                         uint64_t key, uint64_t base, double *delta);                                                    \
	void hm_flip_rowsum_##sfx(const float *w, const float *wneg, const float *v, int64_t rows, int64_t cols, const float *x, \
	                          double *out);

HM_DECLARE(scalar)
#if HM_X86_SIMD
HM_DECLARE(avx2)
HM_DECLARE(avx512)
#endif

// Random numbers are generated HM_CHUNK at a time into a buffer on the
// stack (a multiple of 16, so that chunks keep the 16-lane sums aligned).
#define HM_CHUNK 512
// The buffer also holds the partial blocks at both ends and the rest of
// the last group of vectors' blocks (kernels_simd.h: 2 groups of 16 blocks).
#define HM_BUF (HM_CHUNK + 2 * 4 * 16 + 8)

#endif
