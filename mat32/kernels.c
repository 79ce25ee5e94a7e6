//go:build cgo

// The portable scalar kernels, and the dispatch of each kernel to the
// version its path argument names. See kernels.h.

#include <math.h>
#include <string.h>
#include "kernels.h"

int hm_path_ok(int path) {
	switch (path) {
	case HM_PATH_SCALAR:
		return 1;
#if HM_X86_SIMD
	case HM_PATH_AVX2:
		__builtin_cpu_init();
		return __builtin_cpu_supports("avx2") != 0;
	case HM_PATH_AVX512:
		__builtin_cpu_init();
		return __builtin_cpu_supports("avx512f") != 0;
#endif
	}
	return 0;
}

// HM_DISPATCH calls the version of kernel name for path with args, and
// then does what follows it (return or not).
#if HM_X86_SIMD
#define HM_DISPATCH(ret, name, args)                     \
	switch (path) {                                      \
	case HM_PATH_AVX512:                                 \
		ret name##_avx512 args;                          \
		break;                                           \
	case HM_PATH_AVX2:                                   \
		ret name##_avx2 args;                            \
		break;                                           \
	default:                                             \
		ret name##_scalar args;                          \
	}
#else
#define HM_DISPATCH(ret, name, args) \
	(void)path;                      \
	ret name##_scalar args;
#endif
#define HM_VOID

void hm_philox_fill(int path, uint64_t key, uint64_t c0, int64_t n, uint32_t *out) {
	HM_DISPATCH(HM_VOID, hm_philox_fill, (key, c0, n, out))
}
void hm_sigmoid_bias(int path, float *x, const float *bias, int64_t rows, int64_t cols, int64_t ld) {
	HM_DISPATCH(HM_VOID, hm_sigmoid_bias, (x, bias, rows, cols, ld))
}
void hm_sigmoid_bias_sample(int path, float *x, float *s, const float *bias, int64_t rows, int64_t cols, int64_t ld, uint64_t key, uint64_t base) {
	HM_DISPATCH(HM_VOID, hm_sigmoid_bias_sample, (x, s, bias, rows, cols, ld, key, base))
}
void hm_bernoulli(int path, float *s, const float *p, int64_t n, uint64_t key, uint64_t base) {
	HM_DISPATCH(HM_VOID, hm_bernoulli, (s, p, n, key, base))
}
double hm_diff_stats(int path, const float *a, float *b, int64_t rows, int64_t cols, int64_t ld, float *colsum, float alpha, float *sq,
                     int negb) {
	HM_DISPATCH(return, hm_diff_stats, (a, b, rows, cols, ld, colsum, alpha, sq, negb))
	return 0;
}
void hm_momentum_step(int path, float *w, float *vel, int64_t n, float decay) {
	HM_DISPATCH(HM_VOID, hm_momentum_step, (w, vel, n, decay))
}
void hm_adam_step(int path, float *w, const float *g, float *m, float *v, int64_t n, float b1, float b2, float step, float c2, float eps) {
	HM_DISPATCH(HM_VOID, hm_adam_step, (w, g, m, v, n, b1, b2, step, c2, eps))
}
void hm_scale(int path, float *x, int64_t n, float f) {
	HM_DISPATCH(HM_VOID, hm_scale, (x, n, f))
}
void hm_softplus_rowsum(int path, const float *x, const float *bias, int64_t rows, int64_t cols, int64_t ld, float beta, double *out) {
	HM_DISPATCH(HM_VOID, hm_softplus_rowsum, (x, bias, rows, cols, ld, beta, out))
}
void hm_ais_hidden(int path, const float *x, const float *bias, int64_t rows, int64_t cols, float bk, float bp, float *s, uint64_t key, uint64_t base, double *delta) {
	HM_DISPATCH(HM_VOID, hm_ais_hidden, (x, bias, rows, cols, bk, bp, s, key, base, delta))
}
void hm_flip_rowsum(int path, const float *w, const float *wneg, const float *v, int64_t rows, int64_t cols, const float *x, double *out) {
	HM_DISPATCH(HM_VOID, hm_flip_rowsum, (w, wneg, v, rows, cols, x, out))
}

void hm_normals(int path, uint64_t key, uint64_t base, uint64_t c0, int64_t n, float *out) {
	HM_DISPATCH(HM_VOID, hm_normals, (key, base, c0, n, out))
}
void hm_gaussian_sample(int path, float *s, const float *mean, const float *std, int64_t rows, int64_t cols, uint64_t key, uint64_t base, uint64_t c0) {
	HM_DISPATCH(HM_VOID, hm_gaussian_sample, (s, mean, std, rows, cols, key, base, c0))
}
void hm_act(int path, int kind, float alpha, const float *x, const float *y, const float *dy, float *out, int64_t n) {
	HM_DISPATCH(HM_VOID, hm_act, (kind, alpha, x, y, dy, out, n))
}
void hm_relu_bias(int path, float *x, const float *bias, int64_t rows, int64_t cols) {
	HM_DISPATCH(HM_VOID, hm_relu_bias, (x, bias, rows, cols))
}
void hm_relu_bias_sample(int path, float *p, float *s, const float *bias, int64_t rows, int64_t cols, uint64_t key, uint64_t base, uint64_t c0) {
	HM_DISPATCH(HM_VOID, hm_relu_bias_sample, (p, s, bias, rows, cols, key, base, c0))
}
void hm_add_row(int path, float *x, const float *v, int64_t rows, int64_t cols) {
	HM_DISPATCH(HM_VOID, hm_add_row, (x, v, rows, cols))
}
void hm_spmm(int path, const int32_t *ptr, const int32_t *idx, const float *val, int64_t rows, const float *b, int64_t ldb,
             int64_t cols, float alpha, float beta, float *out, int64_t ldo) {
	HM_DISPATCH(HM_VOID, hm_spmm, (ptr, idx, val, rows, b, ldb, cols, alpha, beta, out, ldo))
}

void hm_tiles_fwd(int path, const float *img, hm_tiling t, const float *l, int64_t p, int64_t q, float *dst, int64_t ld) {
	HM_DISPATCH(HM_VOID, hm_tiles_fwd, (img, &t, l, p, q, dst, ld))
}
void hm_tiles_back(int path, const float *src, int64_t ld, const float *l, int64_t p, int64_t q, float *img, hm_tiling t,
                   const float *bias) {
	HM_DISPATCH(HM_VOID, hm_tiles_back, (src, ld, l, p, q, img, &t, bias))
}

const uint64_t hm_lanes8[256] = {
	0x0000000000000000ULL, 0x0000000000000000ULL, 0x0000000000000001ULL, 0x0000000000000100ULL,
	0x0000000000000002ULL, 0x0000000000000200ULL, 0x0000000000000201ULL, 0x0000000000020100ULL,
	0x0000000000000003ULL, 0x0000000000000300ULL, 0x0000000000000301ULL, 0x0000000000030100ULL,
	0x0000000000000302ULL, 0x0000000000030200ULL, 0x0000000000030201ULL, 0x0000000003020100ULL,
	0x0000000000000004ULL, 0x0000000000000400ULL, 0x0000000000000401ULL, 0x0000000000040100ULL,
	0x0000000000000402ULL, 0x0000000000040200ULL, 0x0000000000040201ULL, 0x0000000004020100ULL,
	0x0000000000000403ULL, 0x0000000000040300ULL, 0x0000000000040301ULL, 0x0000000004030100ULL,
	0x0000000000040302ULL, 0x0000000004030200ULL, 0x0000000004030201ULL, 0x0000000403020100ULL,
	0x0000000000000005ULL, 0x0000000000000500ULL, 0x0000000000000501ULL, 0x0000000000050100ULL,
	0x0000000000000502ULL, 0x0000000000050200ULL, 0x0000000000050201ULL, 0x0000000005020100ULL,
	0x0000000000000503ULL, 0x0000000000050300ULL, 0x0000000000050301ULL, 0x0000000005030100ULL,
	0x0000000000050302ULL, 0x0000000005030200ULL, 0x0000000005030201ULL, 0x0000000503020100ULL,
	0x0000000000000504ULL, 0x0000000000050400ULL, 0x0000000000050401ULL, 0x0000000005040100ULL,
	0x0000000000050402ULL, 0x0000000005040200ULL, 0x0000000005040201ULL, 0x0000000504020100ULL,
	0x0000000000050403ULL, 0x0000000005040300ULL, 0x0000000005040301ULL, 0x0000000504030100ULL,
	0x0000000005040302ULL, 0x0000000504030200ULL, 0x0000000504030201ULL, 0x0000050403020100ULL,
	0x0000000000000006ULL, 0x0000000000000600ULL, 0x0000000000000601ULL, 0x0000000000060100ULL,
	0x0000000000000602ULL, 0x0000000000060200ULL, 0x0000000000060201ULL, 0x0000000006020100ULL,
	0x0000000000000603ULL, 0x0000000000060300ULL, 0x0000000000060301ULL, 0x0000000006030100ULL,
	0x0000000000060302ULL, 0x0000000006030200ULL, 0x0000000006030201ULL, 0x0000000603020100ULL,
	0x0000000000000604ULL, 0x0000000000060400ULL, 0x0000000000060401ULL, 0x0000000006040100ULL,
	0x0000000000060402ULL, 0x0000000006040200ULL, 0x0000000006040201ULL, 0x0000000604020100ULL,
	0x0000000000060403ULL, 0x0000000006040300ULL, 0x0000000006040301ULL, 0x0000000604030100ULL,
	0x0000000006040302ULL, 0x0000000604030200ULL, 0x0000000604030201ULL, 0x0000060403020100ULL,
	0x0000000000000605ULL, 0x0000000000060500ULL, 0x0000000000060501ULL, 0x0000000006050100ULL,
	0x0000000000060502ULL, 0x0000000006050200ULL, 0x0000000006050201ULL, 0x0000000605020100ULL,
	0x0000000000060503ULL, 0x0000000006050300ULL, 0x0000000006050301ULL, 0x0000000605030100ULL,
	0x0000000006050302ULL, 0x0000000605030200ULL, 0x0000000605030201ULL, 0x0000060503020100ULL,
	0x0000000000060504ULL, 0x0000000006050400ULL, 0x0000000006050401ULL, 0x0000000605040100ULL,
	0x0000000006050402ULL, 0x0000000605040200ULL, 0x0000000605040201ULL, 0x0000060504020100ULL,
	0x0000000006050403ULL, 0x0000000605040300ULL, 0x0000000605040301ULL, 0x0000060504030100ULL,
	0x0000000605040302ULL, 0x0000060504030200ULL, 0x0000060504030201ULL, 0x0006050403020100ULL,
	0x0000000000000007ULL, 0x0000000000000700ULL, 0x0000000000000701ULL, 0x0000000000070100ULL,
	0x0000000000000702ULL, 0x0000000000070200ULL, 0x0000000000070201ULL, 0x0000000007020100ULL,
	0x0000000000000703ULL, 0x0000000000070300ULL, 0x0000000000070301ULL, 0x0000000007030100ULL,
	0x0000000000070302ULL, 0x0000000007030200ULL, 0x0000000007030201ULL, 0x0000000703020100ULL,
	0x0000000000000704ULL, 0x0000000000070400ULL, 0x0000000000070401ULL, 0x0000000007040100ULL,
	0x0000000000070402ULL, 0x0000000007040200ULL, 0x0000000007040201ULL, 0x0000000704020100ULL,
	0x0000000000070403ULL, 0x0000000007040300ULL, 0x0000000007040301ULL, 0x0000000704030100ULL,
	0x0000000007040302ULL, 0x0000000704030200ULL, 0x0000000704030201ULL, 0x0000070403020100ULL,
	0x0000000000000705ULL, 0x0000000000070500ULL, 0x0000000000070501ULL, 0x0000000007050100ULL,
	0x0000000000070502ULL, 0x0000000007050200ULL, 0x0000000007050201ULL, 0x0000000705020100ULL,
	0x0000000000070503ULL, 0x0000000007050300ULL, 0x0000000007050301ULL, 0x0000000705030100ULL,
	0x0000000007050302ULL, 0x0000000705030200ULL, 0x0000000705030201ULL, 0x0000070503020100ULL,
	0x0000000000070504ULL, 0x0000000007050400ULL, 0x0000000007050401ULL, 0x0000000705040100ULL,
	0x0000000007050402ULL, 0x0000000705040200ULL, 0x0000000705040201ULL, 0x0000070504020100ULL,
	0x0000000007050403ULL, 0x0000000705040300ULL, 0x0000000705040301ULL, 0x0000070504030100ULL,
	0x0000000705040302ULL, 0x0000070504030200ULL, 0x0000070504030201ULL, 0x0007050403020100ULL,
	0x0000000000000706ULL, 0x0000000000070600ULL, 0x0000000000070601ULL, 0x0000000007060100ULL,
	0x0000000000070602ULL, 0x0000000007060200ULL, 0x0000000007060201ULL, 0x0000000706020100ULL,
	0x0000000000070603ULL, 0x0000000007060300ULL, 0x0000000007060301ULL, 0x0000000706030100ULL,
	0x0000000007060302ULL, 0x0000000706030200ULL, 0x0000000706030201ULL, 0x0000070603020100ULL,
	0x0000000000070604ULL, 0x0000000007060400ULL, 0x0000000007060401ULL, 0x0000000706040100ULL,
	0x0000000007060402ULL, 0x0000000706040200ULL, 0x0000000706040201ULL, 0x0000070604020100ULL,
	0x0000000007060403ULL, 0x0000000706040300ULL, 0x0000000706040301ULL, 0x0000070604030100ULL,
	0x0000000706040302ULL, 0x0000070604030200ULL, 0x0000070604030201ULL, 0x0007060403020100ULL,
	0x0000000000070605ULL, 0x0000000007060500ULL, 0x0000000007060501ULL, 0x0000000706050100ULL,
	0x0000000007060502ULL, 0x0000000706050200ULL, 0x0000000706050201ULL, 0x0000070605020100ULL,
	0x0000000007060503ULL, 0x0000000706050300ULL, 0x0000000706050301ULL, 0x0000070605030100ULL,
	0x0000000706050302ULL, 0x0000070605030200ULL, 0x0000070605030201ULL, 0x0007060503020100ULL,
	0x0000000007060504ULL, 0x0000000706050400ULL, 0x0000000706050401ULL, 0x0000070605040100ULL,
	0x0000000706050402ULL, 0x0000070605040200ULL, 0x0000070605040201ULL, 0x0007060504020100ULL,
	0x0000000706050403ULL, 0x0000070605040300ULL, 0x0000070605040301ULL, 0x0007060504030100ULL,
	0x0000070605040302ULL, 0x0007060504030200ULL, 0x0007060504030201ULL, 0x0706050403020100ULL,
};

int64_t hm_sparse_from(int path, const float *d, int64_t rows, int64_t cols, int32_t *ptr, int32_t *idx, float *val,
                       int32_t *count) {
	memset(count, 0, (size_t)cols * sizeof *count);
	int64_t nnz;
	HM_DISPATCH(nnz =, hm_compress_rows, (d, rows, cols, ptr, idx, val, count))
	return nnz;
}

void hm_sparse_transpose(int64_t rows, int64_t cols, const int32_t *ptr, const int32_t *idx, const float *val, int32_t *tptr,
                         int32_t *tidx, float *tval) {
	// Column starts; then each entry goes to the next free place of its
	// column, which tptr[c+1] tracks until it becomes column c+1's start.
	int32_t sum = 0;
	for (int64_t c = 1; c <= cols; c++) {
		int32_t n = tptr[c];
		tptr[c] = sum;
		sum += n;
	}
	tptr[0] = 0;
	for (int64_t r = 0; r < rows; r++) {
		for (int32_t p = ptr[r]; p < ptr[r + 1]; p++) {
			int32_t q = tptr[idx[p] + 1]++;
			tidx[q] = (int32_t)r;
			tval[q] = val[p];
		}
	}
}

// ---- Scalar versions ----

static inline float hm_expf(float x) {
	x = x > 88.0f ? 88.0f : x;
	x = x < -88.0f ? -88.0f : x;
	// Round x*log2(e) to the nearest integer by the 1.5*2^23 trick (exact
	// for |x*log2(e)| < 2^22, far beyond the clamp).
	float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
	float r = x - n * 0.693359375f;
	r = r - n * -2.12194440e-4f;
	float p = 1.9875691500e-4f;
	p = p * r + 1.3981999507e-3f;
	p = p * r + 8.3334519073e-3f;
	p = p * r + 4.1665795894e-2f;
	p = p * r + 1.6666665459e-1f;
	p = p * r + 5.0000001201e-1f;
	p = p * (r * r) + r;
	p = p + 1.0f;
	int32_t e = (int32_t)n + 127;
	e = e < 1 ? 1 : e;
	uint32_t bits = (uint32_t)e << 23;
	float scale;
	memcpy(&scale, &bits, 4);
	return p * scale;
}

// hm_sigmoid clamps its argument to [-85, 85] so that the result is never
// denormal (arithmetic on denormals is many times slower).
static inline float hm_sigmoid(float x) {
	x = x > 85.0f ? 85.0f : x;
	x = x < -85.0f ? -85.0f : x;
	return 1.0f / (1.0f + hm_expf(-x));
}

// hm_softplus returns log(1 + e^x) = max(x, 0) + log1p(e^-|x|), with
// log1p(y) = 2 atanh(y / (2 + y)) summed as a series (y is in (0, 1], so
// the series' argument is at most 1/3 and seven terms give float precision).
static inline float hm_softplus(float x) {
	float ax = x < 0 ? -x : x;
	float y = hm_expf(-ax);
	float s = y / (2.0f + y);
	float s2 = s * s;
	float p = 1.0f / 13.0f;
	p = p * s2 + 1.0f / 11.0f;
	p = p * s2 + 1.0f / 9.0f;
	p = p * s2 + 1.0f / 7.0f;
	p = p * s2 + 1.0f / 5.0f;
	p = p * s2 + 1.0f / 3.0f;
	p = p * s2 + 1.0f;
	float l = 2.0f * s * p;
	return (x > 0 ? x : 0.0f) + l;
}

// hm_philox4x32 is Philox-4x32-10 of counter (q, q>>32, 0, 0) under key
// (k0, k1), as Random123 defines it.
static inline void hm_philox4x32(uint32_t k0, uint32_t k1, uint64_t q, uint32_t out[4]) {
	uint32_t c0 = (uint32_t)q, c1 = (uint32_t)(q >> 32), c2 = 0, c3 = 0;
	for (int r = 0; r < 10; r++) {
		if (r > 0) {
			k0 += 0x9E3779B9u;
			k1 += 0xBB67AE85u;
		}
		uint64_t p0 = (uint64_t)0xD2511F53u * c0;
		uint64_t p1 = (uint64_t)0xCD9E8D57u * c2;
		uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
		c1 = (uint32_t)p1;
		c3 = (uint32_t)p0;
		c0 = n0;
		c2 = n2;
	}
	out[0] = c0;
	out[1] = c1;
	out[2] = c2;
	out[3] = c3;
}

// hm_fill writes numbers c0 ... c0+n-1 of stream key to buf (which holds
// HM_BUF words, n <= HM_CHUNK) and returns a pointer to number c0.
static const uint32_t *hm_fill(uint64_t key, uint64_t c0, int64_t n, uint32_t *buf) {
	int64_t off = (int64_t)(c0 & 3);
	uint64_t q = c0 >> 2;
	for (int64_t i = 0; i < off + n; i += 4, q++) hm_philox4x32((uint32_t)key, (uint32_t)(key >> 32), q, buf + i);
	return buf + off;
}

static inline float hm_unif(uint32_t w) { return (float)(int32_t)(w >> 8) * (1.0f / 16777216.0f); }

void hm_philox_fill_scalar(uint64_t key, uint64_t c0, int64_t n, uint32_t *out) {
	uint32_t buf[HM_BUF];
	for (int64_t lo = 0; lo < n; lo += HM_CHUNK) {
		int64_t m = n - lo < HM_CHUNK ? n - lo : HM_CHUNK;
		memcpy(out + lo, hm_fill(key, c0 + (uint64_t)lo, m, buf), (size_t)m * 4);
	}
}

void hm_sigmoid_bias_scalar(float *x, const float *bias, int64_t rows, int64_t cols, int64_t ld) {
	for (int64_t i = 0; i < rows; i++) {
		float *row = x + i * ld;
		for (int64_t j = 0; j < cols; j++) row[j] = hm_sigmoid(row[j] + bias[j]);
	}
}

void hm_sigmoid_bias_sample_scalar(float *x, float *s, const float *bias, int64_t rows, int64_t cols, int64_t ld, uint64_t key, uint64_t base) {
	uint32_t buf[HM_BUF];
	for (int64_t i = 0; i < rows; i++) {
		uint64_t b = base + (uint64_t)(i * ld);
		for (int64_t j0 = 0; j0 < cols; j0 += HM_CHUNK) {
			int64_t n = cols - j0 < HM_CHUNK ? cols - j0 : HM_CHUNK;
			const uint32_t *u = hm_fill(key, b + (uint64_t)j0, n, buf);
			float *row = x + i * ld + j0, *srow = s + i * ld + j0;
			const float *bb = bias + j0;
			// Two loops, which gcc vectorises (it does not the two in one).
			for (int64_t j = 0; j < n; j++) row[j] = hm_sigmoid(row[j] + bb[j]);
			for (int64_t j = 0; j < n; j++) srow[j] = (float)(hm_unif(u[j]) < row[j]);
		}
	}
}

void hm_bernoulli_scalar(float *s, const float *p, int64_t n, uint64_t key, uint64_t base) {
	uint32_t buf[HM_BUF];
	for (int64_t lo = 0; lo < n; lo += HM_CHUNK) {
		int64_t m = n - lo < HM_CHUNK ? n - lo : HM_CHUNK;
		const uint32_t *u = hm_fill(key, base + (uint64_t)lo, m, buf);
		for (int64_t i = 0; i < m; i++) s[lo + i] = (float)(hm_unif(u[i]) < p[lo + i]);
	}
}

double hm_diff_stats_scalar(const float *a, float *b, int64_t rows, int64_t cols, int64_t ld, float *colsum, float alpha, float *sq,
                            int negb) {
	for (int64_t j = 0; j < cols; j++) sq[j] = 0;
	for (int64_t i = 0; i < rows; i++) {
		const float *ar = a + i * ld;
		float *br = b + i * ld;
		for (int64_t j = 0; j < cols; j++) {
			float d = ar[j] - br[j];
			sq[j] = sq[j] + d * d;
			colsum[j] = colsum[j] + alpha * d;
			if (negb) br[j] = -br[j];
		}
	}
	double total = 0;
	for (int64_t j = 0; j < cols; j++) total += (double)sq[j];
	return total;
}

void hm_momentum_step_scalar(float *w, float *vel, int64_t n, float decay) {
	for (int64_t i = 0; i < n; i++) {
		float v = vel[i] - decay * w[i];
		// Velocities of units that never fire decay towards zero; flush
		// them before they turn denormal and slow everything down.
		v = (v < 1e-30f && v > -1e-30f) ? 0.0f : v;
		vel[i] = v;
		w[i] = w[i] + v;
	}
}

// hm_adam_step_scalar computes 1-b1 and 1-b2 once, in float, as the other
// versions do.
void hm_adam_step_scalar(float *w, const float *g, float *m, float *v, int64_t n, float b1, float b2, float step, float c2, float eps) {
	const float a1 = 1.0f - b1, a2 = 1.0f - b2;
	for (int64_t i = 0; i < n; i++) {
		float gi = g[i];
		float mi = b1 * m[i] + a1 * gi;
		float vi = b2 * v[i] + a2 * gi * gi;
		m[i] = mi;
		v[i] = vi;
		w[i] = w[i] - step * mi / (sqrtf(vi) * c2 + eps);
	}
}

void hm_scale_scalar(float *x, int64_t n, float f) {
	for (int64_t i = 0; i < n; i++) x[i] = x[i] * f;
}

#define HM_LANES 16

// hm_softplus_rowsum sets out[i] = sum_j softplus(beta * (x[i*ld+j] + bias[j])),
// summing in HM_LANES float lanes (as the vector versions do) and then in
// double.
void hm_softplus_rowsum_scalar(const float *x, const float *bias, int64_t rows, int64_t cols, int64_t ld, float beta, double *out) {
	for (int64_t i = 0; i < rows; i++) {
		const float *row = x + i * ld;
		float acc[HM_LANES] = {0};
		int64_t j = 0;
		for (; j + HM_LANES <= cols; j += HM_LANES)
			for (int k = 0; k < HM_LANES; k++) acc[k] += hm_softplus(beta * (row[j + k] + bias[j + k]));
		double total = 0;
		for (; j < cols; j++) total += (double)hm_softplus(beta * (row[j] + bias[j]));
		for (int k = 0; k < HM_LANES; k++) total += (double)acc[k];
		out[i] = total;
	}
}

// hm_ais_hidden is the hidden half of one AIS step at inverse temperature bk
// after bp: with t = x + bias, it adds sum_j softplus(bk t) - softplus(bp t)
// to delta[i] and samples s from sigmoid(bk t).
void hm_ais_hidden_scalar(const float *x, const float *bias, int64_t rows, int64_t cols, float bk, float bp, float *s, uint64_t key, uint64_t base, double *delta) {
	uint32_t buf[HM_BUF];
	for (int64_t i = 0; i < rows; i++) {
		const float *row = x + i * cols;
		float *srow = s + i * cols;
		uint64_t b = base + (uint64_t)(i * cols);
		float acc[HM_LANES] = {0};
		double total = 0;
		for (int64_t j0 = 0; j0 < cols; j0 += HM_CHUNK) {
			int64_t n = cols - j0 < HM_CHUNK ? cols - j0 : HM_CHUNK;
			const uint32_t *u = hm_fill(key, b + (uint64_t)j0, n, buf);
			for (int64_t j = 0; j < n; j++) {
				float t = row[j0 + j] + bias[j0 + j];
				float d = hm_softplus(bk * t) - hm_softplus(bp * t);
				srow[j0 + j] = (float)(hm_unif(u[j]) < hm_sigmoid(bk * t));
				// Whole groups of HM_LANES go to the lanes, the rest
				// of the row straight to the double total.
				if ((j0 + j) < cols / HM_LANES * HM_LANES)
					acc[j & (HM_LANES - 1)] += d;
				else
					total += (double)d;
			}
		}
		for (int k = 0; k < HM_LANES; k++) total += (double)acc[k];
		delta[i] += total;
	}
}

// hm_flip_rowsum sets out[i] = sum_j softplus(r[j] + x[j]) where r is row i
// of wneg when v[i] > 0.5 and of w otherwise: the hidden inputs after
// flipping visible unit i of a binary v (x holds the inputs before).
void hm_flip_rowsum_scalar(const float *w, const float *wneg, const float *v, int64_t rows, int64_t cols, const float *x, double *out) {
	for (int64_t i = 0; i < rows; i++) {
		const float *row = (v[i] > 0.5f ? wneg : w) + i * cols;
		float acc[HM_LANES] = {0};
		int64_t j = 0;
		for (; j + HM_LANES <= cols; j += HM_LANES)
			for (int k = 0; k < HM_LANES; k++) acc[k] += hm_softplus(row[j + k] + x[j + k]);
		double total = 0;
		for (; j < cols; j++) total += (double)hm_softplus(row[j] + x[j]);
		for (int k = 0; k < HM_LANES; k++) total += (double)acc[k];
		out[i] = total;
	}
}

// ---- Real-valued units (real.go) ----

static inline uint32_t hm_bits(float f) {
	uint32_t b;
	memcpy(&b, &f, 4);
	return b;
}

static inline float hm_float(uint32_t b) {
	float f;
	memcpy(&f, &b, 4);
	return f;
}

// hm_log_uniform is logUniform: ln((w>>8 + 1) / 2^24).
static inline float hm_log_uniform(uint32_t w) {
	uint32_t bits = hm_bits((float)(int32_t)((w >> 8) + 1));
	uint32_t t = bits - HM_SQRT_HALF_BITS;
	float e = (float)((int32_t)(t >> 23) - 24);
	float x = hm_float(bits - (t & 0xFF800000u)) - 1.0f;
	float z = x * x;
	float y = HM_LOG_L0;
	y = y * x + HM_LOG_L1;
	y = y * x + HM_LOG_L2;
	y = y * x + HM_LOG_L3;
	y = y * x + HM_LOG_L4;
	y = y * x + HM_LOG_L5;
	y = y * x + HM_LOG_L6;
	y = y * x + HM_LOG_L7;
	y = y * x + HM_LOG_L8;
	y = (y * x) * z;
	y = y + e * HM_LN2_LO;
	y = y + z * -0.5f;
	x = x + y;
	return x + e * HM_LN2_HI;
}

// hm_normal_pair is normalPair: two normal deviates from the numbers w0
// and w1 of the stream.
static inline void hm_normal_pair(uint32_t w0, uint32_t w1, float *out) {
	float r = sqrtf(hm_log_uniform(w0) * -2.0f);
	uint32_t t = w1 >> 8, q = (t + (1u << 21)) >> 22;
	float a = (float)((int32_t)t - (int32_t)(q << 22)) * HM_TURN_STEP;
	float z = a * a;
	float s = HM_SIN_S0;
	s = s * z + HM_SIN_S1;
	s = s * z + HM_SIN_S2;
	s = (s * z) * a + a;
	float c = HM_COS_C0;
	c = c * z + HM_COS_C1;
	c = c * z + HM_COS_C2;
	c = (c * z) * z;
	c = c + z * -0.5f;
	c = c + 1.0f;
	uint32_t sb = hm_bits(s), cb = hm_bits(c);
	if (q & 1) {
		uint32_t tmp = sb;
		sb = cb;
		cb = tmp;
	}
	sb ^= (q & 2) << 30;
	cb ^= ((q + 1) & 2) << 30;
	out[0] = r * hm_float(cb);
	out[1] = r * hm_float(sb);
}

// hm_normals_chunk writes the normal deviates of elements c0 ... c0+n-1
// (n <= HM_NCHUNK) of the block at base to z (HM_ZBUF floats) and returns
// a pointer to element c0's.
static const float *hm_normals_chunk(uint64_t key, uint64_t base, uint64_t c0, int64_t n, uint32_t *buf, float *z) {
	uint64_t e0 = c0 & ~(uint64_t)1;
	int64_t m = (int64_t)(c0 - e0) + n;
	m += m & 1;
	const uint32_t *w = hm_fill(key, base + e0, m, buf);
	for (int64_t k = 0; k < m; k += 2) hm_normal_pair(w[k], w[k + 1], z + k);
	return z + (c0 - e0);
}

static inline float hm_relu(float x) { return x < 0 ? 0.0f : x; }

void hm_normals_scalar(uint64_t key, uint64_t base, uint64_t c0, int64_t n, float *out) {
	uint32_t buf[HM_BUF];
	float zb[HM_ZBUF];
	for (int64_t lo = 0; lo < n; lo += HM_NCHUNK) {
		int64_t m = n - lo < HM_NCHUNK ? n - lo : HM_NCHUNK;
		memcpy(out + lo, hm_normals_chunk(key, base, c0 + (uint64_t)lo, m, buf, zb), (size_t)m * 4);
	}
}

void hm_gaussian_sample_scalar(float *s, const float *mean, const float *std, int64_t rows, int64_t cols, uint64_t key, uint64_t base, uint64_t c0) {
	uint32_t buf[HM_BUF];
	float zb[HM_ZBUF];
	int64_t n = rows * cols, j = 0;
	for (int64_t lo = 0; lo < n; lo += HM_NCHUNK) {
		int64_t m = n - lo < HM_NCHUNK ? n - lo : HM_NCHUNK;
		const float *z = hm_normals_chunk(key, base, c0 + (uint64_t)lo, m, buf, zb);
		for (int64_t k = 0; k < m; k++) {
			s[lo + k] = mean[lo + k] + std[j] * z[k];
			if (++j == cols) j = 0;
		}
	}
}

void hm_relu_bias_scalar(float *x, const float *bias, int64_t rows, int64_t cols) {
	for (int64_t i = 0; i < rows; i++) {
		float *row = x + i * cols;
		for (int64_t j = 0; j < cols; j++) row[j] = hm_relu(row[j] + bias[j]);
	}
}

void hm_relu_bias_sample_scalar(float *p, float *s, const float *bias, int64_t rows, int64_t cols, uint64_t key, uint64_t base, uint64_t c0) {
	uint32_t buf[HM_BUF];
	float zb[HM_ZBUF];
	int64_t n = rows * cols, j = 0;
	for (int64_t lo = 0; lo < n; lo += HM_NCHUNK) {
		int64_t m = n - lo < HM_NCHUNK ? n - lo : HM_NCHUNK;
		const float *z = hm_normals_chunk(key, base, c0 + (uint64_t)lo, m, buf, zb);
		for (int64_t k = 0; k < m; k++) {
			float x = p[lo + k] + bias[j];
			float sd = sqrtf(hm_sigmoid(x));
			s[lo + k] = hm_relu(x + sd * z[k]);
			p[lo + k] = hm_relu(x);
			if (++j == cols) j = 0;
		}
	}
}

void hm_add_row_scalar(float *x, const float *v, int64_t rows, int64_t cols) {
	for (int64_t i = 0; i < rows; i++) {
		float *row = x + i * cols;
		for (int64_t j = 0; j < cols; j++) row[j] = row[j] + v[j];
	}
}

// hm_compress_rows_scalar is hm_sparse_from's by-row part; it adds the
// number of entries of each column c to count[c].
int64_t hm_compress_rows_scalar(const float *d, int64_t rows, int64_t cols, int32_t *ptr, int32_t *idx, float *val,
                                int32_t *count) {
	int64_t n = 0;
	for (int64_t r = 0; r < rows; r++) {
		ptr[r] = (int32_t)n;
		const float *row = d + r * cols;
		for (int64_t c = 0; c < cols; c++) {
			const float x = row[c];
			const int nz = x != 0;
			idx[n] = (int32_t)c;
			val[n] = x;
			count[c] += nz;
			n += nz;
		}
	}
	ptr[rows] = (int32_t)n;
	return n;
}

// The sums run over blocks of HM_SPB columns, each block of b staying in
// the cache while every row of the sparse matrix passes over it.
#define HM_SPB 64
void hm_spmm_scalar(const int32_t *ptr, const int32_t *idx, const float *val, int64_t rows, const float *b, int64_t ldb,
                    int64_t cols, float alpha, float beta, float *out, int64_t ldo) {
	float acc[HM_SPB];
	for (int64_t j0 = 0; j0 < cols; j0 += HM_SPB) {
		int64_t nb = cols - j0 < HM_SPB ? cols - j0 : HM_SPB;
		for (int64_t r = 0; r < rows; r++) {
			for (int64_t j = 0; j < nb; j++) acc[j] = 0;
			for (int32_t p = ptr[r]; p < ptr[r + 1]; p++) {
				const float a = val ? val[p] : 1, *brow = b + (int64_t)idx[p] * ldb + j0;
				for (int64_t j = 0; j < nb; j++) acc[j] = acc[j] + a * brow[j];
			}
			float *o = out + r * ldo + j0;
			if (beta == 0) {
				for (int64_t j = 0; j < nb; j++) o[j] = alpha * acc[j];
			} else {
				for (int64_t j = 0; j < nb; j++) o[j] = beta * o[j] + alpha * acc[j];
			}
		}
	}
}

// hm_positive is all ones when x > 0 (its sign clear and it not a zero,
// NaNs included), else 0: ReLU's derivative as a bit mask.
static inline uint32_t hm_positive(float x) {
	uint32_t b;
	memcpy(&b, &x, sizeof b);
	return (uint32_t)((int32_t)~b >> 31) & (uint32_t)(-(int32_t)(b & 0x7FFFFFFFu) >> 31);
}

static inline float hm_and_bits(float x, uint32_t m) {
	uint32_t b;
	memcpy(&b, &x, sizeof b);
	b &= m;
	memcpy(&x, &b, sizeof x);
	return x;
}

void hm_act_scalar(int kind, float alpha, const float *x, const float *y, const float *dy, float *out, int64_t n) {
	switch (kind) {
	case HM_ACT_SIGMOID:
		for (int64_t i = 0; i < n; i++) out[i] = hm_sigmoid(x[i]);
		break;
	case HM_ACT_RELU:
		for (int64_t i = 0; i < n; i++) out[i] = x[i] <= 0 ? 0.0f : x[i];
		break;
	case HM_ACT_LEAKY:
		for (int64_t i = 0; i < n; i++) out[i] = x[i] > 0 ? x[i] : alpha * x[i];
		break;
	case HM_ACT_SIGMOID_GRAD:
		for (int64_t i = 0; i < n; i++) {
			float gy = dy[i] * y[i];
			out[i] = gy * (1.0f - y[i]);
		}
		break;
	case HM_ACT_TANH_GRAD:
		for (int64_t i = 0; i < n; i++) {
			float yy = y[i] * y[i];
			out[i] = dy[i] * (1.0f - yy);
		}
		break;
	case HM_ACT_RELU_GRAD:
		for (int64_t i = 0; i < n; i++) out[i] = hm_and_bits(dy[i], hm_positive(x[i]));
		break;
	case HM_ACT_LEAKY_GRAD:
		for (int64_t i = 0; i < n; i++) out[i] = dy[i] * (hm_positive(x[i]) ? 1.0f : alpha);
		break;
	}
}

// tile_mul_scalar sets z (p x q blocks of cb values) to l (p x q) times s
// (q x q blocks): z[k][b] = the sum over the nonzero l[k][a], in order, of
// l[k][a] * s[a][b], from zero.
static void tile_mul_scalar(float *z, const float *s, const float *l, int64_t p, int64_t q, int64_t cb) {
	for (int64_t k = 0; k < p; k++)
		for (int64_t b = 0; b < q; b++) {
			float *zr = z + (k * q + b) * cb;
			for (int64_t c = 0; c < cb; c++) zr[c] = 0.0f;
			for (int64_t a = 0; a < q; a++) {
				const float f = l[k * q + a];
				if (f == 0.0f) continue;
				const float *sr = s + (a * q + b) * cb;
				for (int64_t c = 0; c < cb; c++) zr[c] = zr[c] + f * sr[c];
			}
		}
}

// tile_out_scalar sets out (cb values) to the sum over the nonzero
// lm[b], in order, of lm[b] * z[b] (q blocks of cb values), from zero.
static void tile_out_scalar(float *out, const float *z, const float *lm, int64_t q, int64_t cb) {
	for (int64_t c = 0; c < cb; c++) out[c] = 0.0f;
	for (int64_t b = 0; b < q; b++) {
		const float f = lm[b];
		if (f == 0.0f) continue;
		const float *zr = z + b * cb;
		for (int64_t c = 0; c < cb; c++) out[c] = out[c] + f * zr[c];
	}
}

void hm_tiles_fwd_scalar(const float *img, const hm_tiling *t, const float *l, int64_t p, int64_t q, float *dst, int64_t ld) {
	float pb[HM_MAXTILE * HM_MAXTILE * HM_TBLOCK], zb[HM_MAXTILE * HM_MAXTILE * HM_TBLOCK];
	for (int64_t ty = 0; ty < t->tiles_y; ty++)
		for (int64_t tx = 0; tx < t->tiles_x; tx++) {
			const int64_t n = ty * t->tiles_x + tx, y0 = ty * t->step - t->pad, x0 = tx * t->step - t->pad;
			for (int64_t c0 = 0; c0 < t->ch; c0 += HM_TBLOCK) {
				const int64_t cb = t->ch - c0 < HM_TBLOCK ? t->ch - c0 : HM_TBLOCK;
				for (int64_t a = 0; a < q; a++)
					for (int64_t b = 0; b < q; b++) {
						float *row = pb + (a * q + b) * cb;
						const int64_t y = y0 + a, x = x0 + b;
						if (y < 0 || y >= t->h || x < 0 || x >= t->w)
							memset(row, 0, (size_t)cb * sizeof(float));
						else
							memcpy(row, img + (y * t->w + x) * t->ch + c0, (size_t)cb * sizeof(float));
					}
				tile_mul_scalar(zb, pb, l, p, q, cb);
				for (int64_t k = 0; k < p; k++)
					for (int64_t m = 0; m < p; m++)
						tile_out_scalar(dst + ((k * p + m) * ld + n) * t->ch + c0, zb + k * q * cb, l + m * q, q, cb);
			}
		}
}

void hm_tiles_back_scalar(const float *src, int64_t ld, const float *l, int64_t p, int64_t q, float *img, const hm_tiling *t,
                          const float *bias) {
	float sb[HM_MAXTILE * HM_MAXTILE * HM_TBLOCK], zb[HM_MAXTILE * HM_MAXTILE * HM_TBLOCK];
	for (int64_t ty = 0; ty < t->tiles_y; ty++)
		for (int64_t tx = 0; tx < t->tiles_x; tx++) {
			const int64_t n = ty * t->tiles_x + tx, y0 = ty * t->step - t->pad, x0 = tx * t->step - t->pad;
			for (int64_t c0 = 0; c0 < t->ch; c0 += HM_TBLOCK) {
				const int64_t cb = t->ch - c0 < HM_TBLOCK ? t->ch - c0 : HM_TBLOCK;
				for (int64_t ab = 0; ab < q * q; ab++)
					memcpy(sb + ab * cb, src + (ab * ld + n) * t->ch + c0, (size_t)cb * sizeof(float));
				tile_mul_scalar(zb, sb, l, p, q, cb);
				for (int64_t k = 0; k < p; k++)
					for (int64_t m = 0; m < p; m++) {
						const int64_t y = y0 + k, x = x0 + m;
						if (y < 0 || y >= t->h || x < 0 || x >= t->w) continue;
						float *out = img + (y * t->w + x) * t->ch + c0;
						tile_out_scalar(out, zb + k * q * cb, l + m * q, q, cb);
						if (bias)
							for (int64_t c = 0; c < cb; c++) out[c] = out[c] + bias[c0 + c];
					}
			}
		}
}

int hm_all_ones(const float *v, int64_t n) {
	uint32_t acc = 0;
	for (int64_t i = 0; i < n; i++) {
		uint32_t b;
		memcpy(&b, v + i, sizeof b);
		acc |= b ^ 0x3F800000u;
	}
	return acc == 0;
}

void hm_transpose(int path, float *dst, int64_t ldd, const float *src, int64_t lds, int64_t rows, int64_t cols) {
	HM_DISPATCH(HM_VOID, hm_transpose, (dst, ldd, src, lds, rows, cols))
}

void hm_transpose_scalar(float *dst, int64_t ldd, const float *src, int64_t lds, int64_t rows, int64_t cols) {
	const int64_t blk = 16;
	for (int64_t i0 = 0; i0 < rows; i0 += blk) {
		const int64_t i1 = i0 + blk < rows ? i0 + blk : rows;
		for (int64_t j0 = 0; j0 < cols; j0 += blk) {
			const int64_t j1 = j0 + blk < cols ? j0 + blk : cols;
			for (int64_t j = j0; j < j1; j++)
				for (int64_t i = i0; i < i1; i++) dst[j * ldd + i] = src[i * lds + j];
		}
	}
}
