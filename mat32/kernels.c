//go:build cgo

#include <string.h>
#include "kernels.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define HM_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define HM_CLONES
#endif

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

static inline float hm_uniform(uint64_t k, uint64_t c) {
	uint64_t x = c * 0x9E3779B97F4A7C15ULL + k;
	x ^= x >> 30;
	x *= 0xBF58476D1CE4E5B9ULL;
	x ^= x >> 27;
	x *= 0x94D049BB133111EBULL;
	x ^= x >> 31;
	return (float)(int32_t)(x >> 40) * (1.0f / 16777216.0f);
}

HM_CLONES
void hm_sigmoid_bias(float *x, const float *bias, int64_t rows, int64_t cols, int64_t ld) {
	for (int64_t i = 0; i < rows; i++) {
		float *row = x + i * ld;
		for (int64_t j = 0; j < cols; j++) row[j] = hm_sigmoid(row[j] + bias[j]);
	}
}

HM_CLONES
void hm_sigmoid_bias_sample(float *x, float *s, const float *bias, int64_t rows, int64_t cols, int64_t ld, uint64_t key, uint64_t base) {
	for (int64_t i = 0; i < rows; i++) {
		float *row = x + i * ld;
		float *srow = s + i * ld;
		uint64_t b = base + (uint64_t)(i * ld);
		for (int64_t j = 0; j < cols; j++) {
			float p = hm_sigmoid(row[j] + bias[j]);
			row[j] = p;
			srow[j] = hm_uniform(key, b + (uint64_t)j) < p ? 1.0f : 0.0f;
		}
	}
}

HM_CLONES
void hm_bernoulli(float *s, const float *p, int64_t n, uint64_t key, uint64_t base) {
	for (int64_t i = 0; i < n; i++) s[i] = hm_uniform(key, base + (uint64_t)i) < p[i] ? 1.0f : 0.0f;
}

HM_CLONES
double hm_diff_stats(const float *a, const float *b, int64_t rows, int64_t cols, float *colsum, float alpha, float *sq) {
	for (int64_t j = 0; j < cols; j++) sq[j] = 0;
	for (int64_t i = 0; i < rows; i++) {
		const float *ar = a + i * cols, *br = b + i * cols;
		for (int64_t j = 0; j < cols; j++) {
			float d = ar[j] - br[j];
			sq[j] = sq[j] + d * d;
			colsum[j] = colsum[j] + alpha * d;
		}
	}
	double total = 0;
	for (int64_t j = 0; j < cols; j++) total += (double)sq[j];
	return total;
}

HM_CLONES
void hm_momentum_step(float *w, float *vel, int64_t n, float decay) {
	for (int64_t i = 0; i < n; i++) {
		float v = vel[i] - decay * w[i];
		// Velocities of units that never fire decay towards zero; flush
		// them before they turn denormal and slow everything down.
		v = (v < 1e-30f && v > -1e-30f) ? 0.0f : v;
		vel[i] = v;
		w[i] = w[i] + v;
	}
}

HM_CLONES
void hm_scale(float *x, int64_t n, float f) {
	for (int64_t i = 0; i < n; i++) x[i] = x[i] * f;
}
