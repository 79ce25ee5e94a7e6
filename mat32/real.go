package mat32

import (
	"fmt"
	"math"
)

// This file holds the element-wise kernels of real-valued units: Gaussian
// sampling and rectified linear units. They are written in Go and spread
// over the workers like the others; each element's random numbers come from
// fixed counters of the stream, so results do not depend on the split.

// normalPair maps two numbers of the stream to two independent standard
// normal deviates (Box-Muller; the first uniform is in (0, 1] so its
// logarithm is finite).
func normalPair(w0, w1 uint32) (float32, float32) {
	u1 := (float64(w0>>8) + 1) * (1.0 / (1 << 24))
	u2 := float64(w1>>8) * (1.0 / (1 << 24))
	r := math.Sqrt(-2 * math.Log(u1))
	s, c := math.Sincos(2 * math.Pi * u2)
	return float32(r * c), float32(r * s)
}

// normalChunk is how many normal deviates the kernels draw at a time
// (even, so pairs never straddle two chunks).
const normalChunk = uniformChunk / 2

// normalsAt sets out[i] to the standard normal deviate of element c0+i of a
// block of the stream that starts at counter base: elements 2k and 2k+1
// share the Box-Muller draw of numbers base+4k ... base+4k+3 (the pair's
// two uniforms and two unused), so any element can be computed without
// the ones before it.
func normalsAt(key, base, c0 uint64, out []float32) {
	var buf [uniformChunk + 8]uint32
	end := c0 + uint64(len(out))
	for e := c0 &^ 1; e < end; e += normalChunk {
		m := min(normalChunk, end-e)
		m += m & 1
		w := fillWords(key, base+2*e, int(2*m), buf[:])
		for k := uint64(0); k < m; k += 2 {
			a, b := normalPair(w[2*k], w[2*k+1])
			if i := e + k; i >= c0 && i < end {
				out[i-c0] = a
			}
			if i := e + k + 1; i >= c0 && i < end {
				out[i-c0] = b
			}
		}
	}
}

// Normal fills dst with independent standard normal deviates.
func (r *RNG) Normal(dst []float32) {
	base := r.take(2 * (len(dst) + len(dst)&1))
	normalsAt(r.key, base, 0, dst)
}

// GaussianSample sets s[i,j] = mean[i,j] + std[j] * z, z standard normal
// drawn from r. s and mean may be the same matrix.
func GaussianSample(s, mean *Dense, std []float32, r *RNG) {
	if !s.SameShape(mean) {
		panic("mat32: GaussianSample shapes differ")
	}
	checkBias(s, std)
	base := r.take(2 * (len(s.Data) + len(s.Data)&1))
	runKernel(kGaussian, mean.Data, s.Data, std, s.Rows, s.Cols, r.key, base, 0)
}

// gaussianRange is GaussianSample on the elements c0 ... c0+len(s)-1 of a
// matrix with cols columns (s and mean hold just those elements).
func gaussianRange(s, mean, std []float32, cols int, key, base, c0 uint64) {
	var z [normalChunk]float32
	for lo := 0; lo < len(s); lo += normalChunk {
		hi := min(lo+normalChunk, len(s))
		normalsAt(key, base, c0+uint64(lo), z[:hi-lo])
		for k := lo; k < hi; k++ {
			s[k] = mean[k] + std[(int(c0)+k)%cols]*z[k-lo]
		}
	}
}

// LinearBias adds bias[j] to x[i,j]: the mean of Gaussian units given
// their input.
func LinearBias(x *Dense, bias []float32) { AddRowVector(x, bias) }

// ReLUBiasSample sets p[i,j] = max(0, x + bias[j]), x = p[i,j] on entry,
// and, when s is not nil, s[i,j] = max(0, x + bias[j] + sqrt(sigmoid(x +
// bias[j])) z) with z standard normal drawn from r: the noisy rectified
// linear units of Nair and Hinton (2010). r may be nil when s is.
func ReLUBiasSample(p, s *Dense, bias []float32, r *RNG) {
	checkBias(p, bias)
	if s == nil {
		runKernel(kReLU, p.Data, nil, bias, p.Rows, p.Cols, 0, 0, 0)
		return
	}
	if !p.SameShape(s) {
		panic(fmt.Sprintf("mat32: ReLUBiasSample shapes %dx%d and %dx%d", p.Rows, p.Cols, s.Rows, s.Cols))
	}
	base := r.take(2 * (len(p.Data) + len(p.Data)&1))
	runKernel(kReLUSample, p.Data, s.Data, bias, p.Rows, p.Cols, r.key, base, 0)
}

// reluRange sets x = max(0, x + bias[col]) on whole rows.
func reluRange(x, bias []float32, cols int) {
	for k := range x {
		x[k] = max(x[k]+bias[k%cols], 0)
	}
}

// reluSampleRange is ReLUBiasSample on the elements c0 ... c0+len(p)-1 of a
// matrix with cols columns (whole rows).
func reluSampleRange(p, s, bias []float32, cols int, key, base, c0 uint64) {
	var z [normalChunk]float32
	for lo := 0; lo < len(p); lo += normalChunk {
		hi := min(lo+normalChunk, len(p))
		normalsAt(key, base, c0+uint64(lo), z[:hi-lo])
		for k := lo; k < hi; k++ {
			x := p[k] + bias[(int(c0)+k)%cols]
			s[k] = max(x+float32(math.Sqrt(float64(sigmoidf(x))))*z[k-lo], 0)
			p[k] = max(x, 0)
		}
	}
}
