package rbm

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"

	"github.com/harmonium-ml/harmonium/mat32"
)

// This file holds the estimators of how good a model is: exact log Z for
// small models, annealed importance sampling (AIS) of log Z for real ones,
// and the pseudo-log-likelihood.

// logZBlock is how many states of the enumerated layer are scored at once.
const logZBlock = 4096

// LogPartitionFast returns log Z by enumerating the states of the smaller
// layer like LogPartition, scoring them in blocks with float32 products and
// kernels: hundreds of times faster for models with many visible units, with
// an error of order 1e-5 relative.
func (m *RBM) LogPartitionFast() (float64, error) {
	if m.VisUnits == Gaussian {
		return m.gaussLogPartition(true)
	}
	if m.HidUnits != Bernoulli {
		return m.visibleLogPartition()
	}
	nv, nh := m.Visible(), m.Hidden()
	if err := m.CanEnumerate(); err != nil {
		return 0, err
	}
	n := min(nv, nh)
	// Enumerate layer A (n units, biases a) and sum out layer B (biases b)
	// through its inputs S*M + b, M = W' or W.
	aBias, bBias := m.HidBias, m.VisBias
	other := m.W // states of A (hidden) times W' gives visible inputs
	trans := true
	if nh > nv {
		aBias, bBias, trans = m.VisBias, m.HidBias, false
	}
	states := 1 << n
	block := min(states, logZBlock)
	nb := len(bBias)
	total := newLogSum()
	s := mat32.New(block, n)
	x := mat32.New(block, nb)
	sums := make([]float64, block)
	for start := 0; start < states; start += block {
		rows := min(block, states-start)
		sc, xc := s.Slice(0, rows), x.Slice(0, rows)
		for r := 0; r < rows; r++ {
			st := start + r
			row := sc.Row(r)
			for j := range row {
				row[j] = float32(st >> j & 1)
			}
		}
		mat32.Gemm(false, trans, 1, sc, other, 0, xc)
		mat32.SoftplusRowSums(xc, bBias, 1, sums)
		for r := 0; r < rows; r++ {
			t := sums[r]
			for j, sj := range sc.Row(r) {
				if sj != 0 {
					t += float64(aBias[j])
				}
			}
			total.add(t)
		}
	}
	return total.value(), nil
}

// PLL is the pseudo-log-likelihood of data per feature: the mean over
// samples and features of log p(v_i | v_-i).
type PLL struct {
	Exact    float64 // every feature of every sample
	Estimate float64 // one random feature per sample (an unbiased estimate of Exact)
}

// PseudoLogLikelihood returns the pseudo-log-likelihood per feature of the
// rows of v, which must be binary. The total over features is Visible()
// times it. seed chooses the random feature of the estimate. It is defined
// for Bernoulli units only (ErrUnsupported otherwise): for continuous units
// the conditionals are densities, not probabilities.
func (m *RBM) PseudoLogLikelihood(v *mat32.Dense, seed uint64) (PLL, error) {
	if m.VisUnits != Bernoulli || m.HidUnits != Bernoulli {
		return PLL{}, fmt.Errorf("pseudo-likelihood of %v visible and %v hidden units: %w (it is defined for binary units)", m.VisUnits, m.HidUnits, ErrUnsupported)
	}
	m.checkVisible(v)
	nv, nh := m.Visible(), m.Hidden()
	if v.Rows == 0 {
		return PLL{}, nil
	}
	x := mat32.New(v.Rows, nh)
	mat32.Gemm(false, false, 1, v, m.W, 0, x)
	mat32.AddRowVector(x, m.HidBias)
	wneg := m.W.Clone()
	mat32.Scale(wneg, -1)
	base := make([]float64, v.Rows)
	mat32.SoftplusRowSums(x, make([]float32, nh), 1, base)
	pick := rand.New(rand.NewPCG(seed, 11))
	feature := make([]int, v.Rows)
	for i := range feature {
		feature[i] = pick.IntN(nv)
	}
	exact, est := make([]float64, v.Rows), make([]float64, v.Rows)
	var scratch sync.Pool
	scratch.New = func() any { s := make([]float64, nv); return &s }
	mat32.ParallelRows(v.Rows, nv*nh, func(r0, r1 int) {
		sp := scratch.Get().(*[]float64)
		flip := *sp
		for r := r0; r < r1; r++ {
			vr := v.Row(r)
			mat32.FlipSoftplusSums(m.W, wneg, vr, x.Row(r), flip)
			sum := 0.0
			for i, fi := range flip {
				// F(v) - F(v with unit i flipped) = b_i s_i + flip_i - base,
				// s_i = 1 - 2 v_i; log p(v_i | rest) = -softplus of it.
				s := 1 - 2*float64(vr[i])
				lp := -softplus(float64(m.VisBias[i])*s + fi - base[r])
				sum += lp
				if i == feature[r] {
					est[r] = lp
				}
			}
			exact[r] = sum / float64(nv)
		}
		scratch.Put(sp)
	})
	var res PLL
	for r := range exact {
		res.Exact += exact[r]
		res.Estimate += est[r]
	}
	res.Exact /= float64(v.Rows)
	res.Estimate /= float64(v.Rows)
	return res, nil
}

// AISConfig sets up annealed importance sampling.
type AISConfig struct {
	Runs  int       // independent runs, done together as one matrix (100)
	Betas []float64 // inverse temperatures from 0 to 1 (DefaultBetas)
	// BaseBias are the visible biases of the base-rate model (W = 0, hidden
	// biases 0); BaseRateBiases fits them to data.
	BaseBias []float32
	// BaseMean and BaseStd define the base model of Gaussian visible units:
	// independent Gaussians (W = 0, hidden biases 0); DefaultAISBase fits
	// them to the training data.
	BaseMean, BaseStd []float32
	Seed              uint64
}

// AISResult is an estimate of log Z.
type AISResult struct {
	LogZ      float64   // the estimate
	LogZLow   float64   // log of (mean weight - 3 standard errors); -Inf when that is not positive
	LogZHigh  float64   // log of (mean weight + 3 standard errors)
	LogZBase  float64   // log Z of the base-rate model
	LogWeight []float64 // the log importance weight of each run
}

// DefaultBetas returns the schedule of Salakhutdinov and Murray's code, for
// n temperatures in all (14,500 by default): 500/14500 of them uniformly in
// [0, 0.5), 4000/14500 in [0.5, 0.9), the rest in [0.9, 1].
func DefaultBetas(n int) []float64 {
	if n < 3 {
		n = 3
	}
	n1 := max(1, int(math.Round(float64(n)*500/14500)))
	n2 := max(1, int(math.Round(float64(n)*4000/14500)))
	n3 := n - n1 - n2
	betas := make([]float64, 0, n)
	for i := 0; i < n1; i++ {
		betas = append(betas, 0.5*float64(i)/float64(n1))
	}
	for i := 0; i < n2; i++ {
		betas = append(betas, 0.5+0.4*float64(i)/float64(n2))
	}
	if n3 == 1 { // n = 3: no room for 0.9 before the final 1
		return append(betas, 1)
	}
	for i := 0; i < n3; i++ {
		betas = append(betas, 0.9+0.1*float64(i)/float64(n3-1))
	}
	return betas
}

// AISMemoryBytes estimates the memory of AIS (and DefaultBetas) with runs
// chains and betas temperatures on an RBM of nv visible and nh hidden
// units: the schedule, each chain's visible and hidden states and log
// weight, and the transposed weights of the sparse products down.
func AISMemoryBytes(nv, nh, runs, betas int) float64 {
	v, h, r := float64(nv), float64(nh), float64(runs)
	return 8*float64(betas) + 8*r + 4*r*(2*v+3*h+1) + 4*(v*h+3*v+h)
}

// BaseRateBiases returns visible biases log(p/(1-p)) where p is the mean of
// each column of data smoothed towards 1/2 by 5% pseudo-counts, as in
// Salakhutdinov and Murray's code. mean may be passed instead of data (data
// nil) as the column means.
func BaseRateBiases(data *mat32.Dense, mean []float32) []float32 {
	if data != nil {
		mean = make([]float32, data.Cols)
		mat32.ColumnSums(mean, 1/float32(max(data.Rows, 1)), data)
	}
	out := make([]float32, len(mean))
	for i, p := range mean {
		q := (float64(p) + 0.05) / 1.1
		out[i] = float32(math.Log(q / (1 - q)))
	}
	return out
}

// AIS estimates log Z by annealed importance sampling from the base-rate
// model to m (Salakhutdinov & Murray 2008). progress, when not nil, is
// called with the temperatures done so far.
func (m *RBM) AIS(ctx context.Context, cfg AISConfig, progress func(done, total int)) (AISResult, error) {
	nv, nh := m.Visible(), m.Hidden()
	if cfg.Runs <= 0 {
		return AISResult{}, fmt.Errorf("AIS needs at least one run, got %d", cfg.Runs)
	}
	betas := cfg.Betas
	if len(betas) < 2 || betas[0] != 0 || betas[len(betas)-1] != 1 {
		return AISResult{}, fmt.Errorf("AIS temperatures must run from 0 to 1")
	}
	if m.HidUnits != Bernoulli {
		return AISResult{}, fmt.Errorf("AIS with %v hidden units: %w", m.HidUnits, ErrUnsupported)
	}
	if m.VisUnits == Gaussian {
		return m.aisGaussian(ctx, cfg, progress)
	}
	if len(cfg.BaseBias) != nv {
		return AISResult{}, fmt.Errorf("AIS base model has %d visible biases, the model %d visible units", len(cfg.BaseBias), nv)
	}
	base := cfg.BaseBias
	res := AISResult{LogWeight: make([]float64, cfg.Runs)}
	for _, b := range base {
		res.LogZBase += softplus(float64(b))
	}
	res.LogZBase += float64(nh) * math.Ln2

	rng := mat32.NewRNG(cfg.Seed, 0xA15)
	v := mat32.New(cfg.Runs, nv)
	p0 := mat32.New(cfg.Runs, nv)
	for r := 0; r < cfg.Runs; r++ {
		copy(p0.Row(r), base)
	}
	mat32.SigmoidBias(p0, make([]float32, nv))
	mat32.Bernoulli(v, p0, rng)

	// d = b - b_base: the visible part of log p*_k(v) changes by (bk-bp) d.v.
	d := mat32.New(nv, 1)
	for i := range d.Data {
		d.Data[i] = m.VisBias[i] - base[i]
	}
	x := mat32.New(cfg.Runs, nh)
	h := mat32.New(cfg.Runs, nh)
	dv := mat32.New(cfg.Runs, 1)
	vb := make([]float32, nv)
	var sp mat32.Sparse
	down := newAISDown(m, cfg.Runs)
	for k := 1; k < len(betas); k++ {
		if err := aisProgress(ctx, k, len(betas)-1, progress); err != nil {
			return res, err
		}
		bk, bp := betas[k], betas[k-1]
		// Weight update with the current v, then the transition at bk.
		mat32.Gemm(false, false, 1, v, d, 0, dv)
		for r, dot := range dv.Data {
			res.LogWeight[r] += (bk - bp) * float64(dot)
		}
		sampleInputs(v, m.W, x, &sp)
		mat32.AISHidden(x, m.HidBias, float32(bk), float32(bp), h, rng, res.LogWeight)
		for i := range vb {
			vb[i] = float32((1-bk)*float64(base[i]) + bk*float64(m.VisBias[i]))
		}
		if !down.sample(float32(bk), h, vb, p0, v, rng) {
			mat32.MulSigmoidScaled(float32(bk), h, m.W, true, vb, p0, v, rng)
		}
	}
	if progress != nil {
		progress(len(betas)-1, len(betas)-1)
	}
	res.finish(cfg.Runs)
	return res, nil
}

// sampleInputs sets x = v w for binary visible samples v, skipping their
// zeros when the sparse products are faster here (mat32.SparseFaster) and
// under the same density as in training (the chains of a model of MNIST
// have about 15% ones); sp is scratch.
func sampleInputs(v, w, x *mat32.Dense, sp *mat32.Sparse) {
	if mat32.SparseFaster() {
		sp.SetFrom(v)
		if sp.Density() < sparseBelow {
			mat32.MulSparse(false, 1, sp, w, 0, x)
			return
		}
	}
	mat32.Gemm(false, false, 1, v, w, 0, x)
}

// aisDown carries AIS's binary hidden samples down through their nonzero
// entries, or, when most of them are ones, through their zeros:
// h W' = s - (1-h) W', with s the row sums of W. The weights do not change
// during AIS, so their transpose and row sums are computed once. (On a
// trained MNIST model the chains' hidden samples are about 60% ones.)
type aisDown struct {
	wT    *mat32.Dense
	sums  []float32    // row sums of W
	flip  *mat32.Dense // 1 - h
	ones  []float32
	bias  []float32
	sp    mat32.Sparse
	zeros bool // take the zeros: the last samples were mostly ones
}

// newAISDown returns the sparse products down for m's AIS with runs
// chains, or nil where they do not pay (see SparseHiddenProducts).
func newAISDown(m *RBM, runs int) *aisDown {
	if !SparseHiddenProducts(m) {
		return nil
	}
	return makeAISDown(m, runs)
}

// makeAISDown is newAISDown whether or not sparse products pay.
func makeAISDown(m *RBM, runs int) *aisDown {
	nv, nh := m.Visible(), m.Hidden()
	a := &aisDown{wT: mat32.New(nh, nv), sums: make([]float32, nv), flip: mat32.New(runs, nh),
		ones: make([]float32, nh), bias: make([]float32, nv)}
	mat32.TransposeInto(a.wT, m.W)
	for i := range a.sums {
		var sum float64
		for _, w := range m.W.Row(i) {
			sum += float64(w)
		}
		a.sums[i] = float32(sum)
	}
	for j := range a.ones {
		a.ones[j] = 1
	}
	return a
}

// sample sets p to sigmoid(bk h W' + vb) and v to a sample of it, as
// mat32.MulSigmoidScaled, and reports whether it did: not when a is nil or
// neither h nor 1-h is sparse enough.
func (a *aisDown) sample(bk float32, h *mat32.Dense, vb []float32, p, v *mat32.Dense, rng *mat32.RNG) bool {
	if a == nil {
		return false
	}
	zeros := a.zeros
	if zeros {
		copy(a.flip.Data, h.Data)
		mat32.Scale(a.flip, -1)
		mat32.AddRowVector(a.flip, a.ones)
		a.sp.SetFrom(a.flip)
	} else {
		a.sp.SetFrom(h)
	}
	density := a.sp.Density()
	// The next temperature's samples will be much like these.
	a.zeros = zeros != (density > 0.5)
	if density >= hiddenSparseBelow {
		return false
	}
	if !zeros {
		mat32.MulSigmoidSparseScaled(bk, &a.sp, a.wT, vb, p, v, rng)
		return true
	}
	for i, b := range vb {
		a.bias[i] = b + bk*a.sums[i]
	}
	mat32.MulSigmoidSparseScaled(-bk, &a.sp, a.wT, a.bias, p, v, rng)
	return true
}

// finish sets the estimate and its interval from the log weights and log
// Z of the base model: log Z = log Z_base + log mean(w), with a
// 3-standard-error interval.
func (res *AISResult) finish(runs int) {
	top := math.Inf(-1)
	for _, lw := range res.LogWeight {
		top = max(top, lw)
	}
	mean, sq := 0.0, 0.0
	for _, lw := range res.LogWeight {
		w := math.Exp(lw - top)
		mean += w
		sq += w * w
	}
	n := float64(runs)
	mean /= n
	se := 0.0
	if runs > 1 {
		se = math.Sqrt(max(sq/n-mean*mean, 0)*n/(n-1)) / math.Sqrt(n)
	}
	res.LogZ = res.LogZBase + top + math.Log(mean)
	res.LogZHigh = res.LogZBase + top + math.Log(mean+3*se)
	res.LogZLow = math.Inf(-1)
	if mean-3*se > 0 {
		res.LogZLow = res.LogZBase + top + math.Log(mean-3*se)
	}
}

// aisProgress reports AIS's progress and checks for cancellation every
// 100 temperatures.
func aisProgress(ctx context.Context, k, total int, progress func(done, total int)) error {
	if k%100 != 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if progress != nil {
		progress(k, total)
	}
	return nil
}
