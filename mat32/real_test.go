package mat32

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
)

// The float32 logarithm and sine/cosine of the Box-Muller transform,
// checked against math.Log and math.Sincos on every input they can get
// (every eleventh in -short mode).
func TestNormalApproximations(t *testing.T) {
	step := uint32(1)
	if testing.Short() {
		step = 11
	}
	worstLog, worstAt := 0.0, uint32(0)
	for m := uint32(0); m < 1<<24; m += step {
		got := logUniform(m << 8)
		want := math.Log((float64(m) + 1) / (1 << 24))
		if got > 0 {
			t.Fatalf("logUniform(%d) = %g > 0", m, got)
		}
		if m == 1<<24-1 {
			if got != 0 {
				t.Fatalf("ln 1 = %g", got)
			}
			continue
		}
		if e := math.Abs(float64(got)-want) / -want; e > worstLog {
			worstLog, worstAt = e, m
		}
	}
	worstSin, worstCos := 0.0, 0.0
	for u := uint32(0); u < 1<<24; u += step {
		s, c := sincosTurns(u)
		ws, wc := math.Sincos(2 * math.Pi * float64(u) / (1 << 24))
		worstSin = max(worstSin, math.Abs(float64(s)-ws))
		worstCos = max(worstCos, math.Abs(float64(c)-wc))
	}
	// The radius sqrt(-2 ln u) inherits half the logarithm's relative
	// error; the deviates r cos and r sin are then within about
	// 5.8 * 1e-7 of the exact transform of the same uniforms.
	worstDev := 0.0
	for m := uint32(0); m < 1<<24; m += 997 * step {
		for _, u := range []uint32{0, 1 << 20, 3<<21 + 5, 1<<24 - 1} {
			z0, z1 := normalPair(m<<8, u<<8)
			r := math.Sqrt(-2 * math.Log((float64(m)+1)/(1<<24)))
			s, c := math.Sincos(2 * math.Pi * float64(u) / (1 << 24))
			worstDev = max(worstDev, math.Abs(float64(z0)-r*c), math.Abs(float64(z1)-r*s))
		}
	}
	t.Logf("ln u: relative error %.3g (at u = %d/2^24); sin %.3g, cos %.3g absolute; deviates %.3g absolute",
		worstLog, worstAt+1, worstSin, worstCos, worstDev)
	if worstLog > 2e-7 || worstSin > 1e-7 || worstCos > 1e-7 || worstDev > 2e-6 {
		t.Errorf("approximations too coarse")
	}
	// The quarter turns land exactly.
	for q, want := range [][2]float32{{0, 1}, {1, 0}, {0, -1}, {-1, 0}} {
		if s, c := sincosTurns(uint32(q) << 22); s != want[0] || c != want[1] {
			t.Errorf("sincos of quarter %d = %g, %g; want %v", q, s, c, want)
		}
	}
}

// normalSample returns n deviates from Normal (on the current path).
func normalSample(n int) []float32 {
	z := make([]float32, n)
	NewRNG(3, 0).Normal(z)
	return z
}

func TestNormalMoments(t *testing.T) {
	n := 1 << 22
	if testing.Short() {
		n = 1 << 20
	}
	z := normalSample(n + 1)
	var m, v, sk, k float64
	for _, x := range z {
		m += float64(x)
	}
	m /= float64(len(z))
	for _, x := range z {
		d := float64(x) - m
		v += d * d
		sk += d * d * d
		k += d * d * d * d
	}
	nf := float64(len(z))
	v /= nf
	sk /= nf * v * math.Sqrt(v)
	k /= nf * v * v
	// Standard errors: mean 1/sqrt(n), variance sqrt(2/n), skewness
	// sqrt(6/n), kurtosis sqrt(24/n); allow five of them.
	se := 1 / math.Sqrt(nf)
	t.Logf("%d deviates: mean %.5f variance %.5f skewness %.5f kurtosis %.5f", len(z), m, v, sk, k)
	if math.Abs(m) > 5*se || math.Abs(v-1) > 5*math.Sqrt2*se || math.Abs(sk) > 5*math.Sqrt(6)*se || math.Abs(k-3) > 5*math.Sqrt(24)*se {
		t.Fatalf("normal deviates: mean %.4f variance %.4f skewness %.4f kurtosis %.4f, want 0, 1, 0, 3", m, v, sk, k)
	}
}

// The tails and the shape: P(|z| > 3), P(|z| > 4) and P(|z| > 5) against
// the normal's, and a chi-square test of Phi(z) over 1000 bins (which
// sees any distortion of the distribution larger than about 1%).
func TestNormalTailsAndShape(t *testing.T) {
	n := 1 << 22
	if testing.Short() {
		n = 1 << 20
	}
	z := normalSample(n)
	bins := make([]float64, 1000)
	var over [3]float64
	maxAbs := 0.0
	for _, x := range z {
		a := math.Abs(float64(x))
		maxAbs = max(maxAbs, a)
		for i, c := range []float64{3, 4, 5} {
			if a > c {
				over[i]++
			}
		}
		phi := 0.5 * math.Erfc(-float64(x)/math.Sqrt2)
		bins[min(int(phi*1000), 999)]++
	}
	for i, c := range []float64{3, 4, 5} {
		p := math.Erfc(c / math.Sqrt2)
		want := p * float64(n)
		sd := math.Sqrt(want * (1 - p))
		t.Logf("P(|z| > %g): %d of %d, expected %.1f (sd %.1f)", c, int(over[i]), n, want, sd)
		if math.Abs(over[i]-want) > 5*sd+1 {
			t.Errorf("P(|z| > %g): %d of %d, expected %.1f", c, int(over[i]), n, want)
		}
	}
	if maxAbs > 5.78 {
		t.Errorf("|z| up to %g, beyond the bound sqrt(48 ln 2)", maxAbs)
	}
	chi, expect := 0.0, float64(n)/1000
	for _, c := range bins {
		chi += (c - expect) * (c - expect) / expect
	}
	if zs := (chi - 999) / math.Sqrt(2*999); math.Abs(zs) > 6 {
		t.Errorf("chi-square of Phi(z) over 1000 bins %.0f (z = %.1f)", chi, zs)
	} else {
		t.Logf("chi-square of Phi(z) over 1000 bins %.0f with 999 degrees of freedom (z = %.2f)", chi, zs)
	}
	// The two deviates of a pair are uncorrelated, and so are their squares.
	var c1, c2 float64
	for i := 0; i+1 < n; i += 2 {
		a, b := float64(z[i]), float64(z[i+1])
		c1 += a * b
		c2 += (a*a - 1) * (b*b - 1)
	}
	c1 /= float64(n / 2)
	c2 /= float64(n/2) * 2
	if lim := 6 / math.Sqrt(float64(n/2)); math.Abs(c1) > lim || math.Abs(c2) > lim {
		t.Errorf("pairs: correlation %.4g, of squares %.4g", c1, c2)
	}
}

// GaussianSample must give the numbers Normal gives from the same stream,
// however the rows are split between workers.
func TestGaussianSampleMatchesNormal(t *testing.T) {
	for _, shape := range [][2]int{{1, 1}, {3, 7}, {301, 257}} {
		rows, cols := shape[0], shape[1]
		mean := New(rows, cols)
		std := make([]float32, cols)
		for j := range std {
			std[j] = 1
		}
		s := New(rows, cols)
		GaussianSample(s, mean, std, NewRNG(5, 9))
		want := make([]float32, rows*cols)
		NewRNG(5, 9).Normal(want)
		for i := range want {
			if s.Data[i] != want[i] {
				t.Fatalf("%dx%d: element %d is %g, Normal gives %g", rows, cols, i, s.Data[i], want[i])
			}
		}
		// Mean and standard deviation are applied per column.
		for i := range mean.Data {
			mean.Data[i] = float32(i % 5)
		}
		for j := range std {
			std[j] = float32(j%3) + 0.5
		}
		GaussianSample(s, mean, std, NewRNG(5, 9))
		for i := range want {
			exp := mean.Data[i] + std[i%cols]*want[i]
			if math.Abs(float64(s.Data[i]-exp)) > 1e-5 {
				t.Fatalf("element %d: %g, want %g", i, s.Data[i], exp)
			}
		}
	}
	// Consecutive calls draw consecutive, different numbers.
	r := NewRNG(5, 9)
	a, b := make([]float32, 3), make([]float32, 3)
	r.Normal(a)
	r.Normal(b)
	c := make([]float32, 6)
	NewRNG(5, 9).Normal(c)
	if c[0] != a[0] || c[1] != a[1] || c[2] != a[2] || b[0] == c[3] && b[1] == c[4] {
		t.Errorf("consecutive draws %v %v; one draw of six %v", a, b, c)
	}
}

func TestReLUBiasSample(t *testing.T) {
	rows, cols := 400, 50
	p, s := New(rows, cols), New(rows, cols)
	bias := make([]float32, cols)
	for j := range bias {
		bias[j] = float32(j-25) / 5
	}
	ReLUBiasSample(p, s, bias, NewRNG(1, 1))
	z := make([]float32, rows*cols)
	NewRNG(1, 1).Normal(z)
	for i := range p.Data {
		x := bias[i%cols]
		if p.Data[i] != max(x, 0) {
			t.Fatalf("mean %d: %g, want %g", i, p.Data[i], max(x, 0))
		}
		want := max(x+float32(math.Sqrt(float64(Sigmoid(x))))*z[i], 0)
		if math.Abs(float64(s.Data[i]-want)) > 1e-6 {
			t.Fatalf("sample %d: %g, want %g", i, s.Data[i], want)
		}
	}
	q := New(2, cols)
	ReLUBiasSample(q, nil, bias, nil)
	if q.At(1, 0) != 0 || q.At(1, cols-1) != bias[cols-1] {
		t.Fatalf("mean-only ReLU: %v", q.Row(1))
	}
	// NaN stays NaN, in the mean and the sample.
	n := New(1, 2)
	n.Data[0] = float32(math.NaN())
	ns := New(1, 2)
	ReLUBiasSample(n, ns, []float32{0, -1}, NewRNG(1, 1))
	if !math.IsNaN(float64(n.Data[0])) || !math.IsNaN(float64(ns.Data[0])) || n.Data[1] != 0 {
		t.Errorf("ReLU of NaN, -1: %v, samples %v", n.Data, ns.Data)
	}
}

func TestLinearBias(t *testing.T) {
	x := New(3, 5)
	bias := []float32{1, 2, 3, 4, 5}
	for i := range x.Data {
		x.Data[i] = float32(i)
	}
	LinearBias(x, bias)
	for i, v := range x.Data {
		if v != float32(i)+bias[i%5] {
			t.Fatalf("element %d: %g", i, v)
		}
	}
}

// realCases are shapes for the real-valued kernels (whole rows, odd and
// even sizes, rows longer than a chunk of deviates, one column).
var realCases = [][2]int{{1, 1}, {3, 1}, {1, 2}, {3, 7}, {5, 15}, {4, 16}, {7, 17}, {9, 31}, {37, 53}, {2, 500}, {3, 513}, {2, 1037}, {100, 3}}

// Every real-valued kernel on every path equals the Go reference bit for
// bit, for any start in the block of the stream (odd ones included:
// the first element is then the second of its pair) and any counter.
func TestRealKernelPathsMatchGoReference(t *testing.T) {
	forPaths(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(71, 72))
		for _, c := range realCases {
			rows, cols := c[0], c[1]
			n := rows * cols
			name := fmt.Sprintf("%dx%d", rows, cols)
			x := kernelInput(r, n)
			bias := kernelInput(r, cols)
			for _, c0 := range []uint64{0, 1, 2, 3, 5, 255, 256, 257, 511, 513, uint64(r.IntN(1 << 20))} {
				for _, base := range []uint64{0, 1, 3, 1<<34 - 7, r.Uint64() &^ (1 << 63)} {
					key := r.Uint64()
					name := fmt.Sprintf("%s from %d, base %d", name, c0, base)

					gz, wz := make([]float32, n), make([]float32, n)
					normals(key, base, c0, gz)
					normalsGo(key, base, c0, wz)
					sameSlices(t, name+" normals", gz, wz)
					for i := 0; i < n; i += 1 + n/7 {
						one := make([]float32, 1)
						normalsGo(key, base, c0+uint64(i), one)
						if !same(one[0], wz[i]) {
							t.Fatalf("%s: deviate %d alone %g, in the block %g", name, i, one[0], wz[i])
						}
					}

					gs, ws := make([]float32, n), make([]float32, n)
					gaussianSample(gs, x, bias, rows, key, base, c0)
					gaussianSampleGo(ws, x, bias, rows, key, base, c0)
					sameSlices(t, name+" gaussianSample", gs, ws)
					in := append([]float32(nil), x...)
					gaussianSample(in, in, bias, rows, key, base, c0)
					sameSlices(t, name+" gaussianSample in place", in, ws)

					gp, wp := append([]float32(nil), x...), append([]float32(nil), x...)
					reluBiasSample(gp, gs, bias, rows, key, base, c0)
					reluBiasSampleGo(wp, ws, bias, rows, key, base, c0)
					sameSlices(t, name+" reluBiasSample means", gp, wp)
					sameSlices(t, name+" reluBiasSample samples", gs, ws)
					// With s the same as p, the sample is what is left.
					gp = append(gp[:0], x...)
					reluBiasSample(gp, gp, bias, rows, key, base, c0)
					sameSlices(t, name+" reluBiasSample in place", gp, wp)
				}
			}
			gp, wp := append([]float32(nil), x...), append([]float32(nil), x...)
			reluBias(gp, bias, rows)
			reluBiasGo(wp, bias, rows)
			sameSlices(t, name+" reluBias", gp, wp)
			gp, wp = append([]float32(nil), x...), append([]float32(nil), x...)
			addRow(gp, bias, rows)
			addRowGo(wp, bias, rows)
			sameSlices(t, name+" addRow", gp, wp)
		}
	})
}

// The exported functions, split between workers (or not), give the same
// results on every path and with any number of workers.
func TestRealPathsGiveSameSamples(t *testing.T) {
	run := func() []float32 {
		r := rand.New(rand.NewPCG(81, 82))
		mean, s := randDense(r, 301, 257), New(301, 257)
		std := randDense(r, 1, 257).Data
		rng := NewRNG(8, 1)
		GaussianSample(s, mean, std, rng)
		p, q := randDense(r, 257, 301), New(257, 301)
		bias := randDense(r, 1, 301).Data
		ReLUBiasSample(p, q, bias, rng)
		z := make([]float32, 1001)
		rng.Normal(z)
		m := randDense(r, 3, 301)
		ReLUBiasSample(m, nil, bias, nil)
		LinearBias(mean, std)
		out := append(append(append(append(s.Data, p.Data...), q.Data...), z...), m.Data...)
		return append(out, mean.Data...)
	}
	var first []float32
	forPaths(t, func(t *testing.T) {
		for _, procs := range []int{1, 2, 3} {
			old := runtime.GOMAXPROCS(procs)
			got := run()
			runtime.GOMAXPROCS(old)
			if first == nil {
				first = got
				continue
			}
			sameSlices(t, fmt.Sprintf("%d workers", procs), got, first)
		}
	})
}

// MeasureRates times the real-valued units' kernels too.
func TestMeasureRatesIncludesRealUnits(t *testing.T) {
	r := MeasureRates(30, 20, 10, 40*time.Millisecond)
	if !(r.GemmGFLOPS > 0 && r.SampleMelems > 0 && r.GaussianMelems > 0 && r.ReLUMelems > 0) {
		t.Errorf("rates %+v", r)
	}
}
