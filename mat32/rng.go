package mat32

// RNG is a counter-based random stream: the n-th number it gives depends only
// on its key and n, never on which worker draws it. Kernels that sample take
// a block of counters from it and hand disjoint parts of the block to
// workers, so a sampled matrix is the same for any number of workers.
//
// The stream is Philox-4x32-10 (Salmon, Moraes, Dror and Shaw, "Parallel
// random numbers: as easy as 1, 2, 3", SC 2011; it passes TestU01's
// BigCrush): number n is 32-bit word n mod 4 of the Philox block of counter
// (n/4, 0, 0) under the stream's 64-bit key. Philox needs only 32x32->64-bit
// multiplies, which AVX2 and AVX-512 do eight or sixteen at a time, so the
// C kernels generate it in vector registers; the Go functions below are the
// reference they match bit for bit.
type RNG struct {
	key uint64
	ctr uint64

	// The last block computed by Float32 or Uint64, so that sequential
	// draws compute each block once.
	blk   uint64 // its block index plus one (0: none)
	words [4]uint32
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

// word returns number c of the stream, using the cached block when it can.
func (r *RNG) word(c uint64) uint32 {
	if q := c >> 2; r.blk != q+1 {
		r.words = philox(r.key, q)
		r.blk = q + 1
	}
	return r.words[c&3]
}

// Uint64 returns the next 64-bit random number of the stream (two numbers
// of the stream, the first in the high half).
func (r *RNG) Uint64() uint64 {
	c := r.take(2)
	hi := r.word(c)
	return uint64(hi)<<32 | uint64(r.word(c+1))
}

// Float32 returns the next number of the stream, uniform in [0, 1).
func (r *RNG) Float32() float32 { return toUniform(r.word(r.take(1))) }

// Uniform fills dst with uniform numbers in [0, 1).
func (r *RNG) Uniform(dst []float32) {
	base := r.take(len(dst))
	var buf [uniformChunk + 8]uint32
	for lo := 0; lo < len(dst); lo += uniformChunk {
		part := dst[lo:min(lo+uniformChunk, len(dst))]
		w := fillWords(r.key, base+uint64(lo), len(part), buf[:])
		for i := range part {
			part[i] = toUniform(w[i])
		}
	}
}

// mix64 is the SplitMix64 finaliser (used only to derive keys from seeds).
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xBF58476D1CE4E5B9
	x ^= x >> 27
	x *= 0x94D049BB133111EB
	x ^= x >> 31
	return x
}

// Philox-4x32 constants: the multipliers and the Weyl key increments.
const (
	philoxM0 = 0xD2511F53
	philoxM1 = 0xCD9E8D57
	philoxW0 = 0x9E3779B9
	philoxW1 = 0xBB67AE85
)

// philox4x32 is Philox-4x32-10 of counter c under key k, as Random123 defines it.
func philox4x32(k [2]uint32, c [4]uint32) [4]uint32 {
	k0, k1 := k[0], k[1]
	c0, c1, c2, c3 := c[0], c[1], c[2], c[3]
	// Ten rounds, written out (Go does not unroll loops); round r's key is
	// k + r*(philoxW0, philoxW1) modulo 2^32.
	c0, c1, c2, c3 = philoxRound(c0, c1, c2, c3, k0, k1)
	c0, c1, c2, c3 = philoxRound(c0, c1, c2, c3, k0+0x9E3779B9, k1+0xBB67AE85)
	c0, c1, c2, c3 = philoxRound(c0, c1, c2, c3, k0+0x3C6EF372, k1+0x76CF5D0A)
	c0, c1, c2, c3 = philoxRound(c0, c1, c2, c3, k0+0xDAA66D2B, k1+0x32370B8F)
	c0, c1, c2, c3 = philoxRound(c0, c1, c2, c3, k0+0x78DDE6E4, k1+0xED9EBA14)
	c0, c1, c2, c3 = philoxRound(c0, c1, c2, c3, k0+0x1715609D, k1+0xA9066899)
	c0, c1, c2, c3 = philoxRound(c0, c1, c2, c3, k0+0xB54CDA56, k1+0x646E171E)
	c0, c1, c2, c3 = philoxRound(c0, c1, c2, c3, k0+0x5384540F, k1+0x1FD5C5A3)
	c0, c1, c2, c3 = philoxRound(c0, c1, c2, c3, k0+0xF1BBCDC8, k1+0xDB3D7428)
	c0, c1, c2, c3 = philoxRound(c0, c1, c2, c3, k0+0x8FF34781, k1+0x96A522AD)
	return [4]uint32{c0, c1, c2, c3}
}

// philoxRound is one Philox-4x32 round with round key (k0, k1).
func philoxRound(c0, c1, c2, c3, k0, k1 uint32) (uint32, uint32, uint32, uint32) {
	p0 := uint64(philoxM0) * uint64(c0)
	p1 := uint64(philoxM1) * uint64(c2)
	return uint32(p1>>32) ^ c1 ^ k0, uint32(p1), uint32(p0>>32) ^ c3 ^ k1, uint32(p0)
}

// philox returns block q of the stream with key key: the four numbers
// 4q ... 4q+3.
func philox(key, q uint64) [4]uint32 {
	return philox4x32([2]uint32{uint32(key), uint32(key >> 32)}, [4]uint32{uint32(q), uint32(q >> 32), 0, 0})
}

// hash returns number c of the stream with key k. The C kernels compute the
// same function.
func hash(k, c uint64) uint32 { return philox(k, c>>2)[c&3] }

// toUniform maps the top 24 bits of a number to [0, 1).
func toUniform(w uint32) float32 { return float32(w>>8) * (1.0 / (1 << 24)) }

// uniformChunk is how many numbers the Go kernels generate at a time.
const uniformChunk = 512

// fillWords computes numbers c0 ... c0+n-1 of the stream with key key into
// buf, which must hold n+6 words (whole blocks), and returns the slice of
// buf that holds them (number c0+i at index i). Each block is computed once.
func fillWords(key, c0 uint64, n int, buf []uint32) []uint32 {
	off := int(c0 & 3)
	k := [2]uint32{uint32(key), uint32(key >> 32)}
	q := c0 >> 2
	for i := 0; i < off+n; i += 4 {
		w := philox4x32(k, [4]uint32{uint32(q), uint32(q >> 32), 0, 0})
		q++
		b := buf[i : i+4]
		b[0], b[1], b[2], b[3] = w[0], w[1], w[2], w[3]
	}
	return buf[off : off+n]
}

// philoxFillGo computes numbers c0 ... c0+len(out)-1 of stream key.
func philoxFillGo(key, c0 uint64, out []uint32) {
	var buf [uniformChunk + 8]uint32
	for lo := 0; lo < len(out); lo += uniformChunk {
		hi := min(lo+uniformChunk, len(out))
		copy(out[lo:hi], fillWords(key, c0+uint64(lo), hi-lo, buf[:]))
	}
}
