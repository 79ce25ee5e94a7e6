// Package rbm implements restricted Boltzmann machines: the energy and free
// energy, the conditionals p(h|v) and p(v|h), Gibbs sampling, training by
// contrastive divergence (CD-k) and persistent contrastive divergence
// (PCD-k), and estimators of the likelihood. Each layer has a unit type
// (Units): Bernoulli or Gaussian visible units, Bernoulli or rectified
// linear hidden units.
package rbm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync/atomic"

	"github.com/harmonium-ml/harmonium/mat32"
)

// RBM is a restricted Boltzmann machine with visible units v and hidden
// units h. With Bernoulli units in both layers the energy is
// E(v,h) = -b.v - c.h - v'Wh. Gaussian visible units with standard
// deviations sigma have E(v,h) = sum_i (v_i-b_i)^2/(2 sigma_i^2) - c.h -
// (v/sigma^2)'Wh (Cho, Ilin & Raiko 2011), so that p(h_j=1|v) =
// sigmoid(c_j + (v/sigma^2)'W_j) and v|h ~ N(b + Wh, sigma^2).
type RBM struct {
	W       *mat32.Dense // Visible x Hidden weights
	VisBias []float32    // b, one per visible unit
	HidBias []float32    // c, one per hidden unit
	// VisUnits and HidUnits are the unit types of the layers (the zero
	// value is Bernoulli).
	VisUnits, HidUnits Units
	// LogVar is log sigma_i^2 per Gaussian visible unit; nil means sigma = 1.
	LogVar []float32
	// VisMean is the mean of the training data per visible unit, when known
	// (nil otherwise): AIS fits its base model to it. VisStd is the
	// training data's standard deviation, kept for Gaussian visible units.
	VisMean, VisStd []float32
	// Scaler, when not nil, is the standardisation of the training data:
	// data given to the model's methods must already be standardised with
	// it (Scaler.Apply), and samples mapped back with Scaler.Invert.
	Scaler *Scaler
}

// New returns an RBM with Bernoulli units, the given layer sizes and all
// parameters zero.
func New(visible, hidden int) *RBM {
	return &RBM{W: mat32.New(visible, hidden), VisBias: make([]float32, visible), HidBias: make([]float32, hidden)}
}

// NewInit returns a Bernoulli RBM initialised as in Hinton's practical
// guide: weights drawn from N(0, 0.01^2) with the given seed, hidden biases
// zero, and visible biases log(p/(1-p)) where p is the mean of each column
// of data (clamped to [0.001, 0.999]). data may be nil, leaving visible
// biases zero.
func NewInit(visible, hidden int, data *mat32.Dense, seed uint64) *RBM {
	return NewInitUnits(visible, hidden, Bernoulli, Bernoulli, false, data, seed)
}

// NewInitUnits returns an RBM with the given unit types, initialised like
// NewInit. Gaussian visible biases start at the data's mean; with
// learnSigma the model has a log variance per visible unit, starting at
// the data's variance (clamped to [1e-4, 1e4]; 1 for a constant feature,
// whose variance training then leaves alone), and otherwise sigma is 1.
func NewInitUnits(visible, hidden int, vis, hid Units, learnSigma bool, data *mat32.Dense, seed uint64) *RBM {
	m := New(visible, hidden)
	m.VisUnits, m.HidUnits = vis, hid
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	for i := range m.W.Data {
		m.W.Data[i] = float32(0.01 * r.NormFloat64())
	}
	if vis == Gaussian && learnSigma {
		m.LogVar = make([]float32, visible)
	}
	if data == nil || data.Rows == 0 {
		return m
	}
	mean := make([]float32, visible)
	mat32.ColumnSums(mean, 1/float32(data.Rows), data)
	m.VisMean = append([]float32(nil), mean...)
	if vis == Gaussian {
		m.VisStd = columnStd(data, mean)
		copy(m.VisBias, mean)
		for i := range m.LogVar {
			v := float64(m.VisStd[i]) * float64(m.VisStd[i])
			if v > 0 {
				m.LogVar[i] = float32(math.Log(min(max(v, 1e-4), 1e4)))
			}
		}
		return m
	}
	for j, p := range mean {
		p = min(max(p, 0.001), 0.999)
		m.VisBias[j] = float32(math.Log(float64(p / (1 - p))))
	}
	return m
}

// columnStd returns the standard deviation of each column of data given
// the column means.
func columnStd(data *mat32.Dense, mean []float32) []float32 {
	ss := make([]float64, data.Cols)
	for i := 0; i < data.Rows; i++ {
		for j, x := range data.Row(i) {
			d := float64(x) - float64(mean[j])
			ss[j] += d * d
		}
	}
	out := make([]float32, data.Cols)
	for j, s := range ss {
		out[j] = float32(math.Sqrt(s / float64(data.Rows)))
	}
	return out
}

// Visible returns the number of visible units.
func (m *RBM) Visible() int { return m.W.Rows }

// Hidden returns the number of hidden units.
func (m *RBM) Hidden() int { return m.W.Cols }

// Validate checks that the unit types are possible, the parameter shapes
// agree and the parameters are finite.
func (m *RBM) Validate() error {
	if m.W == nil || len(m.VisBias) != m.W.Rows || len(m.HidBias) != m.W.Cols || (m.VisMean != nil && len(m.VisMean) != m.W.Rows) ||
		(m.VisStd != nil && len(m.VisStd) != m.W.Rows) || (m.LogVar != nil && len(m.LogVar) != m.W.Rows) {
		return fmt.Errorf("rbm: parameter shapes disagree")
	}
	if m.VisUnits != Bernoulli && m.VisUnits != Gaussian {
		return fmt.Errorf("rbm: visible units must be bernoulli or gaussian, not %v", m.VisUnits)
	}
	if m.HidUnits != Bernoulli && m.HidUnits != ReLU && m.HidUnits != Gaussian {
		return fmt.Errorf("rbm: hidden units must be bernoulli, relu or gaussian, not %v", m.HidUnits)
	}
	if m.HidUnits == Gaussian && m.VisUnits == Gaussian {
		return fmt.Errorf("rbm: Gaussian units in both layers have no proper distribution; use Bernoulli units in one of them")
	}
	if m.LogVar != nil && m.VisUnits != Gaussian {
		return fmt.Errorf("rbm: only Gaussian visible units have a variance")
	}
	if m.Scaler != nil {
		if err := m.Scaler.check(m.W.Rows); err != nil {
			return err
		}
	}
	for _, s := range [][]float32{m.W.Data, m.VisBias, m.HidBias, m.LogVar} {
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
	c := *m
	c.W = m.W.Clone()
	c.VisBias, c.HidBias = clone32(m.VisBias), clone32(m.HidBias)
	c.LogVar, c.VisMean, c.VisStd = clone32(m.LogVar), clone32(m.VisMean), clone32(m.VisStd)
	if m.Scaler != nil {
		c.Scaler = &Scaler{Mean: clone32(m.Scaler.Mean), Std: clone32(m.Scaler.Std)}
	}
	return &c
}

func clone32(s []float32) []float32 {
	if s == nil {
		return nil
	}
	return append([]float32(nil), s...)
}

// VisibleStd returns the standard deviation of each Gaussian visible unit
// (all 1 when the model has no variances).
func (m *RBM) VisibleStd() []float32 {
	out := make([]float32, m.Visible())
	for i := range out {
		out[i] = 1
		if m.LogVar != nil {
			out[i] = float32(math.Exp(0.5 * float64(m.LogVar[i])))
		}
	}
	return out
}

// precision returns 1/sigma_i^2 of visible unit i.
func (m *RBM) precision(i int) float64 {
	if m.LogVar == nil {
		return 1
	}
	return math.Exp(-float64(m.LogVar[i]))
}

// upWeights returns the weights that carry visible states to the hidden
// inputs: W, or diag(1/sigma^2) W for Gaussian units with variances.
func (m *RBM) upWeights() *mat32.Dense {
	if m.LogVar == nil {
		return m.W
	}
	w := m.W.Clone()
	scaleRows(w, m.W, m.LogVar)
	return w
}

// scaleRows sets dst to diag(exp(-logVar)) src.
func scaleRows(dst, src *mat32.Dense, logVar []float32) {
	for i, lv := range logVar {
		p := float32(math.Exp(-float64(lv)))
		d, s := dst.Row(i), src.Row(i)
		for j, x := range s {
			d[j] = p * x
		}
	}
}

// Energy returns E(v, h).
func (m *RBM) Energy(v, h []float32) float64 {
	e := m.visibleEnergy(v)
	for i, vi := range v {
		if vi == 0 {
			continue
		}
		x := float64(vi) * m.precision(i)
		for j, hj := range h {
			e -= x * float64(m.W.At(i, j)) * float64(hj)
		}
	}
	for j, hj := range h {
		e -= float64(m.HidBias[j]) * float64(hj)
		if m.HidUnits == Gaussian {
			e += 0.5 * float64(hj) * float64(hj)
		}
	}
	return e
}

// visibleEnergy returns the visible layer's own term of the energy: -b.v,
// or sum_i (v_i-b_i)^2 / (2 sigma_i^2) for Gaussian units.
func (m *RBM) visibleEnergy(v []float32) float64 {
	e := 0.0
	for i, vi := range v {
		if m.VisUnits == Gaussian {
			d := float64(vi) - float64(m.VisBias[i])
			e += 0.5 * d * d * m.precision(i)
		} else {
			e -= float64(m.VisBias[i]) * float64(vi)
		}
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

// FreeEnergy returns F(v) = -log sum_h e^{-E(v,h)}: for Bernoulli hidden
// units the visible term minus sum_j softplus(c_j + (v'W)_j) (v/sigma^2
// for Gaussian visible units).
func (m *RBM) FreeEnergy(v []float32) float64 {
	x := make([]float64, m.Hidden())
	for j := range x {
		x[j] = float64(m.HidBias[j])
	}
	for i, vi := range v {
		if vi == 0 {
			continue
		}
		a := float64(vi) * m.precision(i)
		for j, w := range m.W.Row(i) {
			x[j] += a * float64(w)
		}
	}
	f := m.visibleEnergy(v)
	for _, xj := range x {
		f -= m.HidUnits.hiddenFree(xj)
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
	w := m.upWeights()
	for r0 := 0; r0 < v.Rows; r0 += chunkRows {
		r1 := min(r0+chunkRows, v.Rows)
		vc, xc := v.Slice(r0, r1), x.Slice(0, r1-r0)
		mat32.Gemm(false, false, 1, vc, w, 0, xc)
		if m.HidUnits == Bernoulli {
			mat32.SoftplusRowSums(xc, m.HidBias, 1, out[r0:r1])
		} else {
			for i := range xc.Rows {
				s := 0.0
				for j, xj := range xc.Row(i) {
					s += m.HidUnits.hiddenFree(float64(xj) + float64(m.HidBias[j]))
				}
				out[r0+i] = s
			}
		}
		for i := range xc.Rows {
			out[r0+i] = m.visibleEnergy(vc.Row(i)) - out[r0+i]
		}
	}
	return out
}

func (m *RBM) checkVisible(v *mat32.Dense) {
	if v.Cols != m.Visible() {
		panic(fmt.Sprintf("rbm: data has %d columns, model has %d visible units", v.Cols, m.Visible()))
	}
}

// up sets hp to the hidden means given the visible states v and, when hs
// is not nil, draws hidden samples into hs. w is m.upWeights().
func (m *RBM) up(w, v, hp, hs *mat32.Dense, rng *mat32.RNG) {
	if m.HidUnits == Bernoulli {
		mat32.MulSigmoid(v, w, false, m.HidBias, hp, hs, rng)
		return
	}
	mat32.Gemm(false, false, 1, v, w, 0, hp)
	m.activateHidden(hp, hs, rng)
}

// activateHidden turns the hidden units' inputs in hp into their means
// and, when hs is not nil, samples (non-Bernoulli units).
func (m *RBM) activateHidden(hp, hs *mat32.Dense, rng *mat32.RNG) {
	var std []float32
	if m.HidUnits == Gaussian {
		std = ones(m.Hidden())
	}
	m.HidUnits.activate(hp, hs, m.HidBias, std, rng)
}

var onesCache atomic.Pointer[[]float32]

// ones returns a read-only slice of n ones: the standard deviation of
// Gaussian hidden units.
func ones(n int) []float32 {
	if p := onesCache.Load(); p != nil && len(*p) >= n {
		return (*p)[:n]
	}
	s := make([]float32, n)
	for i := range s {
		s[i] = 1
	}
	onesCache.Store(&s)
	return s
}

// upSparse is up with the weights m.W for the visible states in sp.
func (m *RBM) upSparse(sp *mat32.Sparse, hp, hs *mat32.Dense, rng *mat32.RNG) {
	if m.HidUnits == Bernoulli {
		mat32.MulSigmoidSparse(sp, m.W, m.HidBias, hp, hs, rng)
		return
	}
	mat32.MulSparse(false, 1, sp, m.W, 0, hp)
	m.activateHidden(hp, hs, rng)
}

// down sets vp to the visible means given the hidden states h and, when vs
// is not nil, draws visible samples into vs; std is the Gaussian units'
// standard deviation (VisibleStd), unused for Bernoulli units.
func (m *RBM) down(h, vp, vs *mat32.Dense, std []float32, rng *mat32.RNG) {
	if m.VisUnits == Bernoulli {
		mat32.MulSigmoid(h, m.W, true, m.VisBias, vp, vs, rng)
		return
	}
	mat32.Gemm(false, true, 1, h, m.W, 0, vp)
	m.VisUnits.activate(vp, vs, m.VisBias, std, rng)
}

// downDiff is down without samples followed by the comparison d of vp
// with d.Ref (in the same pass for Bernoulli units); it returns the sum
// of squares of d.Ref - vp.
func (m *RBM) downDiff(h, vp *mat32.Dense, d mat32.Diff) float64 {
	if m.VisUnits == Bernoulli {
		return mat32.MulSigmoidDiff(h, m.W, true, m.VisBias, vp, d)
	}
	m.down(h, vp, nil, nil, nil)
	return unfusedDiff(vp, d)
}

// unfusedDiff makes the comparison d of x with d.Ref after the product
// that set x.
func unfusedDiff(x *mat32.Dense, d mat32.Diff) float64 {
	sq := mat32.DiffStats(d.Ref, x, d.ColSum, d.Alpha)
	if d.Negate {
		mat32.Scale(x, -1)
	}
	return sq
}

// HiddenProbs sets dst (rows x Hidden) to the mean of the hidden units
// given each row of v: p(h=1|v) for Bernoulli units, max(0, input) for
// ReLU, the input itself for Gaussian units.
func (m *RBM) HiddenProbs(dst, v *mat32.Dense) {
	m.up(m.upWeights(), v, dst, nil, nil)
}

// VisibleProbs sets dst (rows x Visible) to the mean of the visible units
// given each row of h: p(v=1|h) = sigmoid(b + Wh), or b + Wh for Gaussian
// units.
func (m *RBM) VisibleProbs(dst, h *mat32.Dense) {
	m.down(h, dst, nil, nil, nil)
}

// Transform returns the hidden means for every row of v: the hidden layer
// as features.
func (m *RBM) Transform(v *mat32.Dense) *mat32.Dense {
	m.checkVisible(v)
	out := mat32.New(v.Rows, m.Hidden())
	m.HiddenProbs(out, v)
	return out
}

// Reconstruct returns the visible means given h sampled from p(h|v), for
// every row of v.
func (m *RBM) Reconstruct(v *mat32.Dense, rng *mat32.RNG) *mat32.Dense {
	m.checkVisible(v)
	out := mat32.New(v.Rows, m.Visible())
	hp, hs := mat32.New(min(chunkRows, v.Rows), m.Hidden()), mat32.New(min(chunkRows, v.Rows), m.Hidden())
	w := m.upWeights()
	for r0 := 0; r0 < v.Rows; r0 += chunkRows {
		r1 := min(r0+chunkRows, v.Rows)
		p, s := hp.Slice(0, r1-r0), hs.Slice(0, r1-r0)
		m.up(w, v.Slice(r0, r1), p, s, rng)
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
// replacing v with the final sampled visible states, and returns the
// visible means of the last step: the mean image each chain is at (nil
// when steps is 0).
func (m *RBM) Gibbs(v *mat32.Dense, steps int, rng *mat32.RNG) *mat32.Dense {
	m.checkVisible(v)
	if steps <= 0 {
		return nil
	}
	hp, hs := mat32.New(v.Rows, m.Hidden()), mat32.New(v.Rows, m.Hidden())
	vp := mat32.New(v.Rows, m.Visible())
	w, std := m.upWeights(), m.VisibleStd()
	for s := 0; s < steps; s++ {
		m.up(w, v, hp, hs, rng)
		m.down(hs, vp, v, std, rng)
	}
	return vp
}

// InitChains returns the starting visible states of n Gibbs chains: a
// sample of the given rows of data (n of them) when data is not nil, else
// random states (Bernoulli units on with probability 1/2; Gaussian units
// drawn from the training data's mean and deviation when the model keeps
// them, else from N(b, sigma^2)).
func (m *RBM) InitChains(n int, data *mat32.Dense, rng *mat32.RNG) *mat32.Dense {
	v := mat32.New(n, m.Visible())
	mean := mat32.New(n, m.Visible())
	if data != nil {
		copy(mean.Data, data.Data)
		if m.VisUnits == Gaussian {
			return mean
		}
	} else {
		for r := 0; r < n; r++ {
			row := mean.Row(r)
			for i := range row {
				switch {
				case m.VisUnits != Gaussian:
					row[i] = 0.5
				case m.VisMean != nil:
					row[i] = m.VisMean[i]
				default:
					row[i] = m.VisBias[i]
				}
			}
		}
	}
	if m.VisUnits == Gaussian {
		std := m.VisibleStd()
		if m.VisStd != nil {
			copy(std, m.VisStd)
		}
		mat32.GaussianSample(v, mean, std, rng)
		return v
	}
	mat32.Bernoulli(v, mean, rng)
	return v
}
