package mat32

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"
)

func randDense(r *rand.Rand, rows, cols int) *Dense {
	m := New(rows, cols)
	for i := range m.Data {
		m.Data[i] = float32(r.NormFloat64())
	}
	return m
}

// naive computes alpha*op(a)*op(b) + beta*c in float64.
func naive(tA, tB bool, alpha float32, a, b *Dense, beta float32, c *Dense) []float64 {
	get := func(m *Dense, t bool, i, j int) float64 {
		if t {
			return float64(m.At(j, i))
		}
		return float64(m.At(i, j))
	}
	out := make([]float64, c.Rows*c.Cols)
	k := a.Cols
	if tA {
		k = a.Rows
	}
	for i := 0; i < c.Rows; i++ {
		for j := 0; j < c.Cols; j++ {
			s := 0.0
			for l := 0; l < k; l++ {
				s += get(a, tA, i, l) * get(b, tB, l, j)
			}
			out[i*c.Cols+j] = float64(alpha)*s + float64(beta)*float64(c.At(i, j))
		}
	}
	return out
}

// backends returns every backend that can run here: pure Go always, and the
// native one in cgo builds where the library loads.
func backends(t *testing.T) []backend {
	bs := []backend{pureGo{}}
	if b, msg := loadNative(""); b != nil {
		bs = append(bs, b)
	} else {
		t.Logf("native BLAS not tested: %s", msg)
	}
	return bs
}

func TestGemmAgainstNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	shapes := [][3]int{{1, 1, 1}, {3, 5, 7}, {17, 33, 9}, {100, 500, 120}, {300, 40, 90}}
	for _, be := range backends(t) {
		for _, s := range shapes {
			m, n, k := s[0], s[1], s[2]
			for _, tA := range []bool{false, true} {
				for _, tB := range []bool{false, true} {
					a := randDense(r, m, k)
					if tA {
						a = randDense(r, k, m)
					}
					b := randDense(r, k, n)
					if tB {
						b = randDense(r, n, k)
					}
					c := randDense(r, m, n)
					want := naive(tA, tB, 0.7, a, b, 0.3, c)
					gemm(be, tA, tB, m, n, k, 0.7, a.Data, a.Cols, b.Data, b.Cols, 0.3, c.Data, c.Cols)
					for i, w := range want {
						if d := math.Abs(float64(c.Data[i]) - w); d > 1e-4*(1+math.Abs(w))*math.Sqrt(float64(k)) {
							t.Fatalf("%s %v: tA=%v tB=%v element %d = %g, want %g", be.name(), s, tA, tB, i, c.Data[i], w)
						}
					}
				}
			}
		}
	}
}

func TestBackendsAgree(t *testing.T) {
	bs := backends(t)
	if len(bs) < 2 {
		t.Skip("only one backend can be loaded here (no cgo or no OpenBLAS)")
	}
	r := rand.New(rand.NewPCG(3, 4))
	a, b := randDense(r, 100, 784), randDense(r, 784, 500)
	c0, c1 := New(100, 500), New(100, 500)
	gemm(bs[0], false, false, 100, 500, 784, 1, a.Data, 784, b.Data, 500, 0, c0.Data, 500)
	gemm(bs[1], false, false, 100, 500, 784, 1, a.Data, 784, b.Data, 500, 0, c1.Data, 500)
	for i := range c0.Data {
		if d := math.Abs(float64(c0.Data[i] - c1.Data[i])); d > 1e-3 {
			t.Fatalf("element %d: %s %g, %s %g", i, bs[0].name(), c0.Data[i], bs[1].name(), c1.Data[i])
		}
	}
}

func TestGemmShapePanics(t *testing.T) {
	mustPanic(t, "Gemm of mismatched shapes", func() { Gemm(false, false, 1, New(2, 3), New(4, 5), 0, New(2, 5)) })
}

// mustPanic fails the test, naming what, unless f panics.
func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s: no panic", what)
		}
	}()
	f()
}

func TestBlockBound(t *testing.T) {
	for _, c := range []struct{ n, parts int }{{500, 2}, {784, 2}, {10, 4}, {100, 3}, {1000, 7}} {
		prev := 0
		for p := 1; p <= c.parts; p++ {
			b := blockBound(c.n, p, c.parts)
			if b < prev || (p < c.parts && b%16 != 0) || (p == c.parts && b != c.n) {
				t.Fatalf("blockBound(%d, %d, %d) = %d after %d", c.n, p, c.parts, b, prev)
			}
			// The multiple of 16 nearest the even cut, the lower on a tie.
			if cut := c.n * p / c.parts; p < c.parts && b < c.n && (b-cut > 7 || cut-b > 8) {
				t.Fatalf("blockBound(%d, %d, %d) = %d, even cut %d", c.n, p, c.parts, b, cut)
			}
			prev = b
		}
	}
	// An RBM's 500 hidden units: 256 + 244, four 64-column blocks each.
	if b := blockBound(500, 1, 2); b != 256 {
		t.Errorf("blockBound(500, 1, 2) = %d, want 256", b)
	}
	if b := blockBound(784, 1, 2); b != 384 {
		t.Errorf("blockBound(784, 1, 2) = %d, want 384", b)
	}
}

func TestExpfAccuracy(t *testing.T) {
	for x := -87.0; x <= 88; x += 0.01 {
		got, want := float64(expf(float32(x))), math.Exp(float64(float32(x)))
		if math.Abs(got-want) > 4e-7*want {
			t.Fatalf("expf(%g) = %g, want %g", x, got, want)
		}
	}
	if s := sigmoidf(1000); s != 1 {
		t.Fatalf("sigmoid(1000) = %g", s)
	}
	if s := sigmoidf(-1000); s < 1.1754944e-38 || s > 1e-36 {
		t.Fatalf("sigmoid(-1000) = %g, want a tiny normal number", s)
	}
}

// The kernels in use (C in cgo builds) must equal the Go reference bit for bit.
func TestKernelsMatchGoReference(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	x := randDense(r, 37, 53)
	for i := range x.Data {
		x.Data[i] *= 20
	}
	bias := randDense(r, 1, 53).Data
	got, want := x.Clone(), x.Clone()
	SigmoidBias(got, bias)
	sigmoidBiasGo(want.Data, bias, 37, 53)
	for i := range got.Data {
		if got.Data[i] != want.Data[i] {
			t.Fatalf("%s SigmoidBias element %d = %g, Go reference %g", KernelImpl, i, got.Data[i], want.Data[i])
		}
	}
	p, s := x.Clone(), New(37, 53)
	p2, s2 := x.Clone(), New(37, 53)
	SigmoidBiasSample(p, s, bias, NewRNG(9, 1))
	sigmoidBiasSampleGo(p2.Data, s2.Data, bias, 37, 53, NewRNG(9, 1).key, 0)
	for i := range p.Data {
		if p.Data[i] != p2.Data[i] || s.Data[i] != s2.Data[i] {
			t.Fatalf("%s SigmoidBiasSample element %d = (%g,%g), Go reference (%g,%g)", KernelImpl, i, p.Data[i], s.Data[i], p2.Data[i], s2.Data[i])
		}
	}
	Bernoulli(s, p, NewRNG(9, 2))
	bernoulliGo(s2.Data, p2.Data, NewRNG(9, 2).key, 0)
	for i := range s.Data {
		if s.Data[i] != s2.Data[i] {
			t.Fatalf("%s Bernoulli element %d = %g, Go reference %g", KernelImpl, i, s.Data[i], s2.Data[i])
		}
	}
}

// Sampling must not depend on the number of workers.
func TestSamplingIndependentOfWorkers(t *testing.T) {
	p := New(300, 200)
	for i := range p.Data {
		p.Data[i] = float32(i%97) / 97
	}
	sample := func(procs int) *Dense {
		old := runtime.GOMAXPROCS(procs)
		defer runtime.GOMAXPROCS(old)
		s := New(300, 200)
		Bernoulli(s, p, NewRNG(42, 0))
		return s
	}
	a, b := sample(1), sample(3)
	for i := range a.Data {
		if a.Data[i] != b.Data[i] {
			t.Fatalf("element %d differs between 1 and 3 workers", i)
		}
	}
}

func TestBernoulliFrequencies(t *testing.T) {
	const n = 200000
	p := New(1, n)
	for i := range p.Data {
		p.Data[i] = 0.3
	}
	s := New(1, n)
	Bernoulli(s, p, NewRNG(7, 3))
	sum := 0.0
	for _, v := range s.Data {
		if v != 0 && v != 1 {
			t.Fatalf("sample %g is not 0 or 1", v)
		}
		sum += float64(v)
	}
	// Standard deviation of the mean is sqrt(0.21/n) ~ 0.001.
	if f := sum / n; math.Abs(f-0.3) > 0.005 {
		t.Fatalf("frequency %g, want 0.3", f)
	}
	u := make([]float32, n)
	NewRNG(7, 4).Uniform(u)
	var m float64
	for _, v := range u {
		if v < 0 || v >= 1 {
			t.Fatalf("uniform %g outside [0,1)", v)
		}
		m += float64(v)
	}
	if m /= n; math.Abs(m-0.5) > 0.005 {
		t.Fatalf("uniform mean %g", m)
	}
	if NewRNG(7, 4).Uint64() == NewRNG(7, 5).Uint64() || NewRNG(7, 4).Uint64() == NewRNG(8, 4).Uint64() {
		t.Fatal("different seeds or streams give the same numbers")
	}
}

func TestDiffStatsAndMomentumMatchGoReference(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	a, b := randDense(r, 23, 41), randDense(r, 23, 41)
	cs1, cs2 := make([]float32, 41), make([]float32, 41)
	cs1[3], cs2[3] = 5, 5
	got := DiffStats(a, b, cs1, 0.5)
	want := diffStatsGo(a.Data, b.Data, 23, 41, 41, cs2, 0.5, make([]float32, 41), false)
	if got != want {
		t.Fatalf("%s DiffStats = %v, Go reference %v", KernelImpl, got, want)
	}
	var direct float64
	for i := range a.Data {
		d := float64(a.Data[i] - b.Data[i])
		direct += d * d
	}
	if math.Abs(got-direct) > 1e-4*direct {
		t.Fatalf("DiffStats = %v, direct sum %v", got, direct)
	}
	for j := range cs1 {
		if cs1[j] != cs2[j] {
			t.Fatalf("column sum %d = %v, Go reference %v", j, cs1[j], cs2[j])
		}
		var s float64
		for i := 0; i < 23; i++ {
			s += float64(a.At(i, j) - b.At(i, j))
		}
		if j == 3 {
			s += 10
		}
		if math.Abs(float64(cs1[j])-0.5*s) > 1e-4 {
			t.Fatalf("column sum %d = %v, want %v", j, cs1[j], 0.5*s)
		}
	}
	w1, v1 := randDense(r, 300, 100), randDense(r, 300, 100)
	v1.Data[5], w1.Data[5] = 1e-35, 0 // flushed to zero
	w2, v2 := w1.Clone(), v1.Clone()
	w0, v0 := w1.Clone(), v1.Clone()
	MomentumStep(w1.Data, v1.Data, 0.01)
	momentumStepGo(w2.Data, v2.Data, 0.01)
	for i := range w1.Data {
		if w1.Data[i] != w2.Data[i] || v1.Data[i] != v2.Data[i] {
			t.Fatalf("%s MomentumStep element %d differs from the Go reference", KernelImpl, i)
		}
		if wantV := v0.Data[i] - 0.01*w0.Data[i]; math.Abs(float64(wantV)) > 1e-30 && math.Abs(float64(v1.Data[i]-wantV)) > 1e-6 || math.Abs(float64(w1.Data[i]-(w0.Data[i]+wantV))) > 1e-6 {
			t.Fatalf("MomentumStep element %d wrong", i)
		}
	}
	if v1.Data[5] != 0 {
		t.Fatalf("a velocity of 1e-35 was kept (%g), want it flushed to 0", v1.Data[5])
	}
}

// MulSigmoid equals Gemm followed by the sigmoid kernels, bit for bit.
func TestMulSigmoidMatchesGemmThenKernel(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, shape := range [][3]int{{100, 500, 784}, {700, 60, 100}, {3, 4, 5}} {
		m, n, k := shape[0], shape[1], shape[2]
		a, b, bt := randDense(r, m, k), randDense(r, k, n), randDense(r, n, k)
		bias := randDense(r, 1, n).Data
		for _, transB := range []bool{false, true} {
			bb := b
			if transB {
				bb = bt
			}
			want, wantS := New(m, n), New(m, n)
			Gemm(false, transB, 1, a, bb, 0, want)
			SigmoidBiasSample(want, wantS, bias, NewRNG(5, 5))
			got, gotS := New(m, n), New(m, n)
			MulSigmoid(a, bb, transB, bias, got, gotS, NewRNG(5, 5))
			plain := New(m, n)
			MulSigmoid(a, bb, transB, bias, plain, nil, nil)
			for i := range want.Data {
				if got.Data[i] != want.Data[i] || gotS.Data[i] != wantS.Data[i] || plain.Data[i] != want.Data[i] {
					t.Fatalf("%v transB=%v: element %d differs", shape, transB, i)
				}
			}
		}
	}
}

// shapeDependent reports whether the backend's products round an element
// differently depending on the shape of the call that computes it (as
// OpenBLAS's AVX2 kernels do): a product split in two by rows, and by
// columns, is compared with the whole.
func shapeDependent() bool {
	r := rand.New(rand.NewPCG(17, 18))
	const m, n, k, cut = 128, 128, 200, 48
	a, b := randDense(r, k, m), randDense(r, k, n)
	whole, rows, cols := New(m, n), New(m, n), New(m, n)
	be := current()
	be.sgemm(true, false, m, n, k, 1, a.Data, m, b.Data, n, 0, whole.Data, n)
	be.sgemm(true, false, cut, n, k, 1, a.Data, m, b.Data, n, 0, rows.Data, n)
	be.sgemm(true, false, m-cut, n, k, 1, a.Data[cut:], m, b.Data, n, 0, rows.Data[cut*n:], n)
	be.sgemm(true, false, m, cut, k, 1, a.Data, m, b.Data, n, 0, cols.Data, n)
	be.sgemm(true, false, m, n-cut, k, 1, a.Data, m, b.Data[cut:], n, 0, cols.Data[cut:], n)
	return !slices.Equal(whole.Data, rows.Data) || !slices.Equal(whole.Data, cols.Data)
}

// GradientStep equals Gemm followed by MomentumStep: bit for bit, or to
// rounding with products whose rounding depends on how they are split
// (GradientStep splits rows, Gemm the larger dimension).
func TestGradientStepMatchesGemmThenMomentum(t *testing.T) {
	exact := !shapeDependent()
	if !exact {
		t.Logf("%s rounds by the shape of each call: comparing to within 1e-5", current().name())
	}
	r := rand.New(rand.NewPCG(15, 16))
	for _, shape := range [][3]int{{784, 500, 200}, {500, 500, 200}, {512, 512, 100}, {30, 700, 100}, {5, 3, 2}} {
		m, n, k := shape[0], shape[1], shape[2]
		a, b := randDense(r, k, m), randDense(r, k, n)
		vel, w := randDense(r, m, n), randDense(r, m, n)
		vel2, w2 := vel.Clone(), w.Clone()
		Gemm(true, false, 0.01, a, b, 0.9, vel2)
		MomentumStep(w2.Data, vel2.Data, 0.001)
		GradientStep(0.01, a, b, 0.9, vel, w, 0.001)
		if !exact {
			closeTo(t, fmt.Sprint(shape, " velocity"), vel.Data, vel2.Data, 1e-5)
			closeTo(t, fmt.Sprint(shape, " weights"), w.Data, w2.Data, 1e-5)
			continue
		}
		for i := range w.Data {
			if w.Data[i] != w2.Data[i] || vel.Data[i] != vel2.Data[i] {
				t.Fatalf("%v: element %d differs", shape, i)
			}
		}
	}
}

func TestSoftplusAccuracyAndKernels(t *testing.T) {
	for x := -80.0; x <= 80; x += 0.003 {
		got, want := float64(softplusf(float32(x))), math.Log1p(math.Exp(float64(float32(x))))
		if x > 0 {
			want = float64(float32(x)) + math.Log1p(math.Exp(-float64(float32(x))))
		}
		if math.Abs(got-want) > 2e-7*math.Max(1, want) && math.Abs(got-want) > 1e-6*want {
			t.Fatalf("softplus(%g) = %g, want %g", x, got, want)
		}
	}
	r := rand.New(rand.NewPCG(21, 22))
	x, s := randDense(r, 37, 53), New(37, 53)
	for i := range x.Data {
		x.Data[i] *= 8
	}
	bias := randDense(r, 1, 53).Data
	got, want := make([]float64, 37), make([]float64, 37)
	SoftplusRowSums(x, bias, 0.7, got)
	softplusRowSumGo(x.Data, bias, 37, 53, 0.7, want)
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s SoftplusRowSums row %d = %v, Go reference %v", KernelImpl, i, got[i], want[i])
		}
		direct := 0.0
		for j, xv := range x.Row(i) {
			direct += math.Log1p(math.Exp(0.7 * (float64(xv) + float64(bias[j]))))
		}
		if math.Abs(got[i]-direct) > 1e-5*direct {
			t.Fatalf("SoftplusRowSums row %d = %v, float64 %v", i, got[i], direct)
		}
	}
	d1, d2 := make([]float64, 37), make([]float64, 37)
	s2 := New(37, 53)
	AISHidden(x, bias, 0.5, 0.499, s, NewRNG(3, 3), d1)
	aisHiddenGo(x.Data, bias, 37, 0.5, 0.499, s2.Data, NewRNG(3, 3).key, 0, d2)
	for i := range d1 {
		if d1[i] != d2[i] {
			t.Fatalf("%s AISHidden delta %d = %v, Go reference %v", KernelImpl, i, d1[i], d2[i])
		}
	}
	for i := range s.Data {
		if s.Data[i] != s2.Data[i] {
			t.Fatalf("%s AISHidden sample %d differs", KernelImpl, i)
		}
	}
}

func TestFlipSoftplusSums(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	w := randDense(r, 20, 35)
	wneg := w.Clone()
	Scale(wneg, -1)
	v := make([]float32, 20)
	for i := range v {
		v[i] = float32(i % 2)
	}
	x := randDense(r, 1, 35).Data
	got, ref := make([]float64, 20), make([]float64, 20)
	FlipSoftplusSums(w, wneg, v, x, got)
	flipRowSumGo(w.Data, wneg.Data, v, 20, 35, x, ref)
	for i := range got {
		s := 1.0
		if v[i] > 0.5 {
			s = -1
		}
		direct := 0.0
		for j := range x {
			direct += math.Log1p(math.Exp(float64(x[j]) + s*float64(w.At(i, j))))
		}
		if got[i] != ref[i] || math.Abs(got[i]-direct) > 1e-5*direct {
			t.Fatalf("row %d: %v, Go reference %v, float64 %v", i, got[i], ref[i], direct)
		}
	}
}

// adamInputs returns weights, gradients and running means w, g, m, v of n
// values for AdamStep: w, g and m normal or awkward (kernelInput), v mostly
// non-negative and often tiny (0, denormal, or so small that sqrt(v)*c2 is
// below eps), with an infinity, a NaN or a negative value now and then.
func adamInputs(r *rand.Rand, n int) (w, g, m, v []float32) {
	w, g, m = kernelInput(r, n), kernelInput(r, n), kernelInput(r, n)
	tiny := []float32{0, 1e-45, 1e-42, 1e-40, 1.1754942e-38, 1.1754944e-38, 1e-36, 1e-30, 1e-20, 1e-17, 1e-16, 4e-16, 1e-12}
	odd := []float32{float32(math.Inf(1)), float32(math.NaN()), -1e-40, -1, float32(math.Copysign(0, -1))}
	v = make([]float32, n)
	for i := range v {
		switch k := r.IntN(16); {
		case k < 7:
			v[i] = tiny[r.IntN(len(tiny))]
		case k == 7:
			v[i] = odd[r.IntN(len(odd))]
		default:
			v[i] = float32(math.Abs(r.NormFloat64()) * math.Pow(10, float64(r.IntN(9)-6)))
		}
	}
	return w, g, m, v
}

// adamParams are AdamStep's b1, b2, step, c2 and eps: PyTorch's defaults
// at steps 1 and 1000, others whose 1-b inexact, and eps 0 (divisions by
// zero).
var adamParams = [][5]float32{
	{0.9, 0.999, 1e-3 / (1 - 0.9), float32(1 / math.Sqrt(1-0.999)), 1e-8},
	{0.9, 0.999, 1e-3, 1.0002, 1e-8},
	{0.7, 0.3, 0.37, 1.3, 1e-6},
	{0.5, 0.25, 0.1, 1, 0},
	{0, 0, 1, 1, 1e-8},
}

// AdamStep's kernel on every path equals the Go reference bit for bit, on
// every length of tail (0, 1, around the vector widths, and 1000+3).
func TestAdamStepPathsMatchGoReference(t *testing.T) {
	forPaths(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(91, 92))
		for _, n := range []int{0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 100, 1000 + 3} {
			for pi, a := range adamParams {
				name := fmt.Sprintf("n=%d params %d", n, pi)
				w1, g, m1, v1 := adamInputs(r, n)
				g0 := append([]float32(nil), g...)
				w2, m2, v2 := append([]float32(nil), w1...), append([]float32(nil), m1...), append([]float32(nil), v1...)
				adamStep(w1, g, m1, v1, a[0], a[1], a[2], a[3], a[4])
				adamStepGo(w2, g0, m2, v2, a[0], a[1], a[2], a[3], a[4])
				sameSlices(t, name+" weights", w1, w2)
				sameSlices(t, name+" m", m1, m2)
				sameSlices(t, name+" v", v1, v2)
				sameSlices(t, name+" gradients (unchanged)", g, g0)
				// The exported function too (one worker at these sizes).
				w3, m3, v3 := append([]float32(nil), w2...), append([]float32(nil), m2...), append([]float32(nil), v2...)
				AdamStep(w2, g, m2, v2, a[0], a[1], a[2], a[3], a[4])
				adamStepGo(w3, g0, m3, v3, a[0], a[1], a[2], a[3], a[4])
				sameSlices(t, name+" AdamStep weights", w2, w3)
				sameSlices(t, name+" AdamStep m", m2, m3)
				sameSlices(t, name+" AdamStep v", v2, v3)
			}
		}
	})
}

// AdamStep split between workers gives the Go reference's results, with
// any number of workers, and also when called from the parts of a split
// (as nn's optimisers do).
func TestAdamStepSplit(t *testing.T) {
	const n = 3*minParallel + 5
	r := rand.New(rand.NewPCG(93, 94))
	w0, g, m0, v0 := adamInputs(r, n)
	a := adamParams[0]
	w, m, v := append([]float32(nil), w0...), append([]float32(nil), m0...), append([]float32(nil), v0...)
	adamStepGo(w, g, m, v, a[0], a[1], a[2], a[3], a[4])
	forPaths(t, func(t *testing.T) {
		for _, procs := range []int{1, 2, 3} {
			old := runtime.GOMAXPROCS(procs)
			w1, m1, v1 := append([]float32(nil), w0...), append([]float32(nil), m0...), append([]float32(nil), v0...)
			AdamStep(w1, g, m1, v1, a[0], a[1], a[2], a[3], a[4])
			// Nested: each part of a split calls AdamStep on its own
			// range, large enough to be split again.
			w2, m2, v2 := append([]float32(nil), w0...), append([]float32(nil), m0...), append([]float32(nil), v0...)
			done := make(chan struct{})
			go func() {
				defer close(done)
				ParallelRows(2, n, func(r0, r1 int) {
					for i := r0; i < r1; i++ {
						lo, hi := i*n/2, (i+1)*n/2
						AdamStep(w2[lo:hi], g[lo:hi], m2[lo:hi], v2[lo:hi], a[0], a[1], a[2], a[3], a[4])
					}
				})
			}()
			select {
			case <-done:
			case <-time.After(time.Minute):
				t.Fatalf("%d workers: AdamStep called from the parts of a split did not return", procs)
			}
			runtime.GOMAXPROCS(old)
			what := fmt.Sprintf("%d workers", procs)
			sameSlices(t, what+" weights", w1, w)
			sameSlices(t, what+" m", m1, m)
			sameSlices(t, what+" v", v1, v)
			sameSlices(t, what+" nested weights", w2, w)
			sameSlices(t, what+" nested m", m2, m)
			sameSlices(t, what+" nested v", v2, v)
		}
	})
}

// AdamStep computes Adam's update: checked against float64 arithmetic on
// ordinary values.
func TestAdamStepAccuracy(t *testing.T) {
	r := rand.New(rand.NewPCG(95, 96))
	const n = 1000
	w, g, m, v := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range w {
		w[i], g[i], m[i] = float32(r.NormFloat64()), float32(r.NormFloat64()), float32(r.NormFloat64()*0.1)
		v[i] = float32(math.Abs(r.NormFloat64()) * math.Pow(10, float64(r.IntN(12)-10)))
	}
	w0, m0, v0 := append([]float32(nil), w...), append([]float32(nil), m...), append([]float32(nil), v...)
	b1, b2, step, c2, eps := float32(0.9), float32(0.999), float32(0.01), float32(3.7), float32(1e-8)
	AdamStep(w, g, m, v, b1, b2, step, c2, eps)
	for i := range w {
		gi := float64(g[i])
		wm := float64(b1)*float64(m0[i]) + (1-float64(b1))*gi
		wv := float64(b2)*float64(v0[i]) + (1-float64(b2))*gi*gi
		d := float64(step) * wm / (math.Sqrt(wv)*float64(c2) + float64(eps))
		if math.Abs(float64(m[i])-wm) > 1e-6*(math.Abs(float64(b1)*float64(m0[i]))+math.Abs(gi)) ||
			math.Abs(float64(v[i])-wv) > 1e-6*wv ||
			math.Abs(float64(w[i])-(float64(w0[i])-d)) > 1e-6*math.Abs(d)+1.2e-7*math.Abs(float64(w0[i])) {
			t.Fatalf("element %d: w %g m %g v %g, want %g %g %g", i, w[i], m[i], v[i], float64(w0[i])-d, wm, wv)
		}
	}
	for _, bad := range [][4]int{{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}} {
		mustPanic(t, fmt.Sprintf("AdamStep with lengths %v", bad), func() {
			AdamStep(w[bad[0]:], g[bad[1]:], m[bad[2]:], v[bad[3]:], b1, b2, step, c2, eps)
		})
	}
}
