package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/harmonium-ml/harmonium/mat32"
)

// TestConvForward compares Conv2D with a direct cross-correlation
// computed in float64 from the definition.
func TestConvForward(t *testing.T) {
	for _, c := range []struct {
		in                           Shape
		filters, kernel, stride, pad int
	}{{Shape{2, 5, 6}, 3, 3, 2, 1}, {Shape{1, 7, 7}, 2, 5, 1, 2}, {Shape{3, 4, 4}, 4, 1, 1, 0}, {Shape{2, 6, 5}, 2, 4, 3, 2}} {
		l := Conv2D(c.in, c.filters, c.kernel, c.stride, c.pad, Given)
		randomize(l, 2)
		x := randMat(rand.New(rand.NewPCG(2, 2)), 3, c.in.Size(), -1, 1)
		y := l.Forward(x, false)
		out := l.g.out
		k := c.kernel
		for n := range x.Rows {
			for f := range c.filters {
				for oh := range out.H {
					for ow := range out.W {
						want := float64(l.B[f])
						for ch := range c.in.C {
							for i := range k {
								for j := range k {
									ih, iw := oh*c.stride-c.pad+i, ow*c.stride-c.pad+j
									if ih < 0 || ih >= c.in.H || iw < 0 || iw >= c.in.W {
										continue
									}
									w := l.W.At((ch*k+i)*k+j, f)
									want += float64(w) * float64(x.At(n, (ch*c.in.H+ih)*c.in.W+iw))
								}
							}
						}
						got := y.At(n, (f*out.H+oh)*out.W+ow)
						if math.Abs(float64(got)-want) > 1e-5 {
							t.Fatalf("%+v: output (%d, %d, %d, %d) = %v, want %v", c, n, f, oh, ow, got, want)
						}
					}
				}
			}
		}
	}
}

// TestPoolForward compares MaxPool2D's values with the maximum of each
// window.
func TestPoolForward(t *testing.T) {
	in := Shape{2, 5, 7}
	l := MaxPool2D(in, 3, 2)
	x := randMat(rand.New(rand.NewPCG(3, 3)), 2, in.Size(), -1, 1)
	y := l.Forward(x, false)
	for n := range 2 {
		for c := range in.C {
			for oh := range l.out.H {
				for ow := range l.out.W {
					want := float32(math.Inf(-1))
					for i := range 3 {
						for j := range 3 {
							want = max(want, x.At(n, (c*in.H+oh*2+i)*in.W+ow*2+j))
						}
					}
					if got := y.At(n, (c*l.out.H+oh)*l.out.W+ow); got != want {
						t.Fatalf("pool output (%d, %d, %d, %d) = %v, want %v", n, c, oh, ow, got, want)
					}
				}
			}
		}
	}
}

// TestActivationValues checks each activation against its definition.
func TestActivationValues(t *testing.T) {
	x := mat32.FromSlice(1, 5, []float32{-2, -0.5, 0, 0.5, 2})
	for _, c := range []struct {
		l Layer
		f func(float64) float64
	}{
		{Sigmoid(), func(v float64) float64 { return 1 / (1 + math.Exp(-v)) }},
		{Tanh(), math.Tanh},
		{ReLU(), func(v float64) float64 { return math.Max(v, 0) }},
		{LeakyReLU(0.2), func(v float64) float64 {
			if v > 0 {
				return v
			}
			return 0.2 * v
		}},
	} {
		y := c.l.Forward(x, false)
		for i, v := range x.Data {
			if want := c.f(float64(v)); math.Abs(float64(y.Data[i])-want) > 1e-6 {
				t.Errorf("%v at %v: %v, want %v", c.l.(Specifier).Spec().Kind, v, y.Data[i], want)
			}
		}
	}
	y := Softmax().Forward(x, false)
	s := 0.0
	for _, v := range x.Data {
		s += math.Exp(float64(v))
	}
	for i, v := range x.Data {
		if want := math.Exp(float64(v)) / s; math.Abs(float64(y.Data[i])-want) > 1e-6 {
			t.Errorf("softmax %d: %v, want %v", i, y.Data[i], want)
		}
	}
}

// TestLargeLayers runs the element-wise layers on matrices large enough to
// be split between workers and compares with one-row-at-a-time results.
func TestLargeLayers(t *testing.T) {
	x := randMat(rand.New(rand.NewPCG(4, 4)), 64, 600, -1, 1)
	dy := randMat(rand.New(rand.NewPCG(5, 5)), 64, 600, -1, 1)
	for _, mk := range []func() Layer{
		func() Layer { return ReLU() }, func() Layer { return LeakyReLU(0.1) }, func() Layer { return Sigmoid() },
		func() Layer { return Softmax() }, func() Layer { d := Dropout(0.3); d.Seed(1, 1); return d },
	} {
		big, one := mk(), mk()
		y := big.Forward(x, true).Clone()
		dx := big.Backward(dy).Clone()
		if s, ok := one.(Seeder); ok {
			s.Seed(1, 1)
		}
		for i := range x.Rows {
			yi := one.Forward(x.Slice(i, i+1), true)
			dxi := one.Backward(dy.Slice(i, i+1))
			for j := range x.Cols {
				if yi.At(0, j) != y.At(i, j) || dxi.At(0, j) != dx.At(i, j) {
					t.Fatalf("%T: row %d differs when split", big, i)
				}
			}
		}
	}
}
