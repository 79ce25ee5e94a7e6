package rbm

import (
	"math"

	"github.com/harmonium-ml/harmonium/mat32"
)

// tempering holds the scratch of parallel tempering. The persistent chains
// (State.Chains) hold K blocks of bs rows, block k at inverse temperature
// betas[k]; row r of every block belongs to ladder r, and swaps exchange
// the states of neighbouring temperatures within a ladder.
type tempering struct {
	betas    []float64
	bs       int
	hs       *mat32.Dense // hidden samples, K*bs x Hidden
	x, p     *mat32.Dense // hidden inputs and probabilities of one block
	vp       *mat32.Dense // visible means of one block
	energy   []float64    // E(v,h) of every chain
	cb, vb   []float32    // tempered hidden and visible biases
	std      []float32    // tempered standard deviations of Gaussian units
	sweeps   int          // sweeps so far: the parity of the swap pairs
	tries    int64        // swaps proposed this epoch
	accepted int64        // swaps accepted this epoch
}

// Betas returns the inverse temperatures of parallel tempering with k
// temperatures: 1, 1-1/k, ..., 1/k.
func Betas(k int) []float64 {
	b := make([]float64, k)
	for i := range b {
		b[i] = 1 - float64(i)/float64(k)
	}
	return b
}

// rate returns the acceptance rate of swaps since the last call and
// restarts the count.
func (pt *tempering) rate() float64 {
	r := 0.0
	if pt.tries > 0 {
		r = float64(pt.accepted) / float64(pt.tries)
	}
	pt.tries, pt.accepted = 0, 0
	return r
}

// fitTempering makes sure there are K blocks of bs chains of the data's
// width, starting every block at (a binary sample of) the first bs rows of
// data unless resumed chains of that size exist, and sets up the scratch.
func (t *Trainer) fitTempering(data *mat32.Dense, bs int) {
	k := t.Config.Tempering
	nv, nh := t.Model.Visible(), t.Model.Hidden()
	if old := t.State.Chains; old == nil || old.Rows != k*bs || old.Cols != nv {
		chains := mat32.New(k*bs, nv)
		rng := mat32.NewRNG(t.Config.Seed, 1<<40)
		for b := 0; b < k; b++ {
			block := chains.Slice(b*bs, (b+1)*bs)
			if t.Model.VisUnits == Bernoulli {
				mat32.Bernoulli(block, data.Slice(0, bs), rng)
			} else {
				copy(block.Data, data.Slice(0, bs).Data)
			}
		}
		t.State.Chains = chains
	}
	t.pt = &tempering{betas: Betas(k), bs: bs, hs: mat32.New(k*bs, nh), x: mat32.New(bs, nh), p: mat32.New(bs, nh),
		vp: mat32.New(bs, nv), energy: make([]float64, k*bs), cb: make([]float32, nh), vb: make([]float32, nv), std: make([]float32, nv)}
}

// temper runs Config.Steps sweeps of parallel tempering over the chains of
// the first nb ladders and returns the visible states of those at
// temperature 1. A sweep samples every block's hidden units, proposes
// swaps between neighbouring temperatures (even pairs on even sweeps, odd
// pairs on odd ones), then samples every block's visible units.
func (t *Trainer) temper(buf *buffers, rng *mat32.RNG) *mat32.Dense {
	pt, nb := t.pt, buf.v0.Rows
	for s := 0; s < t.Config.Steps; s++ {
		for k := range pt.betas {
			t.temperHidden(k, nb, rng)
		}
		t.swap(nb, rng)
		for k := range pt.betas {
			t.temperVisible(k, nb, rng)
		}
		pt.sweeps++
	}
	return t.chainsOf(buf)
}

// block returns rows [0, nb) of block k of m (blocks of pt.bs rows).
func (pt *tempering) block(m *mat32.Dense, k, nb int) *mat32.Dense {
	return m.Slice(k*pt.bs, k*pt.bs+nb)
}

// temperHidden samples the hidden units of block k given its visible
// states at inverse temperature beta, p(h_j=1|v) = sigmoid(beta (c_j + x_j)),
// and records every chain's energy E(v, h).
func (t *Trainer) temperHidden(k, nb int, rng *mat32.RNG) {
	m, pt := t.Model, t.pt
	beta := float32(pt.betas[k])
	v, hs := pt.block(t.State.Chains, k, nb), pt.block(pt.hs, k, nb)
	x, p := pt.x.Slice(0, nb), pt.p.Slice(0, nb)
	if t.sparseSamples() {
		t.spNeg.SetFrom(v)
		mat32.MulSparse(false, 1, &t.spNeg, t.wUp, 0, x)
	} else {
		mat32.Gemm(false, false, 1, v, t.wUp, 0, x)
	}
	copy(p.Data, x.Data)
	mat32.Scale(p, beta)
	for j, c := range m.HidBias {
		pt.cb[j] = beta * c
	}
	mat32.SigmoidBiasSample(p, hs, pt.cb, rng)
	for r := 0; r < nb; r++ {
		e := m.visibleEnergy(v.Row(r))
		for j, h := range hs.Row(r) {
			if h != 0 {
				e -= float64(x.At(r, j)) + float64(m.HidBias[j])
			}
		}
		pt.energy[k*pt.bs+r] = e
	}
}

// temperVisible samples the visible units of block k given its hidden
// states at inverse temperature beta: Bernoulli units with probability
// sigmoid(beta (b + Wh)), Gaussian ones from N(b + Wh, sigma^2 / beta).
func (t *Trainer) temperVisible(k, nb int, rng *mat32.RNG) {
	m, pt := t.Model, t.pt
	beta := pt.betas[k]
	v, hs, vp := pt.block(t.State.Chains, k, nb), pt.block(pt.hs, k, nb), pt.vp.Slice(0, nb)
	if m.VisUnits == Bernoulli {
		for i, b := range m.VisBias {
			pt.vb[i] = float32(beta) * b
		}
		mat32.MulSigmoidScaled(float32(beta), hs, m.W, true, pt.vb, vp, v, rng)
		return
	}
	for i, s := range t.std {
		pt.std[i] = s / float32(math.Sqrt(beta))
	}
	m.down(hs, vp, v, pt.std, rng)
}

// swap proposes, in every ladder, to exchange the states of neighbouring
// temperatures i and i+1, accepting with probability
// min(1, exp((beta_i - beta_{i+1}) (E_i - E_{i+1}))).
func (t *Trainer) swap(nb int, rng *mat32.RNG) {
	pt := t.pt
	chains := t.State.Chains
	for i := pt.sweeps % 2; i+1 < len(pt.betas); i += 2 {
		d := pt.betas[i] - pt.betas[i+1]
		for r := 0; r < nb; r++ {
			a, b := i*pt.bs+r, (i+1)*pt.bs+r
			pt.tries++
			if lr := d * (pt.energy[a] - pt.energy[b]); lr < 0 && float64(rng.Float32()) >= math.Exp(lr) {
				continue
			}
			pt.accepted++
			swapRows(chains.Row(a), chains.Row(b))
			swapRows(pt.hs.Row(a), pt.hs.Row(b))
			pt.energy[a], pt.energy[b] = pt.energy[b], pt.energy[a]
		}
	}
}

func swapRows(a, b []float32) {
	for i := range a {
		a[i], b[i] = b[i], a[i]
	}
}
