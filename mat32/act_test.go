package mat32

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// Every activation kind equals the Go reference bit for bit on every path,
// for lengths with tails of every size, inputs with the awkward values
// (zeros of both signs, NaN, infinities, huge values), and in place.
func TestActivatePathsMatchGoReference(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	names := []string{"sigmoid", "relu", "leaky", "sigmoid-grad", "tanh-grad", "relu-grad", "leaky-grad"}
	for _, n := range []int{1, 7, 8, 9, 15, 16, 17, 31, 33, 100, 1000} {
		x, y, dy := kernelInput(r, n), kernelInput(r, n), kernelInput(r, n)
		x[0], x[n-1] = float32(math.Copysign(0, -1)), float32(math.NaN())
		for kind, name := range names {
			for _, alpha := range []float32{0.01, -0.5} {
				want := make([]float32, n)
				activateGo(kind, alpha, x, y, dy, want)
				forPaths(t, func(t *testing.T) {
					what := fmt.Sprintf("%s n %d alpha %v", name, n, alpha)
					got := make([]float32, n)
					activate(kind, alpha, x, y, dy, got)
					sameSlices(t, what, got, want)
					// In place: the output over the input it reads last.
					in := append([]float32(nil), dy...)
					if kind <= actLeaky {
						in = append(in[:0], x...)
						activate(kind, alpha, in, y, dy, in)
					} else {
						activate(kind, alpha, x, y, in, in)
					}
					sameSlices(t, what+" in place", in, want)
				})
			}
		}
	}
}

// The exported functions compute what their documentation says.
func TestActivateDefinitions(t *testing.T) {
	x := []float32{-2, -0.5, float32(math.Copysign(0, -1)), 0, 0.5, 3}
	dy := []float32{1, 2, 3, 4, 5, 6}
	out, y := make([]float32, len(x)), make([]float32, len(x))
	forPaths(t, func(t *testing.T) {
		for _, f := range []Activation{ActSigmoid, ActTanh, ActReLU, ActLeakyReLU} {
			Activate(f, 0.1, x, y)
			ActivateGrad(f, 0.1, x, y, dy, out)
			for i, v := range x {
				var fy, d float64
				xv := float64(v)
				switch f {
				case ActSigmoid:
					fy = 1 / (1 + math.Exp(-xv))
					d = fy * (1 - fy)
				case ActTanh:
					fy = math.Tanh(xv)
					d = 1 - fy*fy
				case ActReLU:
					fy = math.Max(xv, 0)
					if xv > 0 {
						d = 1
					}
				case ActLeakyReLU:
					fy, d = 0.1*xv, 0.1
					if xv > 0 {
						fy, d = xv, 1
					}
				}
				if math.Abs(float64(y[i])-fy) > 1e-6 || math.Abs(float64(out[i])-float64(dy[i])*d) > 1e-5 {
					t.Fatalf("%v at %v: %v, gradient %v; want %v, %v", f, v, y[i], out[i], fy, float64(dy[i])*d)
				}
			}
			if f == ActReLU && math.Signbit(float64(y[2])) {
				t.Fatalf("ReLU(-0) = -0, want +0")
			}
		}
	})
}

// TestPositive checks the bit mask behind ReLU's derivative at the edges.
func TestPositive(t *testing.T) {
	for _, c := range []struct {
		v    float32
		want bool
	}{{1, true}, {math.SmallestNonzeroFloat32, true}, {math.MaxFloat32, true}, {float32(math.Inf(1)), true},
		{0, false}, {float32(math.Copysign(0, -1)), false}, {-1, false}, {-math.SmallestNonzeroFloat32, false}, {float32(math.Inf(-1)), false}} {
		if got := positiveMask(c.v) == math.MaxUint32; got != c.want || positiveMask(c.v) != 0 && positiveMask(c.v) != math.MaxUint32 {
			t.Errorf("positiveMask(%v) = %#x", c.v, positiveMask(c.v))
		}
	}
}

func TestActivateUnknownPanics(t *testing.T) {
	for _, f := range []func(){
		func() { Activate(Activation(9), 0, make([]float32, 2), make([]float32, 2)) },
		func() { ActivateGrad(Activation(9), 0, nil, nil, make([]float32, 2), make([]float32, 2)) },
	} {
		mustPanic(t, "an unknown activation", f)
	}
	if got := Activation(9).String(); got != "Activation(9)" {
		t.Fatalf("String of an unknown activation: %q", got)
	}
}
