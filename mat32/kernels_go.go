package mat32

import "math"

// The pure-Go element-wise kernels. They are always compiled: builds without
// cgo use them, and tests check the C kernels against them bit for bit (both
// use the same float32 operations in the same order, without fused
// multiply-adds).

const (
	expHi   = 88.0
	log2e   = 1.44269504088896341
	ln2Hi   = 0.693359375
	ln2Lo   = -2.12194440e-4
	expMinE = -126
)

// expf approximates e^x for float32 x (relative error below 2e-7 on
// [-87, 88]); it saturates outside that range.
func expf(x float32) float32 {
	if x > expHi {
		x = expHi
	}
	if x < -expHi {
		x = -expHi
	}
	// Each product is converted explicitly so that no compiler fuses it into
	// a multiply-add: the C kernels must see exactly these roundings.
	// Round x*log2(e) to nearest by the 1.5*2^23 trick.
	n := (float32(x*log2e) + 12582912) - 12582912
	r := x - float32(n*ln2Hi)
	r = r - float32(n*ln2Lo)
	p := float32(1.9875691500e-4)
	p = float32(p*r) + 1.3981999507e-3
	p = float32(p*r) + 8.3334519073e-3
	p = float32(p*r) + 4.1665795894e-2
	p = float32(p*r) + 1.6666665459e-1
	p = float32(p*r) + 5.0000001201e-1
	p = float32(p*float32(r*r)) + r
	p = p + 1
	e := int32(n) + 127
	if e < 1 {
		e = 1
	}
	// Converted, so that a caller's 1 + expf(x) is not fused either.
	return float32(p * math.Float32frombits(uint32(e)<<23))
}

// sigmoidf returns 1/(1+e^-x), with x clamped to [-85, 85] so that the
// result is never denormal (arithmetic on denormals is many times slower).
func sigmoidf(x float32) float32 {
	x = min(max(x, -85), 85)
	return 1 / (1 + expf(-x))
}

// sigmoidBiasGo sets x[i*ld+j] = sigmoid(x[i*ld+j] + bias[j]) for rows
// i < rows and j < len(bias).
func sigmoidBiasGo(x, bias []float32, rows, ld int) {
	for i := 0; i < rows; i++ {
		row := x[i*ld : i*ld+len(bias)]
		for j, b := range bias {
			row[j] = sigmoidf(row[j] + b)
		}
	}
}

// sigmoidBiasSampleGo is sigmoidBiasGo followed by s = (u < x) with the
// uniform u at counter base+i*ld+j of stream key.
func sigmoidBiasSampleGo(x, s, bias []float32, rows, ld int, key, base uint64) {
	var buf [uniformChunk + 8]uint32
	for i := 0; i < rows; i++ {
		off := i * ld
		for lo := 0; lo < len(bias); lo += uniformChunk {
			hi := min(lo+uniformChunk, len(bias))
			u := fillWords(key, base+uint64(off+lo), hi-lo, buf[:])
			row, srow := x[off+lo:off+hi], s[off+lo:off+hi]
			for j, b := range bias[lo:hi] {
				p := sigmoidf(row[j] + b)
				row[j] = p
				srow[j] = sample(u[j], p)
			}
		}
	}
}

// sample returns 1 when the uniform of w is below p, else 0. (It picks the
// bits of 1.0 with an integer conditional move: a branch on an unpredictable
// outcome would cost several times more.)
func sample(w uint32, p float32) float32 {
	bits := uint32(0)
	if toUniform(w) < p {
		bits = 0x3F800000
	}
	return math.Float32frombits(bits)
}

// bernoulliGo sets s[i] = 1 with probability p[i], else 0.
func bernoulliGo(s, p []float32, key, base uint64) {
	var buf [uniformChunk + 8]uint32
	p = p[:len(s)]
	for lo := 0; lo < len(s); lo += uniformChunk {
		hi := min(lo+uniformChunk, len(s))
		u := fillWords(key, base+uint64(lo), hi-lo, buf[:])
		for i, pi := range p[lo:hi] {
			s[lo+i] = sample(u[i], pi)
		}
	}
}

// diffStatsGo adds alpha*(a-b) summed over rows to colsum and returns the sum
// of (a-b)^2, accumulated per column in sq first (as the C kernel does);
// rows are ld floats apart. With negb it then negates b.
func diffStatsGo(a, b []float32, rows, cols, ld int, colsum []float32, alpha float32, sq []float32, negb bool) float64 {
	clear(sq[:cols])
	for i := 0; i < rows; i++ {
		ar, br := a[i*ld:i*ld+cols], b[i*ld:i*ld+cols]
		for j := range ar {
			d := ar[j] - br[j]
			sq[j] = sq[j] + float32(d*d)
			colsum[j] = colsum[j] + float32(alpha*d)
			if negb {
				br[j] = -br[j]
			}
		}
	}
	total := 0.0
	for _, s := range sq[:cols] {
		total += float64(s)
	}
	return total
}

// momentumStepGo sets vel -= decay*w, then w += vel.
func momentumStepGo(w, vel []float32, decay float32) {
	for i := range w {
		v := vel[i] - float32(decay*w[i])
		// Flushed before it turns denormal, as in the C kernels: |v| <
		// 1e-30, tested as one comparison (v < 1e-30 && v > -1e-30 is a
		// branch on v's sign, which is unpredictable).
		if math.Float32frombits(math.Float32bits(v)&0x7FFFFFFF) < 1e-30 {
			v = 0
		}
		vel[i] = v
		w[i] = w[i] + v
	}
}

// adamStepGo sets m = b1*m + (1-b1)*g and v = b2*v + (1-b2)*g*g, then
// w -= step*m / (sqrt(v)*c2 + eps), element by element.
func adamStepGo(w, g, m, v []float32, b1, b2, step, c2, eps float32) {
	a1, a2 := 1-b1, 1-b2
	g, m, v = g[:len(w)], m[:len(w)], v[:len(w)]
	for k, gk := range g {
		mk := float32(b1*m[k]) + float32(a1*gk)
		vk := float32(b2*v[k]) + float32(float32(a2*gk)*gk)
		m[k], v[k] = mk, vk
		// float32(math.Sqrt(float64(vk))) is the correctly rounded float32
		// square root, as the C kernels' sqrtf and vector square roots.
		d := float32(float32(math.Sqrt(float64(vk)))*c2) + eps
		w[k] = w[k] - float32(step*mk)/d
	}
}

// softplusf returns log(1 + e^x) as the C kernel computes it.
func softplusf(x float32) float32 {
	ax := x
	if ax < 0 {
		ax = -ax
	}
	y := expf(-ax)
	s := y / (2 + y)
	s2 := float32(s * s)
	p := float32(1.0 / 13.0)
	p = float32(p*s2) + 1.0/11.0
	p = float32(p*s2) + 1.0/9.0
	p = float32(p*s2) + 1.0/7.0
	p = float32(p*s2) + 1.0/5.0
	p = float32(p*s2) + 1.0/3.0
	p = float32(p*s2) + 1
	l := float32(float32(2*s) * p)
	if x > 0 {
		return x + l
	}
	return l
}

const lanes = 16

// softplusRowSumGo sets out[i] = sum_j softplus(beta*(x[i*ld+j] + bias[j])).
func softplusRowSumGo(x, bias []float32, rows, ld int, beta float32, out []float64) {
	cols := len(bias)
	for i := 0; i < rows; i++ {
		row := x[i*ld : i*ld+cols]
		var acc [lanes]float32
		j := 0
		for ; j+lanes <= cols; j += lanes {
			for k := 0; k < lanes; k++ {
				acc[k] += softplusf(float32(beta * (row[j+k] + bias[j+k])))
			}
		}
		total := 0.0
		for ; j < cols; j++ {
			total += float64(softplusf(float32(beta * (row[j] + bias[j]))))
		}
		for _, a := range acc {
			total += float64(a)
		}
		out[i] = total
	}
}

// aisHiddenGo is the Go reference of the hidden half of an AIS step.
func aisHiddenGo(x, bias []float32, rows int, bk, bp float32, s []float32, key, base uint64, delta []float64) {
	cols := len(bias)
	var buf [uniformChunk + 8]uint32
	for i := 0; i < rows; i++ {
		row, srow := x[i*cols:(i+1)*cols], s[i*cols:(i+1)*cols]
		b := base + uint64(i*cols)
		var acc [lanes]float32
		var u []uint32
		one := func(j int) float32 {
			if j%uniformChunk == 0 {
				u = fillWords(key, b+uint64(j), min(uniformChunk, cols-j), buf[:])
			}
			t := row[j] + bias[j]
			d := softplusf(float32(bk*t)) - softplusf(float32(bp*t))
			srow[j] = sample(u[j%uniformChunk], sigmoidf(float32(bk*t)))
			return d
		}
		j := 0
		for ; j+lanes <= cols; j += lanes {
			for k := 0; k < lanes; k++ {
				acc[k] += one(j + k)
			}
		}
		total := 0.0
		for ; j < cols; j++ {
			total += float64(one(j))
		}
		for _, a := range acc {
			total += float64(a)
		}
		delta[i] += total
	}
}

// flipRowSumGo is the Go reference of hm_flip_rowsum.
func flipRowSumGo(w, wneg, v []float32, rows, cols int, x []float32, out []float64) {
	for i := 0; i < rows; i++ {
		src := w
		if v[i] > 0.5 {
			src = wneg
		}
		softplusRowSumGo(src[i*cols:], x, 1, cols, 1, out[i:i+1])
	}
}

// scaleGo multiplies every element of x by f.
func scaleGo(x []float32, f float32) {
	for i := range x {
		x[i] *= f
	}
}

// The kinds of activate (hm_act's HM_ACT_* values).
const (
	actSigmoid = iota
	actReLU
	actLeaky
	actSigmoidGrad
	actTanhGrad
	actReLUGrad
	actLeakyGrad
)

// activateGo is the reference of hm_act: out[i] for i < len(out) is
//
//	actSigmoid      sigmoid(x[i]) (as SigmoidBias)
//	actReLU         max(x[i], 0) (NaN stays NaN, -0 becomes +0)
//	actLeaky        x[i] > 0 ? x[i] : alpha*x[i]
//	actSigmoidGrad  dy[i] * y[i] * (1 - y[i])
//	actTanhGrad     dy[i] * (1 - y[i]*y[i])
//	actReLUGrad     dy[i] where x[i] > 0 (sign clear, not zero), else +0
//	actLeakyGrad    dy[i] times 1 where x[i] > 0 as for actReLUGrad, else alpha
//
// each product rounded to float32 in the order written.
func activateGo(kind int, alpha float32, x, y, dy, out []float32) {
	switch kind {
	case actSigmoid:
		for i, v := range x[:len(out)] {
			out[i] = sigmoidf(v)
		}
	case actReLU:
		for i, v := range x[:len(out)] {
			out[i] = max(v, 0)
		}
	case actLeaky:
		for i, v := range x[:len(out)] {
			if v > 0 {
				out[i] = v
			} else {
				out[i] = float32(alpha * v)
			}
		}
	case actSigmoidGrad:
		for i, g := range dy[:len(out)] {
			out[i] = float32(float32(g*y[i]) * float32(1-y[i]))
		}
	case actTanhGrad:
		for i, g := range dy[:len(out)] {
			out[i] = float32(g * float32(1-float32(y[i]*y[i])))
		}
	case actReLUGrad:
		for i, g := range dy[:len(out)] {
			out[i] = math.Float32frombits(math.Float32bits(g) & positiveMask(x[i]))
		}
	case actLeakyGrad:
		one, a := math.Float32bits(1), math.Float32bits(alpha)
		for i, g := range dy[:len(out)] {
			m := positiveMask(x[i])
			out[i] = float32(g * math.Float32frombits(one&m|a&^m))
		}
	}
}

// positiveMask is all ones when v > 0 (sign clear, not a zero; NaNs
// included) and 0 otherwise, without a branch: ReLU's derivative as a
// bit mask, as the signs of activations are unpredictable.
func positiveMask(v float32) uint32 {
	b := math.Float32bits(v)
	return uint32(int32(^b)>>31) & uint32(-int32(b&0x7fffffff)>>31)
}
