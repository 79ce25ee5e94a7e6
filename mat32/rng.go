package mat32

// RNG is a counter-based random stream: the n-th number it gives depends only
// on its key and n, never on which worker draws it. Kernels that sample take
// a block of counters from it and hand disjoint parts of the block to
// workers, so a sampled matrix is the same for any number of workers.
type RNG struct {
	key uint64
	ctr uint64
}

// NewRNG returns a stream for the given seed. Different streams (for example
// one per training epoch) come from different stream numbers.
func NewRNG(seed, stream uint64) *RNG {
	return &RNG{key: mix64(seed*0x9E3779B97F4A7C15 ^ mix64(stream+0x632BE59BD9B4E019))}
}

// take reserves n counters and returns the first.
func (r *RNG) take(n int) uint64 {
	c := r.ctr
	r.ctr += uint64(n)
	return c
}

// Uint64 returns the next 64-bit random number of the stream.
func (r *RNG) Uint64() uint64 { return hash(r.key, r.take(1)) }

// Float32 returns the next number of the stream, uniform in [0, 1).
func (r *RNG) Float32() float32 { return uniform(r.key, r.take(1)) }

// Uniform fills dst with uniform numbers in [0, 1).
func (r *RNG) Uniform(dst []float32) {
	base := r.take(len(dst))
	for i := range dst {
		dst[i] = uniform(r.key, base+uint64(i))
	}
}

// mix64 is the SplitMix64 finaliser.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xBF58476D1CE4E5B9
	x ^= x >> 27
	x *= 0x94D049BB133111EB
	x ^= x >> 31
	return x
}

// hash returns the random number at counter c of the stream with key k. The
// C kernels compute the same function.
func hash(k, c uint64) uint64 { return mix64(c*0x9E3779B97F4A7C15 + k) }

// uniform maps the top 24 bits of hash(k, c) to [0, 1).
func uniform(k, c uint64) float32 {
	return float32(hash(k, c)>>40) * (1.0 / (1 << 24))
}
