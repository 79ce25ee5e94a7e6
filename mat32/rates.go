package mat32

import (
	"math/rand/v2"
	"time"
)

// Rates are speeds measured on this machine by MeasureRates.
type Rates struct {
	// GemmGFLOPS is the rate of the products of a CD-1 step (v*W, h*W'
	// and v'*h), in GFLOP/s.
	GemmGFLOPS float64
	// SampleMelems is the rate of SigmoidBiasSample (sigmoid and Bernoulli
	// sample) over batch x hidden values, in millions of elements per second.
	SampleMelems float64
	// GaussianMelems is the rate of GaussianSample (Gaussian visible
	// units) over batch x visible values, in millions of elements per
	// second.
	GaussianMelems float64
	// ReLUMelems is the rate of ReLUBiasSample (noisy rectified linear
	// hidden units: mean and sample) over batch x hidden values, in
	// millions of elements per second.
	ReLUMelems float64
}

// MeasureRates times, for about d in all, the products of a CD-1 step of a
// visible x hidden RBM at the given batch size, the fused sigmoid and
// sample kernel over batch x hidden values, Gaussian sampling over batch x
// visible values and noisy rectified linear units over batch x hidden
// values, each spread over the workers as in training. Each is timed in several rounds and the fastest round is
// reported: on a machine shared with other work, that is the closest to
// the rate the hardware gives.
func MeasureRates(visible, hidden, batch int, d time.Duration) Rates {
	r := rand.New(rand.NewPCG(1, 1))
	v, w, h := New(batch, visible), New(visible, hidden), New(batch, hidden)
	for _, m := range []*Dense{v, w, h} {
		for i := range m.Data {
			m.Data[i] = r.Float32() - 0.5
		}
	}
	vr, g := New(batch, visible), New(visible, hidden)
	flop := 2 * float64(batch) * float64(visible) * float64(hidden) * 3
	products := func() {
		Gemm(false, false, 1, v, w, 0, h)
		Gemm(false, true, 1, h, w, 0, vr)
		Gemm(true, false, 1, v, h, 0, g)
	}
	p, s := New(batch, hidden), New(batch, hidden)
	bias := make([]float32, hidden)
	rng := NewRNG(1, 0)
	sample := func() { SigmoidBiasSample(p, s, bias, rng) }
	gv, mean := New(batch, visible), New(batch, visible)
	std := make([]float32, visible)
	for j := range std {
		std[j] = 1
	}
	gaussian := func() { GaussianSample(gv, mean, std, rng) }
	// ReLUBiasSample with a zero bias leaves p as it is.
	relu := func() { ReLUBiasSample(p, s, bias, rng) }
	const rounds = 5
	best := func(f func(), work float64, budget time.Duration) float64 {
		f() // warm up: first calls start the helpers and load the library
		rate := 0.0
		for range rounds {
			n, start := 0, time.Now()
			for n == 0 || time.Since(start) < budget/rounds {
				f()
				n++
			}
			rate = max(rate, work*float64(n)/time.Since(start).Seconds())
		}
		return rate
	}
	return Rates{
		GemmGFLOPS:     best(products, flop, d*5/8) / 1e9,
		SampleMelems:   best(sample, float64(batch*hidden), d/8) / 1e6,
		GaussianMelems: best(gaussian, float64(batch*visible), d/8) / 1e6,
		ReLUMelems:     best(relu, float64(batch*hidden), d/8) / 1e6,
	}
}
