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
double hm_diff_stats(int path, const float *a, float *b, int64_t rows, int64_t cols, int64_t ld, float *colsum, float alpha, float *sq,
                     int negb);
void hm_momentum_step(int path, float *w, float *vel, int64_t n, float decay);
// hm_adam_step is one Adam update of n values: m = b1*m + (1-b1)*g,
// v = b2*v + (1-b2)*g*g, then w -= step*m / (sqrt(v)*c2 + eps).
void hm_adam_step(int path, float *w, const float *g, float *m, float *v, int64_t n, float b1, float b2, float step, float c2, float eps);
void hm_scale(int path, float *x, int64_t n, float f);
void hm_softplus_rowsum(int path, const float *x, const float *bias, int64_t rows, int64_t cols, int64_t ld, float beta, double *out);
void hm_ais_hidden(int path, const float *x, const float *bias, int64_t rows, int64_t cols, float bk, float bp, float *s, uint64_t key, uint64_t base, double *delta);
void hm_flip_rowsum(int path, const float *w, const float *wneg, const float *v, int64_t rows, int64_t cols, const float *x, double *out);

// Real-valued units (see real.go). The normal deviate of element e of a
// block of the stream at counter base comes from numbers base + (e & ~1)
// and base + (e | 1) by the Box-Muller transform; the kernels below work on
// rows whole rows of cols values that are elements c0 ... of the block.
void hm_normals(int path, uint64_t key, uint64_t base, uint64_t c0, int64_t n, float *out);
void hm_gaussian_sample(int path, float *s, const float *mean, const float *std, int64_t rows, int64_t cols, uint64_t key, uint64_t base, uint64_t c0);
void hm_relu_bias(int path, float *x, const float *bias, int64_t rows, int64_t cols);
void hm_relu_bias_sample(int path, float *p, float *s, const float *bias, int64_t rows, int64_t cols, uint64_t key, uint64_t base, uint64_t c0);
void hm_add_row(int path, float *x, const float *v, int64_t rows, int64_t cols);

// Network activations (hm_act): kind HM_ACT_* sets out[i], i < n, to a
// function of x[i] (the forward kinds) or the gradient dy[i] times the
// derivative from x[i] or y[i] (the _GRAD kinds); alpha is the leaky
// ReLU's slope. See activateGo (kernels_go.go) for each kind's definition.
enum {
	HM_ACT_SIGMOID = 0,
	HM_ACT_RELU = 1,
	HM_ACT_LEAKY = 2,
	HM_ACT_SIGMOID_GRAD = 3,
	HM_ACT_TANH_GRAD = 4,
	HM_ACT_RELU_GRAD = 5,
	HM_ACT_LEAKY_GRAD = 6,
};
void hm_act(int path, int kind, float alpha, const float *x, const float *y, const float *dy, float *out, int64_t n);

// Winograd tiles (see tiles.go): hm_tiles_fwd is TileTransform and
// hm_tiles_back TileUntransform, for transforms of at most HM_MAXTILE
// square, working on HM_TBLOCK channels at a time.
#define HM_MAXTILE 8
#define HM_TBLOCK 64
typedef struct {
	int64_t h, w, ch, tiles_y, tiles_x, step, pad;
} hm_tiling;
// hm_tile_row lists the nonzero entries of a row of a transform, in order.
typedef struct {
	int n;
	int idx[HM_MAXTILE];
	float val[HM_MAXTILE];
} hm_tile_row;
static inline void hm_tile_rows(const float *l, int64_t p, int64_t q, hm_tile_row *rows) {
	for (int64_t k = 0; k < p; k++) {
		rows[k].n = 0;
		for (int64_t a = 0; a < q; a++)
			if (l[k * q + a] != 0.0f) {
				rows[k].idx[rows[k].n] = (int)a;
				rows[k].val[rows[k].n++] = l[k * q + a];
			}
	}
}
void hm_tiles_fwd(int path, const float *img, hm_tiling t, const float *l, int64_t p, int64_t q, float *dst, int64_t ld);
void hm_tiles_back(int path, const float *src, int64_t ld, const float *l, int64_t p, int64_t q, float *img, hm_tiling t,
                   const float *bias);

// hm_all_ones reports whether the n values at v are all exactly 1.
int hm_all_ones(const float *v, int64_t n);

// hm_transpose sets dst (cols x rows, rows ldd apart) to the transpose of
// src (rows x cols, rows lds apart): a copy, the same on every path.
void hm_transpose(int path, float *dst, int64_t ldd, const float *src, int64_t lds, int64_t rows, int64_t cols);

// hm_spmm multiplies a sparse matrix (rows rows in compressed form: the
// entries of row r are val[p] in column idx[p] for ptr[r] <= p < ptr[r+1])
// by the dense b (ldb apart) over columns 0 ... cols-1: with s the sum over
// p, in order, of val[p] * b[idx[p]*ldb + j], it sets out[r*ldo + j] to
// alpha*s, or to beta*out[r*ldo + j] + alpha*s when beta is not 0. val
// NULL stands for values that are all 1.
void hm_spmm(int path, const int32_t *ptr, const int32_t *idx, const float *val, int64_t rows, const float *b, int64_t ldb,
             int64_t cols, float alpha, float beta, float *out, int64_t ldo);

// hm_sparse_from stores the nonzero entries of the rows x cols matrix d
// (rows contiguous) by row: row r's are val[p] in column idx[p] for
// ptr[r] <= p < ptr[r+1], in column order; idx and val have room for
// rows*cols + 16 values. It sets count[c] to the number of entries of
// column c and returns the number of entries.
int64_t hm_sparse_from(int path, const float *d, int64_t rows, int64_t cols, int32_t *ptr, int32_t *idx, float *val,
                       int32_t *count);
// hm_sparse_transpose stores the entries of the rows x cols matrix given
// by row (as hm_sparse_from leaves it, with tptr[1 + c] its count of
// column c) by column: column c's are tval[p] in row tidx[p] for tptr[c] <=
// p < tptr[c+1], in row order.
void hm_sparse_transpose(int64_t rows, int64_t cols, const int32_t *ptr, const int32_t *idx, const float *val, int32_t *tptr,
                         int32_t *tidx, float *tval);

// The versions of each kernel, declared for every suffix in HM_ISAS.
#define HM_DECLARE(sfx)                                                                                                       \
	void hm_philox_fill_##sfx(uint64_t key, uint64_t c0, int64_t n, uint32_t *out);                                          \
	void hm_sigmoid_bias_##sfx(float *x, const float *bias, int64_t rows, int64_t cols, int64_t ld);                         \
	void hm_sigmoid_bias_sample_##sfx(float *x, float *s, const float *bias, int64_t rows, int64_t cols, int64_t ld,          \
	                                  uint64_t key, uint64_t base);                                                          \
	void hm_bernoulli_##sfx(float *s, const float *p, int64_t n, uint64_t key, uint64_t base);                               \
	double hm_diff_stats_##sfx(const float *a, float *b, int64_t rows, int64_t cols, int64_t ld, float *colsum, float alpha,  \
	                           float *sq, int negb);                                                                         \
	void hm_momentum_step_##sfx(float *w, float *vel, int64_t n, float decay);                                               \
	void hm_adam_step_##sfx(float *w, const float *g, float *m, float *v, int64_t n, float b1, float b2, float step, float c2, \
	                        float eps);                                                                                      \
	void hm_scale_##sfx(float *x, int64_t n, float f);                                                                       \
	void hm_softplus_rowsum_##sfx(const float *x, const float *bias, int64_t rows, int64_t cols, int64_t ld, float beta,     \
	                              double *out);                                                                              \
	void hm_ais_hidden_##sfx(const float *x, const float *bias, int64_t rows, int64_t cols, float bk, float bp, float *s,     \
	                         uint64_t key, uint64_t base, double *delta);                                                    \
	void hm_flip_rowsum_##sfx(const float *w, const float *wneg, const float *v, int64_t rows, int64_t cols, const float *x, \
	                          double *out);                                                                                \
	void hm_normals_##sfx(uint64_t key, uint64_t base, uint64_t c0, int64_t n, float *out);                                \
	void hm_gaussian_sample_##sfx(float *s, const float *mean, const float *std, int64_t rows, int64_t cols, uint64_t key,  \
	                              uint64_t base, uint64_t c0);                                                             \
	void hm_relu_bias_##sfx(float *x, const float *bias, int64_t rows, int64_t cols);                                      \
	void hm_relu_bias_sample_##sfx(float *p, float *s, const float *bias, int64_t rows, int64_t cols, uint64_t key,         \
	                               uint64_t base, uint64_t c0);                                                            \
	void hm_add_row_##sfx(float *x, const float *v, int64_t rows, int64_t cols);                                      \
	void hm_act_##sfx(int kind, float alpha, const float *x, const float *y, const float *dy, float *out, int64_t n);        \
	void hm_spmm_##sfx(const int32_t *ptr, const int32_t *idx, const float *val, int64_t rows, const float *b, int64_t ldb,  \
	                   int64_t cols, float alpha, float beta, float *out, int64_t ldo);                                     \
	int64_t hm_compress_rows_##sfx(const float *d, int64_t rows, int64_t cols, int32_t *ptr, int32_t *idx, float *val,      \
	                               int32_t *count);                                                                          \
	void hm_transpose_##sfx(float *dst, int64_t ldd, const float *src, int64_t lds, int64_t rows, int64_t cols);            \
	void hm_tiles_fwd_##sfx(const float *img, const hm_tiling *t, const float *l, int64_t p, int64_t q, float *dst, int64_t ld); \
	void hm_tiles_back_##sfx(const float *src, int64_t ld, const float *l, int64_t p, int64_t q, float *img, const hm_tiling *t, \
	                         const float *bias);

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
// Normal deviates are computed HM_NCHUNK at a time into a buffer of
// HM_ZBUF floats (with the rest of the last vectors), from at most
// HM_NCHUNK + 2 numbers of the stream (a pair of numbers per pair of
// deviates, and a pair that the chunk shares with its neighbour at each
// end): with the partial blocks at both ends, at most HM_CHUNK / 4 blocks,
// a whole number of the vector versions' groups of blocks.
#define HM_NCHUNK (HM_CHUNK - 8)
#define HM_ZBUF (HM_CHUNK + 32)

// hm_lanes8[m] holds the positions of the set bits of the 8-bit mask m, in
// order, one per byte from the lowest (AVX2's compress).
extern const uint64_t hm_lanes8[256];

// The constants of the Box-Muller transform (real.go): Cephes's logf,
// sinf and cosf polynomials, and 2 pi / 2^24 as a float.
#define HM_LOG_L0 7.0376836292E-2f
#define HM_LOG_L1 -1.1514610310E-1f
#define HM_LOG_L2 1.1676998740E-1f
#define HM_LOG_L3 -1.2420140846E-1f
#define HM_LOG_L4 1.4249322787E-1f
#define HM_LOG_L5 -1.6668057665E-1f
#define HM_LOG_L6 2.0000714765E-1f
#define HM_LOG_L7 -2.4999993993E-1f
#define HM_LOG_L8 3.3333331174E-1f
#define HM_LN2_HI 0.693359375f
#define HM_LN2_LO -2.12194440e-4f
#define HM_SQRT_HALF_BITS 0x3F3504F3u
#define HM_SIN_S0 -1.9515295891E-4f
#define HM_SIN_S1 8.3321608736E-3f
#define HM_SIN_S2 -1.6666654611E-1f
#define HM_COS_C0 2.443315711809948E-5f
#define HM_COS_C1 -1.388731625493765E-3f
#define HM_COS_C2 4.166664568298827E-2f
#define HM_TURN_STEP 0x1.921fb6p-22f

#endif
