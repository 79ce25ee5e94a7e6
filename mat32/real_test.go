package mat32

import (
	"math"
	"testing"
)

func TestNormalMoments(t *testing.T) {
	z := make([]float32, 200001)
	NewRNG(3, 0).Normal(z)
	var m, v, k float64
	for _, x := range z {
		m += float64(x)
	}
	m /= float64(len(z))
	for _, x := range z {
		d := float64(x) - m
		v += d * d
		k += d * d * d * d
	}
	v /= float64(len(z))
	k /= float64(len(z)) * v * v
	// Standard errors: mean 1/sqrt(n) ~ 0.0022, variance sqrt(2/n) ~ 0.003,
	// kurtosis sqrt(24/n) ~ 0.011; allow five of them.
	if math.Abs(m) > 0.012 || math.Abs(v-1) > 0.016 || math.Abs(k-3) > 0.06 {
		t.Fatalf("normal deviates: mean %.4f variance %.4f kurtosis %.4f, want 0, 1, 3", m, v, k)
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
}
