package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/harmonium-ml/harmonium/mat32"
)

// Gradient checks against central finite differences.
//
// A layer's objective is f = sum_i y_i r_i, y the layer's float32 output
// and r a fixed random tensor, summed in float64; its gradient with
// respect to y is r, which Backward turns into the gradients to check. Each
// input and parameter value v is moved to float32(v±h), h = 1e-2, and the
// numerical derivative is (f+ - f-) / (the difference of the two float32
// values actually used).
//
// Tolerance: |analytic - numeric| <= atol + rtol*max(|analytic|, |numeric|)
// with atol = 2e-3 and rtol = 1e-2. The truncation error of a central
// difference is h^2/6 times the third derivative, ~2e-5 for the smooth
// functions here (zero for the linear layers). The rounding error is the
// float32 error of f divided by 2h: each output carries a relative error
// of at most a few times 2^-24 per term it sums (at most ~50 here), and
// with values of order 1 over some tens of outputs |df| stays below
// ~2e-5, giving <= 1e-3. A wrong
// gradient (a missing term, a misplaced index, a wrong factor) is off by
// far more than 1%, as TestGradCheckDetectsErrors shows.
const (
	fdStep = 1e-2
	fdAtol = 2e-3
	fdRtol = 1e-2
)

// mismatch is a value whose analytic and numerical gradients disagree.
type mismatch struct {
	what              string
	index             int
	analytic, numeric float64
}

func (m mismatch) String() string {
	return fmt.Sprintf("%s[%d]: analytic %.6g, numeric %.6g", m.what, m.index, m.analytic, m.numeric)
}

func agree(a, n float64) bool {
	return math.Abs(a-n) <= fdAtol+fdRtol*max(math.Abs(a), math.Abs(n))
}

func randMat(r *rand.Rand, rows, cols int, lo, hi float64) *mat32.Dense {
	m := mat32.New(rows, cols)
	for i := range m.Data {
		m.Data[i] = float32(lo + (hi-lo)*r.Float64())
	}
	return m
}

func dot64(a, b []float32) float64 {
	s := 0.0
	for i, v := range a {
		s += float64(v) * float64(b[i])
	}
	return s
}

// numericGrad returns the central difference of f with respect to v[i].
func numericGrad(f func() float64, v []float32, i int) float64 {
	old := v[i]
	up, down := float32(float64(old)+fdStep), float32(float64(old)-fdStep)
	v[i] = up
	fp := f()
	v[i] = down
	fm := f()
	v[i] = old
	return (fp - fm) / (float64(up) - float64(down))
}

// compare checks every element of want (analytic) against numeric
// differences of f with respect to v.
func compare(what string, f func() float64, v, want []float32) []mismatch {
	var bad []mismatch
	for i := range v {
		n := numericGrad(f, v, i)
		if !agree(float64(want[i]), n) {
			bad = append(bad, mismatch{what, i, float64(want[i]), n})
		}
	}
	return bad
}

// checkLayer compares the gradients of l (with respect to x and to every
// parameter) with finite differences of f = sum(l(x) * r), plus the
// layer's own loss term if it adds one (AuxLosser). before, when
// non-nil, runs before every Forward (to fix a dropout mask).
func checkLayer(l Layer, x *mat32.Dense, before func()) []mismatch {
	fwd := func() *mat32.Dense {
		if before != nil {
			before()
		}
		return l.Forward(x, true)
	}
	y := fwd()
	r := randMat(rand.New(rand.NewPCG(7, 7)), y.Rows, y.Cols, -1, 1)
	dx := l.Backward(r)
	wantX := append([]float32(nil), dx.Data...)
	var wantP [][]float32
	for _, p := range l.Params() {
		wantP = append(wantP, append([]float32(nil), p.Grad.Data...))
	}
	f := func() float64 {
		v := dot64(fwd().Data, r.Data)
		if a, ok := l.(AuxLosser); ok {
			v += a.AuxLoss()
		}
		return v
	}
	bad := compare("input", f, x.Data, wantX)
	for i, p := range l.Params() {
		bad = append(bad, compare(p.Name, f, p.Value.Data, wantP[i])...)
	}
	return bad
}

func expectNone(t *testing.T, name string, bad []mismatch) {
	t.Helper()
	for i, m := range bad {
		if i == 5 {
			t.Errorf("%s: ... %d mismatches in all", name, len(bad))
			break
		}
		t.Errorf("%s: %v", name, m)
	}
}

// randomize draws the layer's parameters from U(-1, 1).
func randomize(l Layer, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 1))
	for _, p := range l.Params() {
		for i := range p.Value.Data {
			p.Value.Data[i] = float32(2*r.Float64() - 1)
		}
	}
}

// awayFromZero moves every value of m at least d from 0, so that finite
// differences do not cross a kink of ReLU.
func awayFromZero(m *mat32.Dense, d float32) {
	for i, v := range m.Data {
		if v >= 0 && v < d {
			m.Data[i] = v + d
		} else if v < 0 && v > -d {
			m.Data[i] = v - d
		}
	}
}

func TestGradDense(t *testing.T) {
	l := Dense(4, 3, Given)
	randomize(l, 1)
	x := randMat(rand.New(rand.NewPCG(1, 2)), 3, 4, -1, 1)
	expectNone(t, "dense", checkLayer(l, x, nil))
}

func TestGradConv2D(t *testing.T) {
	for _, c := range []struct {
		in                           Shape
		filters, kernel, stride, pad int
		wino                         bool // force Winograd's algorithm
	}{
		{Shape{2, 5, 6}, 3, 3, 2, 1, false}, // padding 1, stride 2, odd sizes
		{Shape{1, 6, 6}, 2, 5, 1, 2, false}, // the CNN's 5x5 kernels with padding 2
		{Shape{3, 4, 5}, 2, 2, 1, 0, false}, // no padding, even kernel
		{Shape{2, 7, 5}, 2, 3, 3, 1, false}, // stride larger than the overlap
		{Shape{3, 5, 6}, 2, 3, 1, 1, true},  // Winograd F(4x4, 3x3)
		{Shape{8, 6, 6}, 8, 5, 1, 2, false}, // Winograd F(2x2, 5x5), chosen
		{Shape{2, 3, 4}, 3, 5, 1, 1, true},  // F(2x2, 5x5), tiles overhanging
	} {
		name := fmt.Sprintf("conv %v k%d s%d p%d", c.in, c.kernel, c.stride, c.pad)
		l := Conv2D(c.in, c.filters, c.kernel, c.stride, c.pad, Given)
		if c.wino {
			l.setWino(makeWino(l.g))
		}
		randomize(l, 3)
		x := randMat(rand.New(rand.NewPCG(3, 4)), 2, c.in.Size(), -1, 1)
		expectNone(t, name, checkLayer(l, x, nil))
	}
}

// spaced returns rows x cols values, a shuffle of k*0.1 - offset: all at
// least 0.1 apart, so that no finite difference of step 1e-2 changes which
// value of a pooling window is largest.
func spaced(rows, cols int, seed uint64) *mat32.Dense {
	m := mat32.New(rows, cols)
	for i, k := range rand.New(rand.NewPCG(seed, 5)).Perm(len(m.Data)) {
		m.Data[i] = float32(k)*0.1 - float32(len(m.Data))*0.05
	}
	return m
}

func TestGradMaxPool2D(t *testing.T) {
	for _, c := range []struct {
		in             Shape
		window, stride int
	}{{Shape{2, 4, 6}, 2, 2}, {Shape{1, 5, 5}, 3, 2}, {Shape{2, 5, 4}, 2, 1}} {
		l := MaxPool2D(c.in, c.window, c.stride)
		x := spaced(2, c.in.Size(), 6)
		expectNone(t, fmt.Sprintf("maxpool %v w%d s%d", c.in, c.window, c.stride), checkLayer(l, x, nil))
	}
}

// TestMaxPoolTies checks the documented tie rule on inputs with exact
// ties: each window's gradient goes to its first maximum in row-major
// order, and overlapping windows add.
func TestMaxPoolTies(t *testing.T) {
	for _, c := range []struct {
		in             Shape
		window, stride int
	}{{Shape{1, 4, 4}, 2, 2}, {Shape{2, 5, 5}, 3, 2}, {Shape{1, 4, 4}, 2, 1}} {
		l := MaxPool2D(c.in, c.window, c.stride)
		// Values from {0, 1, 2}: most windows hold ties for the maximum.
		r := rand.New(rand.NewPCG(9, 9))
		x := mat32.New(2, c.in.Size())
		for i := range x.Data {
			x.Data[i] = float32(r.IntN(3))
		}
		y := l.Forward(x, true)
		dy := randMat(r, y.Rows, y.Cols, 1, 2)
		dx := l.Backward(dy)
		want := poolTieReference(c.in, c.window, c.stride, x, dy)
		for i := range want {
			if dx.Data[i] != want[i] {
				t.Fatalf("%v w%d s%d: dx[%d] = %v, want %v (first maximum in row-major order)", c.in, c.window, c.stride, i, dx.Data[i], want[i])
			}
		}
	}
}

// poolTieReference routes dy of each window to its first maximum, found
// by scanning the window row by row.
func poolTieReference(in Shape, win, stride int, x, dy *mat32.Dense) []float32 {
	oh, ow := (in.H-win)/stride+1, (in.W-win)/stride+1
	dx := make([]float32, len(x.Data))
	for n := range x.Rows {
		at := func(c, i, j int) int { return n*in.Size() + c*in.H*in.W + i*in.W + j }
		o := n * in.C * oh * ow
		for c := range in.C {
			for i := range oh {
				for j := range ow {
					best := -1
					for a := 0; a < win; a++ {
						for b := 0; b < win; b++ {
							k := at(c, i*stride+a, j*stride+b)
							if best < 0 || x.Data[k] > x.Data[best] {
								best = k
							}
						}
					}
					dx[best] += dy.Data[o]
					o++
				}
			}
		}
	}
	return dx
}

func TestGradActivations(t *testing.T) {
	for _, c := range []struct {
		name string
		l    Layer
	}{{"sigmoid", Sigmoid()}, {"tanh", Tanh()}, {"relu", ReLU()}, {"leaky relu", LeakyReLU(0.1)}, {"softmax", Softmax()}} {
		x := randMat(rand.New(rand.NewPCG(4, 4)), 3, 5, -2, 2)
		awayFromZero(x, 0.05)
		expectNone(t, c.name, checkLayer(c.l, x, nil))
	}
}

func TestGradDropout(t *testing.T) {
	l := Dropout(0.4)
	x := randMat(rand.New(rand.NewPCG(5, 5)), 4, 10, -1, 1)
	fix := func() { l.Seed(11, 3) } // the same mask at every Forward
	expectNone(t, "dropout", checkLayer(l, x, fix))
	fix()
	y := l.Forward(x, true)
	kept, dropped := 0, 0
	for i, v := range y.Data {
		switch v {
		case 0:
			dropped++
		case x.Data[i] * float32(1/(1-0.4)):
			kept++
		default:
			t.Fatalf("dropout output %v for input %v: neither 0 nor scaled by 1/0.6", v, x.Data[i])
		}
	}
	if kept == 0 || dropped == 0 {
		t.Errorf("dropout kept %d and dropped %d of %d values", kept, dropped, len(y.Data))
	}
	if l.Forward(x, false) != x {
		t.Error("dropout in evaluation mode changed its input")
	}
}

func TestGradFlatten(t *testing.T) {
	x := randMat(rand.New(rand.NewPCG(6, 6)), 2, 12, -1, 1)
	expectNone(t, "flatten", checkLayer(Flatten(), x, nil))
}

// checkLoss compares a loss's gradient with finite differences of the loss.
func checkLoss(loss Loss, out *mat32.Dense, tg Targets) []mismatch {
	grad := mat32.New(out.Rows, out.Cols)
	loss.Loss(out, tg, grad)
	return compare("logits", func() float64 { return loss.Loss(out, tg, nil) }, out.Data, grad.Data)
}

func TestGradLosses(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	out := randMat(r, 4, 5, -3, 3)
	labels := []int{0, 4, 2, 2}
	probs := randMat(r, 4, 5, 0, 1)
	values := randMat(r, 4, 5, -2, 2)
	expectNone(t, "softmax cross-entropy", checkLoss(SoftmaxCrossEntropy{}, out, Targets{Labels: labels}))
	expectNone(t, "binary cross-entropy", checkLoss(BinaryCrossEntropy{}, out, Targets{Values: probs}))
	expectNone(t, "squared error", checkLoss(SquaredError{}, out, Targets{Values: values}))
}

// TestLossValues checks each loss against its definition computed in
// float64 on one sample.
func TestLossValues(t *testing.T) {
	z := []float64{1.5, -0.5, 0.25}
	out := mat32.FromSlice(1, 3, []float32{1.5, -0.5, 0.25})
	lse := math.Log(math.Exp(z[0]) + math.Exp(z[1]) + math.Exp(z[2]))
	if got, want := (SoftmaxCrossEntropy{}).Loss(out, Targets{Labels: []int{1}}, nil), lse-z[1]; math.Abs(got-want) > 1e-6 {
		t.Errorf("softmax cross-entropy %v, want %v", got, want)
	}
	tv := []float64{1, 0, 0.5}
	bce, se := 0.0, 0.0
	for j, zj := range z {
		p := 1 / (1 + math.Exp(-zj))
		bce -= tv[j]*math.Log(p) + (1-tv[j])*math.Log(1-p)
		se += (zj - tv[j]) * (zj - tv[j]) / 2
	}
	tgt := Targets{Values: mat32.FromSlice(1, 3, []float32{1, 0, 0.5})}
	if got := (BinaryCrossEntropy{}).Loss(out, tgt, nil); math.Abs(got-bce) > 1e-6 {
		t.Errorf("binary cross-entropy %v, want %v", got, bce)
	}
	if got := (SquaredError{}).Loss(out, tgt, nil); math.Abs(got-se) > 1e-6 {
		t.Errorf("squared error %v, want %v", got, se)
	}
}

// TestGradNetwork checks a whole network's parameter gradients of the loss
// (layers composed, the first layer's input gradient skipped, dropout with
// a fixed mask).
func TestGradNetwork(t *testing.T) {
	in := Shape{2, 5, 5}
	conv := Conv2D(in, 3, 3, 2, 1, Given)
	net := New(conv, Tanh(), Flatten(), Dense(27, 6, Given), Dropout(0.3), Sigmoid(), Dense(6, 4, Given))
	for i, l := range net.Layers() {
		randomize(l, uint64(i))
	}
	r := rand.New(rand.NewPCG(10, 10))
	x := randMat(r, 3, in.Size(), -1, 1)
	labels := []int{1, 3, 0}
	grad := mat32.New(3, 4)
	fix := func() { net.Layers()[4].(Seeder).Seed(2, 2) }
	loss := func() float64 {
		fix()
		return SoftmaxCrossEntropy{}.Loss(net.Forward(x, true), Targets{Labels: labels}, nil)
	}
	fix()
	SoftmaxCrossEntropy{}.Loss(net.Forward(x, true), Targets{Labels: labels}, grad)
	net.Backward(grad)
	for i, p := range net.Params() {
		want := append([]float32(nil), p.Grad.Data...)
		expectNone(t, fmt.Sprintf("network param %d (%s)", i, p.Name), compare(p.Name, loss, p.Value.Data, want))
	}
}

// wrongDense is a dense layer with a deliberately wrong backward pass: its
// input gradient is scaled by 1.1 or, with biasBug, one bias gradient is
// doubled.
type wrongDense struct {
	*DenseLayer
	biasBug bool
}

func (l wrongDense) Backward(dy *mat32.Dense) *mat32.Dense {
	dx := l.DenseLayer.Backward(dy)
	if l.biasBug {
		l.gB[1] *= 2
		return dx
	}
	for i := range dx.Data {
		dx.Data[i] *= 1.1
	}
	return dx
}

// TestGradCheckDetectsErrors shows that the checker fails on wrong
// gradients, in the input and in a parameter.
func TestGradCheckDetectsErrors(t *testing.T) {
	for _, biasBug := range []bool{false, true} {
		d := Dense(4, 3, Given)
		randomize(d, 1)
		x := randMat(rand.New(rand.NewPCG(1, 2)), 3, 4, -1, 1)
		bad := checkLayer(wrongDense{d, biasBug}, x, nil)
		if len(bad) == 0 {
			t.Fatalf("bias bug %v: the checker accepted a wrong gradient", biasBug)
		}
		for _, m := range bad {
			want := "input"
			if biasBug {
				want = "bias"
			}
			if m.what != want {
				t.Errorf("bias bug %v: mismatch reported in %s, want only %s: %v", biasBug, m.what, want, m)
			}
		}
		if biasBug && (len(bad) != 1 || bad[0].index != 1) {
			t.Errorf("bias bug: mismatches %v, want exactly bias[1]", bad)
		}
	}
}
