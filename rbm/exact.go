package rbm

import (
	"fmt"
	"math"
	"sync"

	"github.com/harmonium-ml/harmonium/mat32"
)

// MaxExactUnits is the size of the smaller layer above which LogPartition
// refuses to enumerate its states.
const MaxExactUnits = 25

// LogPartition returns log Z, the log of the sum of e^{-E(v,h)} over every
// state, computed exactly by enumerating the 2^n states of the smaller layer
// and summing the other layer out analytically.
//
// For Gaussian visible units the hidden states are enumerated and the
// visible units integrated out in closed form:
// log Z = sum_i log(2 pi sigma_i^2)/2 + log sum_h exp(c.h +
// sum_i ((b_i + (Wh)_i)^2 - b_i^2) / (2 sigma_i^2)).
//
// Hidden units other than Bernoulli (ReLU, Gaussian) need Bernoulli visible
// units, whose states are enumerated with the free energy summing the
// hidden units out.
func (m *RBM) LogPartition() (float64, error) {
	if m.VisUnits == Gaussian {
		return m.gaussLogPartition(false)
	}
	if m.HidUnits != Bernoulli {
		return m.visibleLogPartition()
	}
	nv, nh := m.Visible(), m.Hidden()
	if err := m.CanEnumerate(); err != nil {
		return 0, err
	}
	n := min(nv, nh)
	// term(s) is the log of the unnormalised marginal of state s of the
	// enumerated layer.
	var term func(s uint64, x []float64) float64
	if nh <= nv {
		term = func(s uint64, x []float64) float64 { // x: visible inputs b + W h
			t := 0.0
			copy64(x, m.VisBias)
			for j := 0; j < nh; j++ {
				if s>>j&1 == 1 {
					t += float64(m.HidBias[j])
					for i := 0; i < nv; i++ {
						x[i] += float64(m.W.Data[i*nh+j])
					}
				}
			}
			for _, xi := range x {
				t += softplus(xi)
			}
			return t
		}
	} else {
		term = func(s uint64, x []float64) float64 { // x: hidden inputs c + W'v
			t := 0.0
			copy64(x, m.HidBias)
			for i := 0; i < nv; i++ {
				if s>>i&1 == 1 {
					t += float64(m.VisBias[i])
					for j, w := range m.W.Row(i) {
						x[j] += float64(w)
					}
				}
			}
			for _, xj := range x {
				t += softplus(xj)
			}
			return t
		}
	}
	states := uint64(1) << n
	w := uint64(mat32.Workers())
	parts := make([]float64, w)
	var wg sync.WaitGroup
	for p := uint64(0); p < w; p++ {
		wg.Go(func() {
			x := make([]float64, max(nv, nh))[:nv+nh-n]
			acc := newLogSum()
			for s := states * p / w; s < states*(p+1)/w; s++ {
				acc.add(term(s, x))
			}
			parts[p] = acc.value()
		})
	}
	wg.Wait()
	total := newLogSum()
	for _, v := range parts {
		total.add(v)
	}
	return total.value(), nil
}

// CanEnumerate reports why LogPartition cannot enumerate the model's
// states, or nil when it can: the enumerated layer (the hidden one for
// Gaussian visible units, else the smaller) must have at most
// MaxExactUnits units, and the hidden units must be Bernoulli.
func (m *RBM) CanEnumerate() error {
	switch {
	case m.VisUnits == Gaussian && m.HidUnits != Bernoulli:
		return fmt.Errorf("exact log Z with %v visible and %v hidden units: %w", m.VisUnits, m.HidUnits, ErrUnsupported)
	case m.VisUnits == Gaussian:
		return checkExact(m.Hidden())
	case m.HidUnits != Bernoulli:
		return checkExact(m.Visible())
	}
	return checkExact(min(m.Visible(), m.Hidden()))
}

// checkExact reports whether log Z can be computed by enumerating a layer
// of n units.
func checkExact(n int) error {
	if n > MaxExactUnits {
		return fmt.Errorf("exact log Z needs 2^%d states; the enumerated layer (the smaller; the hidden one for Gaussian visible units, the visible one for other hidden units) can have at most %d units", n, MaxExactUnits)
	}
	return nil
}

// visibleLogPartition returns log Z = log sum_v e^{-F(v)} by enumerating
// the binary visible states.
func (m *RBM) visibleLogPartition() (float64, error) {
	if err := m.CanEnumerate(); err != nil {
		return 0, err
	}
	nv := m.Visible()
	states := 1 << nv
	block := min(states, logZBlock)
	v := mat32.New(block, nv)
	total := newLogSum()
	for start := 0; start < states; start += block {
		rows := min(block, states-start)
		vc := v.Slice(0, rows)
		for r := 0; r < rows; r++ {
			row := vc.Row(r)
			for i := range row {
				row[i] = float32((start + r) >> i & 1)
			}
		}
		for _, f := range m.FreeEnergies(vc) {
			total.add(-f)
		}
	}
	return total.value(), nil
}

// LogLikelihood returns the mean log-probability of the rows of v under the
// model given log Z: mean(-F(v)) - logZ.
func (m *RBM) LogLikelihood(v *mat32.Dense, logZ float64) float64 {
	return -m.MeanFreeEnergy(v) - logZ
}

func copy64(dst []float64, src []float32) {
	for i, x := range src {
		dst[i] = float64(x)
	}
}

// logSum accumulates log(sum e^{x_i}) stably.
type logSum struct{ max, sum float64 }

func newLogSum() logSum { return logSum{max: math.Inf(-1)} }

func (l *logSum) add(x float64) {
	switch {
	case math.IsInf(x, -1):
	case x <= l.max:
		l.sum += math.Exp(x - l.max)
	default:
		l.sum = l.sum*math.Exp(l.max-x) + 1
		l.max = x
	}
}

func (l *logSum) value() float64 {
	if l.sum == 0 {
		return math.Inf(-1)
	}
	return l.max + math.Log(l.sum)
}
