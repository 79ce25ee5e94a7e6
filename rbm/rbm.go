// Package rbm implements restricted Boltzmann machines with Bernoulli visible
// and hidden units: the energy and free energy, the conditionals p(h|v) and
// p(v|h), Gibbs sampling, and training by contrastive divergence (CD-k) and
// persistent contrastive divergence (PCD-k).
package rbm

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/harmonium-ml/harmonium/mat32"
)

// RBM is a restricted Boltzmann machine with binary visible units v and binary
// hidden units h, energy E(v,h) = -b.v - c.h - v'Wh.
type RBM struct {
	W       *mat32.Dense // Visible x Hidden weights
	VisBias []float32    // b, one per visible unit
	HidBias []float32    // c, one per hidden unit
	// VisMean is the mean of the training data per visible unit, when known
	// (nil otherwise): AIS fits its base-rate model to it.
	VisMean []float32
}

// New returns an RBM with the given layer sizes and all parameters zero.
func New(visible, hidden int) *RBM {
	return &RBM{W: mat32.New(visible, hidden), VisBias: make([]float32, visible), HidBias: make([]float32, hidden)}
}

// NewInit returns an RBM initialised as in Hinton's practical guide: weights
// drawn from N(0, 0.01^2) with the given seed, hidden biases zero, and
// visible biases log(p/(1-p)) where p is the mean of each column of data
// (clamped to [0.001, 0.999]). data may be nil, leaving visible biases zero.
func NewInit(visible, hidden int, data *mat32.Dense, seed uint64) *RBM {
	m := New(visible, hidden)
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	for i := range m.W.Data {
		m.W.Data[i] = float32(0.01 * r.NormFloat64())
	}
	if data != nil && data.Rows > 0 {
		mean := make([]float32, visible)
		mat32.ColumnSums(mean, 1/float32(data.Rows), data)
		m.VisMean = append([]float32(nil), mean...)
		for j, p := range mean {
			p = min(max(p, 0.001), 0.999)
			m.VisBias[j] = float32(math.Log(float64(p / (1 - p))))
		}
	}
	return m
}

// Visible returns the number of visible units.
func (m *RBM) Visible() int { return m.W.Rows }

// Hidden returns the number of hidden units.
func (m *RBM) Hidden() int { return m.W.Cols }

// Validate checks that the parameter shapes agree and are finite.
func (m *RBM) Validate() error {
	if m.W == nil || len(m.VisBias) != m.W.Rows || len(m.HidBias) != m.W.Cols || (m.VisMean != nil && len(m.VisMean) != m.W.Rows) {
		return fmt.Errorf("rbm: parameter shapes disagree")
	}
	for _, s := range [][]float32{m.W.Data, m.VisBias, m.HidBias} {
		for _, x := range s {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return fmt.Errorf("rbm: parameters contain NaN or Inf")
			}
		}
	}
	return nil
}

// Clone returns a deep copy of m.
func (m *RBM) Clone() *RBM {
	c := &RBM{W: m.W.Clone(), VisBias: append([]float32(nil), m.VisBias...), HidBias: append([]float32(nil), m.HidBias...)}
	if m.VisMean != nil {
		c.VisMean = append([]float32(nil), m.VisMean...)
	}
	return c
}

// Energy returns E(v, h) = -b.v - c.h - v'Wh.
func (m *RBM) Energy(v, h []float32) float64 {
	e := 0.0
	for i, vi := range v {
		if vi == 0 {
			continue
		}
		e -= float64(m.VisBias[i]) * float64(vi)
		row := m.W.Row(i)
		for j, hj := range h {
			e -= float64(vi) * float64(row[j]) * float64(hj)
		}
	}
	for j, hj := range h {
		e -= float64(m.HidBias[j]) * float64(hj)
	}
	return e
}

// softplus returns log(1 + e^x) without overflow.
func softplus(x float64) float64 {
	if x > 0 {
		return x + math.Log1p(math.Exp(-x))
	}
	return math.Log1p(math.Exp(x))
}

// FreeEnergy returns F(v) = -log sum_h e^{-E(v,h)} = -b.v - sum_j softplus(c_j + (v'W)_j).
func (m *RBM) FreeEnergy(v []float32) float64 {
	x := make([]float64, m.Hidden())
	for j := range x {
		x[j] = float64(m.HidBias[j])
	}
	f := 0.0
	for i, vi := range v {
		if vi == 0 {
			continue
		}
		f -= float64(m.VisBias[i]) * float64(vi)
		for j, w := range m.W.Row(i) {
			x[j] += float64(vi) * float64(w)
		}
	}
	for _, xj := range x {
		f -= softplus(xj)
	}
	return f
}

// chunkRows is how many samples the batch methods process at once, bounding
// their scratch memory.
const chunkRows = 1000

// FreeEnergies returns F(v) for every row of v (the softplus terms in
// float32 kernels: relative error of order 1e-6).
func (m *RBM) FreeEnergies(v *mat32.Dense) []float64 {
	m.checkVisible(v)
	out := make([]float64, v.Rows)
	x := mat32.New(min(chunkRows, v.Rows), m.Hidden())
	for r0 := 0; r0 < v.Rows; r0 += chunkRows {
		r1 := min(r0+chunkRows, v.Rows)
		vc, xc := v.Slice(r0, r1), x.Slice(0, r1-r0)
		mat32.Gemm(false, false, 1, vc, m.W, 0, xc)
		mat32.SoftplusRowSums(xc, m.HidBias, 1, out[r0:r1])
		for i := range xc.Rows {
			f := -out[r0+i]
			for k, vk := range vc.Row(i) {
				f -= float64(m.VisBias[k]) * float64(vk)
			}
			out[r0+i] = f
		}
	}
	return out
}

func (m *RBM) checkVisible(v *mat32.Dense) {
	if v.Cols != m.Visible() {
		panic(fmt.Sprintf("rbm: data has %d columns, model has %d visible units", v.Cols, m.Visible()))
	}
}

// HiddenProbs sets dst (rows x Hidden) to p(h=1|v) = sigmoid(c + v'W) for each row of v.
func (m *RBM) HiddenProbs(dst, v *mat32.Dense) {
	mat32.MulSigmoid(v, m.W, false, m.HidBias, dst, nil, nil)
}

// VisibleProbs sets dst (rows x Visible) to p(v=1|h) = sigmoid(b + Wh) for each row of h.
func (m *RBM) VisibleProbs(dst, h *mat32.Dense) {
	mat32.MulSigmoid(h, m.W, true, m.VisBias, dst, nil, nil)
}

// Transform returns p(h=1|v) for every row of v: the hidden layer as features.
func (m *RBM) Transform(v *mat32.Dense) *mat32.Dense {
	m.checkVisible(v)
	out := mat32.New(v.Rows, m.Hidden())
	m.HiddenProbs(out, v)
	return out
}

// Reconstruct returns p(v|h) with h sampled from p(h|v), for every row of v.
func (m *RBM) Reconstruct(v *mat32.Dense, rng *mat32.RNG) *mat32.Dense {
	m.checkVisible(v)
	out := mat32.New(v.Rows, m.Visible())
	hp, hs := mat32.New(min(chunkRows, v.Rows), m.Hidden()), mat32.New(min(chunkRows, v.Rows), m.Hidden())
	for r0 := 0; r0 < v.Rows; r0 += chunkRows {
		r1 := min(r0+chunkRows, v.Rows)
		p, s := hp.Slice(0, r1-r0), hs.Slice(0, r1-r0)
		mat32.MulSigmoid(v.Slice(r0, r1), m.W, false, m.HidBias, p, s, rng)
		m.VisibleProbs(out.Slice(r0, r1), s)
	}
	return out
}

// ReconstructionError returns the mean over rows of v of sum_i (v_i - p(v_i|h))^2,
// with h sampled from p(h|v) using the given seed.
func (m *RBM) ReconstructionError(v *mat32.Dense, seed uint64) float64 {
	if v.Rows == 0 {
		return 0
	}
	rec := m.Reconstruct(v, mat32.NewRNG(seed, 0))
	return mat32.DiffStats(v, rec, make([]float32, v.Cols), 0) / float64(v.Rows)
}

// MeanFreeEnergy returns the mean of F(v) over the rows of v.
func (m *RBM) MeanFreeEnergy(v *mat32.Dense) float64 {
	s := 0.0
	for _, f := range m.FreeEnergies(v) {
		s += f
	}
	return s / float64(max(v.Rows, 1))
}

// Gibbs runs steps full Gibbs steps (v -> h -> v) from each row of v,
// replacing v with the final binary visible states, and returns p(v|h) of
// the last step: the mean image each chain is at (nil when steps is 0).
func (m *RBM) Gibbs(v *mat32.Dense, steps int, rng *mat32.RNG) *mat32.Dense {
	m.checkVisible(v)
	if steps <= 0 {
		return nil
	}
	hp, hs := mat32.New(v.Rows, m.Hidden()), mat32.New(v.Rows, m.Hidden())
	vp := mat32.New(v.Rows, m.Visible())
	for s := 0; s < steps; s++ {
		mat32.MulSigmoid(v, m.W, false, m.HidBias, hp, hs, rng)
		m.VisibleProbs(vp, hs)
		mat32.Bernoulli(v, vp, rng)
	}
	return vp
}
