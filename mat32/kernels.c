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

#define HM_LANES 16

// hm_softplus_rowsum sets out[i] = sum_j softplus(beta * (x[i*ld+j] + bias[j])),
// summing in HM_LANES float lanes (so that it vectorises) and then in double.
HM_CLONES
void hm_softplus_rowsum(const float *x, const float *bias, int64_t rows, int64_t cols, int64_t ld, float beta, double *out) {
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
HM_CLONES
void hm_ais_hidden(const float *x, const float *bias, int64_t rows, int64_t cols, float bk, float bp, float *s, uint64_t key, uint64_t base, double *delta) {
	for (int64_t i = 0; i < rows; i++) {
		const float *row = x + i * cols;
		float *srow = s + i * cols;
		uint64_t b = base + (uint64_t)(i * cols);
		float acc[HM_LANES] = {0};
		int64_t j = 0;
		for (; j + HM_LANES <= cols; j += HM_LANES)
			for (int k = 0; k < HM_LANES; k++) {
				float t = row[j + k] + bias[j + k];
				acc[k] += hm_softplus(bk * t) - hm_softplus(bp * t);
				srow[j + k] = hm_uniform(key, b + (uint64_t)(j + k)) < hm_sigmoid(bk * t) ? 1.0f : 0.0f;
			}
		double total = 0;
		for (; j < cols; j++) {
			float t = row[j] + bias[j];
			total += (double)(hm_softplus(bk * t) - hm_softplus(bp * t));
			srow[j] = hm_uniform(key, b + (uint64_t)j) < hm_sigmoid(bk * t) ? 1.0f : 0.0f;
		}
		for (int k = 0; k < HM_LANES; k++) total += (double)acc[k];
		delta[i] += total;
	}
}

// hm_flip_rowsum sets out[i] = sum_j softplus(r[j] + x[j]) where r is row i
// of wneg when v[i] > 0.5 and of w otherwise: the hidden inputs after
// flipping visible unit i of a binary v (x holds the inputs before).
HM_CLONES
void hm_flip_rowsum(const float *w, const float *wneg, const float *v, int64_t rows, int64_t cols, const float *x, double *out) {
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
