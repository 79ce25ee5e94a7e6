package nn

import (
	"math"
	"testing"

	"github.com/harmonium-ml/harmonium/mat32"
)

// scalarParam returns a one-value weight parameter.
func scalarParam(v float32) Param {
	return Param{Name: "weights", Value: mat32.FromSlice(1, 1, []float32{v}), Grad: mat32.New(1, 1), Weight: true}
}

// TestOptimizersByHand takes two steps of each optimiser on one parameter
// p = 1 with gradients 0.5 then 0.25 and learning rate 0.1, against values
// worked out by hand from PyTorch's definitions.
func TestOptimizersByHand(t *testing.T) {
	for _, c := range []struct {
		name   string
		opt    Optimizer
		p1, p2 float64
	}{
		// p1 = 1 - 0.1*0.5 = 0.95; p2 = 0.95 - 0.1*0.25 = 0.925.
		{"sgd", &SGD{}, 0.95, 0.925},
		// b1 = 0.5, p1 = 0.95; b2 = 0.9*0.5 + 0.25 = 0.7, p2 = 0.95 - 0.07 = 0.88.
		{"sgd momentum", &SGD{Momentum: 0.9}, 0.95, 0.88},
		// b1 = 0.5, p1 = 1 - 0.1*(0.5 + 0.9*0.5) = 0.905;
		// b2 = 0.7, p2 = 0.905 - 0.1*(0.25 + 0.9*0.7) = 0.817.
		{"nesterov", &SGD{Momentum: 0.9, Nesterov: true}, 0.905, 0.817},
		// s1 = 0.25, p1 = 1 - 0.1*0.5/0.5 = 0.9;
		// s2 = 0.3125, p2 = 0.9 - 0.1*0.25/sqrt(0.3125) = 0.855279.
		{"adagrad", NewAdaGrad(), 0.9, 0.9 - 0.025/math.Sqrt(0.3125)},
		// v1 = 0.01*0.25 = 0.0025, p1 = 1 - 0.1*0.5/0.05 = 0;
		// v2 = 0.99*0.0025 + 0.01*0.0625 = 0.0031, p2 = -0.1*0.25/sqrt(0.0031) = -0.449013.
		{"rmsprop", NewRMSprop(), 0, -0.025 / math.Sqrt(0.0031)},
		// m1 = 0.05, v1 = 0.00025: p1 = 1 - 0.1*(0.05/0.1)/(sqrt(0.00025/0.001)) = 0.9;
		// m2 = 0.045 + 0.025 = 0.07, v2 = 0.999*0.00025 + 0.001*0.0625 = 0.00031225:
		// p2 = 0.9 - 0.1*(0.07/0.19)/sqrt(0.00031225/0.001999) = 0.806782.
		{"adam", NewAdam(), 0.9, 0.9 - 0.1*(0.07/0.19)/math.Sqrt(0.00031225/(1-0.999*0.999))},
	} {
		p := scalarParam(1)
		ps := []Param{p}
		p.Grad.Data[0] = 0.5
		c.opt.Step(ps, 0.1)
		got1 := float64(p.Value.Data[0])
		p.Grad.Data[0] = 0.25
		c.opt.Step(ps, 0.1)
		got2 := float64(p.Value.Data[0])
		if math.Abs(got1-c.p1) > 1e-6 || math.Abs(got2-c.p2) > 1e-5 {
			t.Errorf("%s: steps give %.7g, %.7g; by hand %.7g, %.7g", c.name, got1, got2, c.p1, c.p2)
		}
	}
}

// refStep is a float64 reference of each optimiser's update of one value
// (PyTorch's definitions), keeping its state in s.
type refStep func(p, g, lr float64, t int, s *[2]float64) float64

var refs = map[string]refStep{
	"sgd": func(p, g, lr float64, _ int, _ *[2]float64) float64 { return p - lr*g },
	"sgd momentum": func(p, g, lr float64, _ int, s *[2]float64) float64 {
		s[0] = 0.9*s[0] + g
		return p - lr*s[0]
	},
	"nesterov": func(p, g, lr float64, _ int, s *[2]float64) float64 {
		s[0] = 0.9*s[0] + g
		return p - lr*(g+0.9*s[0])
	},
	"adagrad": func(p, g, lr float64, _ int, s *[2]float64) float64 {
		s[0] += g * g
		return p - lr*g/(math.Sqrt(s[0])+1e-10)
	},
	"rmsprop": func(p, g, lr float64, _ int, s *[2]float64) float64 {
		s[0] = 0.99*s[0] + 0.01*g*g
		return p - lr*g/(math.Sqrt(s[0])+1e-8)
	},
	"adam": func(p, g, lr float64, t int, s *[2]float64) float64 {
		s[0] = 0.9*s[0] + 0.1*g
		s[1] = 0.999*s[1] + 0.001*g*g
		mh, vh := s[0]/(1-math.Pow(0.9, float64(t))), s[1]/(1-math.Pow(0.999, float64(t)))
		return p - lr*mh/(math.Sqrt(vh)+1e-8)
	},
}

// TestOptimizersElementwise checks that each optimiser keeps separate state
// per value and per parameter: three steps on a 2x2 weight and a bias of
// 2 with different gradients, against the float64 reference.
func TestOptimizersElementwise(t *testing.T) {
	makeOpt := map[string]func() Optimizer{
		"sgd": func() Optimizer { return &SGD{} }, "sgd momentum": func() Optimizer { return &SGD{Momentum: 0.9} },
		"nesterov": func() Optimizer { return &SGD{Momentum: 0.9, Nesterov: true} },
		"adagrad":  func() Optimizer { return NewAdaGrad() }, "rmsprop": func() Optimizer { return NewRMSprop() },
		"adam": func() Optimizer { return NewAdam() },
	}
	grads := [][]float64{{0.3, -0.1, 0.02, 0.5, -0.4, 0.2}, {-0.2, -0.1, 0.3, 0.1, 0.0, 0.6}, {0.05, 0.2, -0.3, 0.4, 0.1, -0.1}}
	for name, mk := range makeOpt {
		w := Param{Value: mat32.FromSlice(2, 2, []float32{0.5, -1, 2, 0.25}), Grad: mat32.New(2, 2), Weight: true}
		b := Param{Value: mat32.FromSlice(1, 2, []float32{0.1, -0.3}), Grad: mat32.New(1, 2)}
		want := []float64{0.5, -1, 2, 0.25, 0.1, -0.3}
		state := make([][2]float64, 6)
		opt := mk()
		for step, g := range grads {
			for i := range 4 {
				w.Grad.Data[i] = float32(g[i])
			}
			b.Grad.Data[0], b.Grad.Data[1] = float32(g[4]), float32(g[5])
			opt.Step([]Param{w, b}, 0.05)
			for i := range want {
				want[i] = refs[name](want[i], float64(float32(g[i])), 0.05, step+1, &state[i])
			}
		}
		got := append(append([]float32(nil), w.Value.Data...), b.Value.Data...)
		for i, v := range got {
			if math.Abs(float64(v)-want[i]) > 1e-5 {
				t.Errorf("%s: value %d is %.7g after 3 steps, the reference %.7g", name, i, v, want[i])
			}
		}
	}
}

// TestPenalties checks L1 and L2 on a weight (by hand: g + 0.01*sign(w) +
// 0.1*w) and that biases are left alone.
func TestPenalties(t *testing.T) {
	w := Param{Value: mat32.FromSlice(1, 3, []float32{0.5, -2, 0}), Grad: mat32.FromSlice(1, 3, []float32{0.1, 0.1, 0.1}), Weight: true}
	b := Param{Value: mat32.FromSlice(1, 1, []float32{3}), Grad: mat32.FromSlice(1, 1, []float32{0.1})}
	r := newRegularizer([]Param{w, b}, 0.01, 0.1, 0)
	r.addPenalties()
	want := []float32{0.1 + 0.01 + 0.05, 0.1 - 0.01 - 0.2, 0.1}
	for i, v := range w.Grad.Data {
		if math.Abs(float64(v-want[i])) > 1e-7 {
			t.Errorf("penalised gradient %d = %v, want %v", i, v, want[i])
		}
	}
	if b.Grad.Data[0] != 0.1 {
		t.Errorf("bias gradient penalised: %v", b.Grad.Data[0])
	}
}

// TestMaxNorm checks that a column of norm 5 is scaled to norm 1, a column
// within the bound is left alone, and biases are not touched.
func TestMaxNorm(t *testing.T) {
	w := Param{Value: mat32.FromSlice(2, 2, []float32{3, 0.1, 4, 0.2}), Grad: mat32.New(2, 2), Weight: true}
	b := Param{Value: mat32.FromSlice(1, 2, []float32{30, 40}), Grad: mat32.New(1, 2)}
	newRegularizer([]Param{w, b}, 0, 0, 1).constrain()
	want := []float32{0.6, 0.1, 0.8, 0.2}
	for i, v := range w.Value.Data {
		if math.Abs(float64(v-want[i])) > 1e-7 {
			t.Errorf("weights after max-norm %v, want %v", w.Value.Data, want)
			break
		}
	}
	if b.Value.Data[0] != 30 || b.Value.Data[1] != 40 {
		t.Errorf("biases changed by max-norm: %v", b.Value.Data)
	}
}

// TestMaxNormLarge checks max-norm on a matrix large enough to be split
// between workers: every column's norm ends at most c, and columns within
// the bound are unchanged.
func TestMaxNormLarge(t *testing.T) {
	w := Param{Value: mat32.New(300, 200), Grad: mat32.New(300, 200), Weight: true}
	for i := range w.Value.Data {
		w.Value.Data[i] = float32(i%7) * 0.01 * float32(1+(i%200)/50)
	}
	before := w.Value.Clone()
	newRegularizer([]Param{w}, 0, 0, 1.5).constrain()
	for j := range 200 {
		var n0, n1 float64
		for i := range 300 {
			n0 += float64(before.At(i, j)) * float64(before.At(i, j))
			n1 += float64(w.Value.At(i, j)) * float64(w.Value.At(i, j))
		}
		n0, n1 = math.Sqrt(n0), math.Sqrt(n1)
		if n0 <= 1.5 && n1 != n0 || n0 > 1.5 && math.Abs(n1-1.5) > 1e-5 {
			t.Fatalf("column %d: norm %v -> %v with max-norm 1.5", j, n0, n1)
		}
	}
}

func TestParseOptimizer(t *testing.T) {
	for _, name := range []string{"sgd", "adam", "rmsprop", "adagrad"} {
		if o, err := ParseOptimizer(name, 0.9, true); err != nil || o == nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if o, _ := ParseOptimizer("sgd", 0.9, true); o.(*SGD).Momentum != 0.9 || !o.(*SGD).Nesterov {
		t.Fatalf("sgd settings: %+v", o)
	}
	if _, err := ParseOptimizer("lbfgs", 0, false); err == nil {
		t.Fatal("unknown optimizer accepted")
	}
}
