package mat32

import (
	"fmt"
	"math"
)

// This file holds the element-wise kernels of real-valued units: Gaussian
// sampling and rectified linear units, and the standard normal deviates
// they draw. The functions ending in Go are the references that the C
// kernels (kernels.c, kernels_simd.h) match bit for bit; each element's
// random numbers come from fixed counters of the stream, so results do not
// depend on how rows are split between workers.
//
// Normal deviates come from the Box-Muller transform computed in float32
// with polynomial approximations that use only additions, multiplications,
// a square root and integer operations on the bits, so that Go, portable C
// and the vector code give the same bits (see normalPair). Elements 2k and
// 2k+1 of a block of the stream that starts at counter base share the pair
// of numbers base+2k (the radius) and base+2k+1 (the angle): any element
// can be computed without the ones before it, and a block of n elements
// takes n rounded up to even numbers of the stream.

// Constants of logUniform: Cephes's logf polynomial for ln(1+x) on
// [sqrt(1/2)-1, sqrt(2)-1], and ln 2 split in two (ln2Hi has few bits, so
// that e*ln2Hi is exact).
const (
	logL0 = 7.0376836292e-2
	logL1 = -1.1514610310e-1
	logL2 = 1.1676998740e-1
	logL3 = -1.2420140846e-1
	logL4 = 1.4249322787e-1
	logL5 = -1.6668057665e-1
	logL6 = 2.0000714765e-1
	logL7 = -2.4999993993e-1
	logL8 = 3.3333331174e-1
	// sqrtHalfBits are the bits of float32 sqrt(1/2).
	sqrtHalfBits = 0x3F3504F3
)

// Constants of sincosTurns: Cephes's sinf and cosf polynomials on
// [-pi/4, pi/4], and the angle of one step of the 24-bit turn.
const (
	sinS0 = -1.9515295891e-4
	sinS1 = 8.3321608736e-3
	sinS2 = -1.6666654611e-1
	cosC0 = 2.443315711809948e-5
	cosC1 = -1.388731625493765e-3
	cosC2 = 4.166664568298827e-2
	// turnStep is 2 pi / 2^24 rounded to float32.
	turnStep = float32(2 * math.Pi / (1 << 24))
)

// logUniform returns ln(u) for the uniform u = (w>>8 + 1) / 2^24 in
// (0, 1] of a number of the stream (relative error below 2e-7; see
// TestNormalApproximations). It never returns a positive number.
//
// u = z * 2^(k-24) with z in [sqrt(1/2), sqrt(2)), k an integer, read off
// the bits of w>>8 + 1 (exact in float32); ln(z) = ln(1+x) is Cephes's
// polynomial in x = z-1 (exact).
func logUniform(w uint32) float32 {
	bits := math.Float32bits(float32(w>>8 + 1))
	t := bits - sqrtHalfBits // positive: w>>8 + 1 >= 1
	e := float32(int32(t>>23) - 24)
	x := math.Float32frombits(bits-t&0xFF800000) - 1
	// Every product is converted explicitly so that no compiler fuses it
	// into a multiply-add: the C kernels must see exactly these roundings.
	z := float32(x * x)
	y := float32(logL0)
	y = float32(y*x) + logL1
	y = float32(y*x) + logL2
	y = float32(y*x) + logL3
	y = float32(y*x) + logL4
	y = float32(y*x) + logL5
	y = float32(y*x) + logL6
	y = float32(y*x) + logL7
	y = float32(y*x) + logL8
	y = float32(float32(y*x) * z)
	y = y + float32(e*ln2Lo)
	y = y + float32(z*-0.5)
	x = x + y
	return x + float32(e*ln2Hi)
}

// sincosTurns returns sin and cos of 2 pi t / 2^24 for t < 2^24 (absolute
// error below 1e-7). The angle is reduced exactly, in integers, to
// a = 2 pi d / 2^24 with |d| <= 2^21 (|a| <= pi/4) plus a multiple q of a
// quarter turn; sin(a) and cos(a) are Cephes's polynomials, and the
// quarter turns swap them and flip their signs.
func sincosTurns(t uint32) (sin, cos float32) {
	q := (t + 1<<21) >> 22 // the nearest quarter turn, 0 ... 4
	a := float32(float32(int32(t)-int32(q<<22)) * turnStep)
	z := float32(a * a)
	s := float32(sinS0)
	s = float32(s*z) + sinS1
	s = float32(s*z) + sinS2
	s = float32(float32(s*z)*a) + a
	c := float32(cosC0)
	c = float32(c*z) + cosC1
	c = float32(c*z) + cosC2
	c = float32(float32(c*z) * z)
	c = c + float32(z*-0.5)
	c = c + 1
	if q&1 != 0 {
		s, c = c, s
	}
	// sin is negative in quarters 2 and 3, cos in quarters 1 and 2.
	s = math.Float32frombits(math.Float32bits(s) ^ (q&2)<<30)
	c = math.Float32frombits(math.Float32bits(c) ^ ((q+1)&2)<<30)
	return s, c
}

// normalPair maps two numbers of the stream to two independent standard
// normal deviates: sqrt(-2 ln u1) (cos, sin)(2 pi u2) with u1 = (w0>>8 +
// 1)/2^24 in (0, 1] and u2 = (w1>>8)/2^24 in [0, 1) (Box and Muller,
// 1958). The deviates are bounded by sqrt(48 ln 2) = 5.77 (the normal
// exceeds that with probability 8e-9).
func normalPair(w0, w1 uint32) (float32, float32) {
	r := float32(math.Sqrt(float64(float32(logUniform(w0) * -2))))
	s, c := sincosTurns(w1 >> 8)
	return float32(r * c), float32(r * s)
}

// normalChunk is how many normal deviates the Go kernels draw at a time
// (even, so pairs never straddle two chunks).
const normalChunk = uniformChunk

// normalsGo sets out[i] to the standard normal deviate of element c0+i of
// a block of the stream that starts at counter base.
func normalsGo(key, base, c0 uint64, out []float32) {
	var buf [uniformChunk + 8]uint32
	end := c0 + uint64(len(out))
	for e := c0 &^ 1; e < end; e += normalChunk {
		m := min(normalChunk, end-e)
		m += m & 1
		w := fillWords(key, base+e, int(m), buf[:])
		for k := uint64(0); k < m; k += 2 {
			a, b := normalPair(w[k], w[k+1])
			if i := e + k; i >= c0 {
				out[i-c0] = a
			}
			if i := e + k + 1; i < end {
				out[i-c0] = b
			}
		}
	}
}

// Normal fills dst with independent standard normal deviates.
func (r *RNG) Normal(dst []float32) {
	base := r.take(len(dst) + len(dst)&1)
	normals(r.key, base, 0, dst)
}

// GaussianSample sets s[i,j] = mean[i,j] + std[j] * z, z standard normal
// drawn from r. s and mean may be the same matrix.
func GaussianSample(s, mean *Dense, std []float32, r *RNG) {
	if !s.SameShape(mean) {
		panic("mat32: GaussianSample shapes differ")
	}
	checkBias(s, std)
	base := r.take(len(s.Data) + len(s.Data)&1)
	runKernel(kGaussian, mean.Data, s.Data, std, s.Rows, s.Cols, r.key, base, 0)
}

// gaussianSampleGo sets s[k] = mean[k] + std[k%cols] * z[k] on rows whole
// rows of len(std) values, where z[k] is the normal deviate of element
// c0+k of the block of stream key at base.
func gaussianSampleGo(s, mean, std []float32, rows int, key, base, c0 uint64) {
	cols := len(std)
	n := rows * cols
	s, mean = s[:n], mean[:n]
	var z [normalChunk]float32
	j := 0
	for lo := 0; lo < n; lo += normalChunk {
		hi := min(lo+normalChunk, n)
		normalsGo(key, base, c0+uint64(lo), z[:hi-lo])
		for k := lo; k < hi; k++ {
			s[k] = mean[k] + float32(std[j]*z[k-lo])
			if j++; j == cols {
				j = 0
			}
		}
	}
}

// LinearBias adds bias[j] to x[i,j]: the mean of Gaussian units given
// their input.
func LinearBias(x *Dense, bias []float32) {
	checkBias(x, bias)
	addRow(x.Data, bias, x.Rows)
}

// addRowGo adds v to each of rows rows of len(v) values.
func addRowGo(x, v []float32, rows int) {
	for i := 0; i < rows; i++ {
		row := x[i*len(v) : (i+1)*len(v)]
		for j, b := range v {
			row[j] += b
		}
	}
}

// ReLUBiasSample sets p[i,j] = max(0, x + bias[j]), x = p[i,j] on entry,
// and, when s is not nil, s[i,j] = max(0, x + bias[j] + sqrt(sigmoid(x +
// bias[j])) z) with z standard normal drawn from r: the noisy rectified
// linear units of Nair and Hinton (2010). r may be nil when s is. (NaN
// stays NaN, and max(0, -0) is -0.)
func ReLUBiasSample(p, s *Dense, bias []float32, r *RNG) {
	checkBias(p, bias)
	if s == nil {
		runKernel(kReLU, p.Data, nil, bias, p.Rows, p.Cols, 0, 0, 0)
		return
	}
	if !p.SameShape(s) {
		panic(fmt.Sprintf("mat32: ReLUBiasSample shapes %dx%d and %dx%d", p.Rows, p.Cols, s.Rows, s.Cols))
	}
	base := r.take(len(p.Data) + len(p.Data)&1)
	runKernel(kReLUSample, p.Data, s.Data, bias, p.Rows, p.Cols, r.key, base, 0)
}

// relu is x < 0 ? 0 : x, as the vector kernels compute it (NaN stays NaN
// and -0 stays -0, which Go's max(x, 0) would make +0).
func relu(x float32) float32 {
	if x < 0 {
		return 0
	}
	return x
}

// reluBiasGo sets x = relu(x + bias[col]) on rows whole rows of len(bias)
// values.
func reluBiasGo(x, bias []float32, rows int) {
	for i := 0; i < rows; i++ {
		row := x[i*len(bias) : (i+1)*len(bias)]
		for j, b := range bias {
			row[j] = relu(row[j] + b)
		}
	}
}

// reluBiasSampleGo is ReLUBiasSample on rows whole rows of len(bias)
// values that are elements c0 ... of the matrix: with x = p + bias[col],
// s = relu(x + sqrt(sigmoid(x)) z) and p = relu(x), z the normal deviate of
// the element's position in the block of stream key at base.
func reluBiasSampleGo(p, s, bias []float32, rows int, key, base, c0 uint64) {
	cols := len(bias)
	n := rows * cols
	p, s = p[:n], s[:n]
	var z [normalChunk]float32
	j := 0
	for lo := 0; lo < n; lo += normalChunk {
		hi := min(lo+normalChunk, n)
		normalsGo(key, base, c0+uint64(lo), z[:hi-lo])
		for k := lo; k < hi; k++ {
			x := p[k] + bias[j]
			sd := float32(math.Sqrt(float64(sigmoidf(x))))
			s[k] = relu(x + float32(sd*z[k-lo]))
			p[k] = relu(x)
			if j++; j == cols {
				j = 0
			}
		}
	}
}
