package dbn

import (
	"context"
	"errors"
	"fmt"

	"github.com/harmonium-ml/harmonium/fit"
	"github.com/harmonium-ml/harmonium/mat32"
	"github.com/harmonium-ml/harmonium/rbm"
)

// labelTrainer trains the top RBM of a DBN with a label group by CD-k or
// PCD-k: rbm's trainer with the label group sampled as a softmax. Its
// settings, statistics and state are rbm's (Config, EpochStats, State).
type labelTrainer struct {
	t     top
	cfg   rbm.Config
	st    *rbm.State
	data  *mat32.Dense
	hooks rbm.Hooks
	bufs  map[int]*topBuffers
	dvis  []float32
	lr    float64
	mom   float64
	rng   *mat32.RNG
}

// topBuffers are the matrices of a step for one minibatch size; the
// positive and negative statistics are stacked (vst = [v0; vneg], hst =
// [h0p; -hp]) so that one product gives the weight gradient.
type topBuffers struct {
	vst, hst   *mat32.Dense
	v0, vneg   *mat32.Dense
	h0p, hp    *mat32.Dense
	h0s, hs    *mat32.Dense
	vr, vp, vs *mat32.Dense
}

// checkLabelConfig reports settings the label layer's trainer does not
// implement.
func checkLabelConfig(c rbm.Config) error {
	switch {
	case c.Tempering > 1:
		return fmt.Errorf("%w: parallel tempering in the top RBM with labels", ErrUnsupported)
	case c.Centered, c.SampleData, c.LearnSigma, c.SparsityTarget > 0:
		return fmt.Errorf("%w: the top RBM with labels trains by plain CD-k or PCD-k with momentum and weight decay (no centring, data sampling, sparsity or variances)", ErrUnsupported)
	}
	return c.Validate()
}

// fitLabels trains the top RBM m of a DBN with c labels on data (the
// penultimate means joined with one-hot labels) from st.Epoch up to
// cfg.Epochs.
func fitLabels(ctx context.Context, m *rbm.RBM, c int, data *mat32.Dense, cfg rbm.Config, st *rbm.State, hooks rbm.Hooks) error {
	if err := checkLabelConfig(cfg); err != nil {
		return err
	}
	if err := rbm.CheckData(m, data); err != nil {
		return err
	}
	if data.Rows == 0 {
		return errors.New("no training samples")
	}
	nv, nh := m.Visible(), m.Hidden()
	if st.VelW == nil {
		*st = rbm.State{Epoch: st.Epoch, VelW: mat32.New(nv, nh), VelVis: make([]float32, nv), VelHid: make([]float32, nh), HidMean: make([]float32, nh)}
	}
	bs := min(cfg.BatchSize, data.Rows)
	lt := &labelTrainer{t: top{m: m, pen: nv - c, c: c}, cfg: cfg, st: st, data: data, hooks: hooks,
		bufs: map[int]*topBuffers{}, dvis: make([]float32, nv)}
	if cfg.Persistent {
		lt.fitChains(bs)
	}
	return fit.Run(ctx, fit.Config{Epochs: cfg.Epochs, BatchSize: bs, Seed: cfg.Seed, Batch: hooks.Batch}, data.Rows, st.Epoch, lt)
}

// fitChains makes sure there are bs persistent chains, new ones starting
// at a sample of the first training rows.
func (lt *labelTrainer) fitChains(bs int) {
	old, data := lt.st.Chains, lt.data
	if old != nil && old.Rows >= bs && old.Cols == data.Cols {
		lt.st.Chains = old.Slice(0, bs)
		return
	}
	chains := mat32.New(bs, data.Cols)
	lt.t.sample(chains, data.Slice(0, bs), mat32.NewRNG(lt.cfg.Seed, 1<<40), false)
	if old != nil && old.Cols == data.Cols {
		copy(chains.Data, old.Data)
	}
	lt.st.Chains = chains
}

func (lt *labelTrainer) buffers(n int) *topBuffers {
	if b, ok := lt.bufs[n]; ok {
		return b
	}
	nv, nh := lt.t.m.Visible(), lt.t.m.Hidden()
	b := &topBuffers{vst: mat32.New(2*n, nv), hst: mat32.New(2*n, nh), h0s: mat32.New(n, nh), hs: mat32.New(n, nh),
		vr: mat32.New(n, nv), vp: mat32.New(n, nv), vs: mat32.New(n, nv)}
	b.v0, b.vneg = b.vst.Slice(0, n), b.vst.Slice(n, 2*n)
	b.h0p, b.hp = b.hst.Slice(0, n), b.hst.Slice(n, 2*n)
	lt.bufs[n] = b
	return b
}

// BeginEpoch sets the epoch's learning rate, momentum and random stream,
// as rbm's trainer does.
func (lt *labelTrainer) BeginEpoch(epoch int) error {
	c := lt.cfg
	lt.lr = fit.InverseDecay{Decay: c.LRDecay}.Rate(c.LearningRate, epoch)
	lt.mom = fit.Momentum{Initial: c.InitialMomentum, Final: c.Momentum, Warmup: c.MomentumWarmup}.At(epoch)
	lt.rng = mat32.NewRNG(c.Seed, uint64(epoch)+1)
	return nil
}

// Step performs one CD-k or PCD-k update on the samples idx and returns
// their summed squared reconstruction error.
func (lt *labelTrainer) Step(idx []int) (float64, error) {
	b := lt.buffers(len(idx))
	for r, i := range idx {
		copy(b.v0.Row(r), lt.data.Row(i))
	}
	t, st, rng := lt.t, lt.st, lt.rng
	scale := float32(lt.lr) / float32(len(idx))
	t.up(b.v0, b.h0p, b.h0s, rng)
	t.means(b.h0s, b.vr)
	recon := mat32.DiffStats(b.v0, b.vr, lt.dvis, 0)
	lt.negative(b)
	t.up(b.vneg, b.hp, nil, nil)
	for j := range st.VelVis {
		st.VelVis[j] *= float32(lt.mom)
	}
	for j := range st.VelHid {
		st.VelHid[j] *= float32(lt.mom)
	}
	mat32.DiffStats(b.v0, b.vneg, st.VelVis, scale)
	mat32.DiffStats(b.h0p, b.hp, st.VelHid, scale)
	mat32.Scale(b.hp, -1)
	// Product and step apart, not mat32.GradientStep: its fused path skips
	// the step for square weight matrices.
	mat32.Gemm(true, false, scale, b.vst, b.hst, float32(lt.mom), st.VelW)
	mat32.MomentumStep(t.m.W.Data, st.VelW.Data, float32(lt.lr*lt.cfg.WeightDecay))
	for j, v := range st.VelVis {
		t.m.VisBias[j] += v
	}
	for j, v := range st.VelHid {
		t.m.HidBias[j] += v
	}
	return recon, nil
}

// negative runs the negative phase from the positive hidden samples (CD)
// or the persistent chains (PCD) and leaves its final visible states in
// b.vneg: means for CD, the chains' new samples for PCD.
func (lt *labelTrainer) negative(b *topBuffers) {
	t, k, rng := lt.t, lt.cfg.Steps, lt.rng
	h, v := b.h0s, b.vr
	var chains *mat32.Dense
	if lt.cfg.Persistent {
		chains = lt.st.Chains.Slice(0, b.v0.Rows)
		t.up(chains, b.hp, b.hs, rng)
		h = b.hs
	}
	for s := 1; s <= k; s++ {
		if s > 1 || chains != nil {
			t.means(h, b.vp)
			v = b.vp
		}
		if s < k {
			t.sample(b.vs, v, rng, false)
			t.up(b.vs, b.hp, b.hs, rng)
			h = b.hs
		}
	}
	if chains != nil {
		t.sample(chains, v, rng, false)
		v = chains
	}
	copy(b.vneg.Data, v.Data)
}

// EndEpoch checks the model, counts the epoch and calls the epoch hook.
func (lt *labelTrainer) EndEpoch(e fit.Epoch) error {
	if lt.t.m.Validate() != nil {
		return lt.Diverged(e)
	}
	lt.st.Epoch++
	if lt.hooks.Epoch != nil {
		return lt.hooks.Epoch(rbm.EpochStats{Epoch: e.Epoch + 1, ReconError: e.Loss, LearningRate: lt.lr, Momentum: lt.mom, Duration: e.Duration})
	}
	return nil
}

// Diverged is the error of an epoch that produced NaN or Inf.
func (lt *labelTrainer) Diverged(e fit.Epoch) error {
	return fmt.Errorf("top layer, epoch %d: %w (NaN or Inf); lower the learning rate (this run used %g)", e.Epoch+1, rbm.ErrDiverged, lt.cfg.LearningRate)
}
