// C element-wise kernels for mat32 (cgo builds). They compute exactly what
// kernels_go.go computes, vectorised by the compiler.
#include <stdint.h>

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


void hm_sigmoid_bias(float *x, const float *bias, int64_t rows, int64_t cols, int64_t ld);
void hm_sigmoid_bias_sample(float *x, float *s, const float *bias, int64_t rows, int64_t cols, int64_t ld, uint64_t key, uint64_t base);
void hm_bernoulli(float *s, const float *p, int64_t n, uint64_t key, uint64_t base);
double hm_diff_stats(const float *a, const float *b, int64_t rows, int64_t cols, float *colsum, float alpha, float *sq);
void hm_momentum_step(float *w, float *vel, int64_t n, float decay);
void hm_scale(float *x, int64_t n, float f);
void hm_softplus_rowsum(const float *x, const float *bias, int64_t rows, int64_t cols, int64_t ld, float beta, double *out);
void hm_ais_hidden(const float *x, const float *bias, int64_t rows, int64_t cols, float bk, float bp, float *s, uint64_t key, uint64_t base, double *delta);
void hm_flip_rowsum(const float *w, const float *wneg, const float *v, int64_t rows, int64_t cols, const float *x, double *out);
