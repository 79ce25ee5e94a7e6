package ae

import (
	"context"
	"errors"
	"math"

	"github.com/harmonium-ml/harmonium/mat32"
	"github.com/harmonium-ml/harmonium/nn"
)

// iwaeRows is how many codes LogLikelihood decodes at once.
const iwaeRows = 4096

// LogLikelihood estimates the mean over the rows of x of log p(x) under a
// VAE by importance sampling with k codes per row drawn from q(z|x): the
// bound of Burda et al. (2016), log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x),
// which is at most log p(x) in expectation and approaches it as k grows (k
// = 1 gives the ELBO). Codes come from a stream of seed, so the same seed
// gives the same figure. progress, if not nil, is called with the number
// of rows finished; the work stops with ctx's error when ctx is cancelled.
func (m *Model) LogLikelihood(ctx context.Context, x *mat32.Dense, k int, seed uint64, progress func(done int)) (float64, error) {
	s := m.sampler()
	if s == nil {
		return 0, ErrNotVAE
	}
	if k < 1 {
		return 0, errors.New("importance sampling needs at least one sample per row")
	}
	if err := m.CheckData(x); err != nil {
		return 0, err
	}
	enc := m.Net.Features(x, m.Code-1) // means, then log-variances
	w := newIWAE(m, x, enc, k)
	rng := mat32.NewRNG(seed, 0x1ae)
	total := x.Rows * k
	for r0 := 0; r0 < total; r0 += iwaeRows {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		w.batch(r0, min(r0+iwaeRows, total), rng)
		if progress != nil {
			progress(min(r0+iwaeRows, total) / k)
		}
	}
	return w.mean(), nil
}

// iwae accumulates the importance weights of every row, as a running
// log-sum-exp: max and sum of exp(w - max).
type iwae struct {
	m          *Model
	dec        *nn.Network
	x, enc     *mat32.Dense
	col        []float32
	k, d       int
	z, eps     *mat32.Dense
	logw       []float64 // of the batch's codes: log p(z) - log q(z|x)
	sp, dot    []float64
	zeroBias   []float32
	mx, sumExp []float64
}

func newIWAE(m *Model, x, enc *mat32.Dense, k int) *iwae {
	d := enc.Cols / 2
	n := min(iwaeRows, x.Rows*k)
	w := &iwae{m: m, dec: m.decoder(), col: make([]float32, n), x: x, enc: enc, k: k, d: d, z: mat32.New(n, d), eps: mat32.New(n, d),
		logw: make([]float64, n), sp: make([]float64, n), dot: make([]float64, n),
		zeroBias: make([]float32, x.Cols), mx: make([]float64, x.Rows), sumExp: make([]float64, x.Rows)}
	for i := range w.mx {
		w.mx[i] = math.Inf(-1)
	}
	return w
}

// batch draws the codes r0..r1-1 (code r belongs to row r/k), decodes them
// and adds their weights.
func (w *iwae) batch(r0, r1 int, rng *mat32.RNG) {
	n := r1 - r0
	z, eps := w.z.Slice(0, n), w.eps.Slice(0, n)
	rng.Normal(eps.Data)
	for r := range n {
		e := w.enc.Row((r0 + r) / w.k)
		zr, er := z.Row(r), eps.Row(r)
		var lw float64
		for j := range w.d {
			mu, lv, ej := float64(e[j]), float64(e[w.d+j]), float64(er[j])
			zj := mu + math.Exp(lv/2)*ej
			zr[j] = float32(zj)
			// log N(z; 0, 1) - log N(z; mu, exp(lv)); the log(2 pi) terms cancel.
			lw += 0.5*(ej*ej-zj*zj) + 0.5*lv
		}
		w.logw[r] = lw
	}
	out := w.dec.Forward(z, false)
	w.logLikelihoods(r0, out)
	for r := range n {
		i := (r0 + r) / w.k
		v := w.logw[r] + w.dot[r] - w.sp[r]
		if v > w.mx[i] {
			w.sumExp[i] = w.sumExp[i]*math.Exp(w.mx[i]-v) + 1
			w.mx[i] = v
		} else {
			w.sumExp[i] += math.Exp(v - w.mx[i])
		}
	}
}

// logLikelihoods sets dot[r] - sp[r] to log p(x|z) of each decoded code:
// for Bernoulli outputs (logits o) sum_j x_j o_j - softplus(o_j); for
// Gaussian ones of unit variance -1/2 sum_j (x_j - o_j)^2 - D/2 log(2 pi).
func (w *iwae) logLikelihoods(r0 int, out *mat32.Dense) {
	n := out.Rows
	if w.m.Output == Gaussian {
		c := float64(out.Cols) / 2 * math.Log(2*math.Pi)
		for r := range n {
			x, o := w.x.Row((r0+r)/w.k), out.Row(r)
			var s float64
			for j, v := range o {
				d := float64(v) - float64(x[j])
				s += d * d
			}
			w.dot[r], w.sp[r] = -s/2, c
		}
		return
	}
	mat32.SoftplusRowSums(out, w.zeroBias, 1, w.sp)
	// The codes of one row of x are consecutive: one product per row.
	for r := 0; r < n; {
		i := (r0 + r) / w.k
		end := min(n, (i+1)*w.k-r0)
		xi := mat32.FromSlice(1, w.x.Cols, w.x.Row(i))
		col := mat32.FromSlice(end-r, 1, w.col[:end-r])
		mat32.Gemm(false, true, 1, out.Slice(r, end), xi, 0, col)
		for j, v := range col.Data {
			w.dot[r+j] = float64(v)
		}
		r = end
	}
}

// mean returns the mean over rows of log (1/k) sum exp(weights).
func (w *iwae) mean() float64 {
	var s float64
	for i := range w.mx {
		s += w.mx[i] + math.Log(w.sumExp[i]) - math.Log(float64(w.k))
	}
	return s / float64(len(w.mx))
}
