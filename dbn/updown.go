package dbn

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/harmonium-ml/harmonium/mat32"
	"github.com/harmonium-ml/harmonium/rbm"
)

// GenLayer is the generative (downward) half of a layer below the top
// after up-down fine-tuning, which unties it from the recognition weights
// that Layers[i] keeps: p(level i | level i+1) = sigmoid(W h + VisBias),
// W visible x hidden as in rbm.RBM.
type GenLayer struct {
	W       *mat32.Dense
	VisBias []float32
}

// UpDownConfig holds the settings of up-down fine-tuning.
type UpDownConfig struct {
	Epochs       int     // passes over the data
	BatchSize    int     // samples per minibatch
	LearningRate float64 // of every weight and bias
	TopSteps     int     // Gibbs steps of the top RBM's negative phase (CD-k)
	Seed         uint64  // minibatch order and sampling
}

// DefaultUpDownConfig returns Hinton, Osindero & Teh's (2006) setting as
// far as it is published: minibatches of 100, CD-10 in the top RBM, and a
// learning rate of 0.001 for 10 epochs (they ran 300).
func DefaultUpDownConfig() UpDownConfig {
	return UpDownConfig{Epochs: 10, BatchSize: 100, LearningRate: 0.001, TopSteps: 10, Seed: 1}
}

// UpDownStats reports an epoch of up-down fine-tuning.
type UpDownStats struct {
	Epoch int // 1-based
	// WakeError is the mean summed squared error of the generative
	// weights' prediction of the data from the first hidden level's wake
	// states, before each minibatch's update.
	WakeError float64
	Duration  time.Duration
}

// UpDown fine-tunes a labelled DBN by the up-down algorithm (Hinton,
// Osindero & Teh 2006, a contrastive form of wake-sleep): the layers below
// the top get generative weights of their own (copies of the recognition
// weights at first, kept in d.Gen) and, per minibatch of data x with
// labels, a wake phase samples states upwards with the recognition
// weights and moves the generative weights towards predicting each level
// from the one above; the top RBM, with the label clamped in its positive
// phase, takes a CD-k step from the wake states; a sleep phase samples
// downwards with the generative weights from the top chain's negative
// states and moves the recognition weights towards predicting each level
// from the one below. Every unit must be Bernoulli and x in [0, 1]. hook,
// if not nil, is called after each epoch; an error from it, or ctx's,
// stops training with the updates made so far.
func (d *DBN) UpDown(ctx context.Context, x *mat32.Dense, labels []int, cfg UpDownConfig, hook func(UpDownStats) error) error {
	if err := d.checkUpDown(x, labels, cfg); err != nil {
		return err
	}
	if d.Gen == nil {
		d.Gen = make([]GenLayer, len(d.Layers)-1)
		for i := range d.Gen {
			m := d.Layers[i]
			d.Gen[i] = GenLayer{W: m.W.Clone(), VisBias: append([]float32(nil), m.VisBias...)}
		}
	}
	u := newUpDown(d, cfg)
	for e := range cfg.Epochs {
		start := time.Now()
		perm := rand.New(rand.NewPCG(cfg.Seed, uint64(e))).Perm(x.Rows)
		var wake float64
		for b0 := 0; b0+cfg.BatchSize <= x.Rows; b0 += cfg.BatchSize {
			if err := ctx.Err(); err != nil {
				return err
			}
			wake += u.step(x, labels, perm[b0:b0+cfg.BatchSize])
		}
		st := UpDownStats{Epoch: e + 1, WakeError: wake / float64(x.Rows/cfg.BatchSize*cfg.BatchSize), Duration: time.Since(start)}
		if hook != nil {
			if err := hook(st); err != nil {
				return err
			}
		}
	}
	return nil
}

func (d *DBN) checkUpDown(x *mat32.Dense, labels []int, cfg UpDownConfig) error {
	if err := d.Validate(); err != nil {
		return err
	}
	switch {
	case d.Labels == 0:
		return fmt.Errorf("up-down fine-tuning: %w", ErrNoLabels)
	case len(d.Layers) < 2:
		return fmt.Errorf("%w: up-down fine-tuning needs layers below the top RBM", ErrShape)
	case cfg.Epochs < 1 || cfg.BatchSize < 1 || cfg.TopSteps < 1 || !(cfg.LearningRate > 0):
		return fmt.Errorf("up-down fine-tuning needs positive epochs, batch size, top steps and learning rate, got %+v", cfg)
	case x.Cols != d.Visible():
		return fmt.Errorf("%w: data has %d columns, the DBN %d visible units", ErrShape, x.Cols, d.Visible())
	case x.Rows < cfg.BatchSize:
		return fmt.Errorf("up-down fine-tuning: %d samples, fewer than a minibatch of %d", x.Rows, cfg.BatchSize)
	case len(labels) != x.Rows:
		return fmt.Errorf("%w: %d labels for %d samples", ErrLabel, len(labels), x.Rows)
	}
	for i, m := range d.Layers {
		if m.VisUnits != rbm.Bernoulli || m.HidUnits != rbm.Bernoulli {
			return fmt.Errorf("%w: up-down fine-tuning needs Bernoulli units; layer %d has %v visible and %v hidden", ErrUnsupported, i, m.VisUnits, m.HidUnits)
		}
	}
	for r, y := range labels {
		if y < 0 || y >= d.Labels {
			return fmt.Errorf("%w: label %d of sample %d is outside [0, %d)", ErrLabel, y, r, d.Labels)
		}
	}
	return nil
}

// upDown holds the buffers of up-down fine-tuning for one minibatch size.
type upDown struct {
	d   *DBN
	cfg UpDownConfig
	rng *mat32.RNG
	// wake[i] and sleep[i] are the binary states of level i (level L-1 the
	// penultimate one) in the two phases, prob[i] the predictions of level
	// i's states.
	wake, sleep, prob []*mat32.Dense
	topV0, topVs      *mat32.Dense // the top RBM's joint visible states: positive, negative
	hp0, hp, hs, vp   *mat32.Dense // the top RBM's chain
}

func newUpDown(d *DBN, cfg UpDownConfig) *upDown {
	L, n := len(d.Layers), cfg.BatchSize
	u := &upDown{d: d, cfg: cfg, rng: mat32.NewRNG(cfg.Seed, 0x0dd)}
	for i := range L {
		w := d.Layers[i].Visible()
		if i == L-1 {
			w = d.top().pen
		}
		u.wake, u.sleep, u.prob = append(u.wake, mat32.New(n, w)), append(u.sleep, mat32.New(n, w)), append(u.prob, mat32.New(n, w))
	}
	top := d.Layers[L-1]
	u.topV0, u.topVs = mat32.New(n, top.Visible()), mat32.New(n, top.Visible())
	u.hp0, u.hp, u.hs, u.vp = mat32.New(n, top.Hidden()), mat32.New(n, top.Hidden()), mat32.New(n, top.Hidden()), mat32.New(n, top.Visible())
	return u
}

// step runs the three phases on the samples idx and returns the summed
// squared error of the data's generative prediction before the update.
func (u *upDown) step(x *mat32.Dense, labels []int, idx []int) float64 {
	d, L := u.d, len(u.d.Layers)
	pen := d.top().pen
	// Wake: binary states upwards by the recognition weights.
	for r, i := range idx {
		copy(u.wake[0].Row(r), x.Row(i))
	}
	mat32.Bernoulli(u.wake[0], u.wake[0], u.rng)
	for i := 0; i < L-1; i++ {
		m := d.Layers[i]
		mat32.MulSigmoid(u.wake[i], m.W, false, m.HidBias, u.prob[i+1], u.wake[i+1], u.rng)
	}
	for r := range idx {
		row := u.topV0.Row(r)
		copy(row, u.wake[L-1].Row(r))
		setOneHot(row[pen:], labels[idx[r]])
	}
	wakeErr := u.generativeStep()
	u.topStep()
	for r := range idx {
		copy(u.sleep[L-1].Row(r), u.topVs.Row(r)[:pen])
	}
	u.recognitionStep()
	return wakeErr
}

// generativeStep moves each generative layer towards predicting the wake
// states of its level from those of the level above, and returns the
// summed squared error of the data's prediction.
func (u *upDown) generativeStep() float64 {
	d, L := u.d, len(u.d.Layers)
	lr := float32(u.cfg.LearningRate / float64(u.cfg.BatchSize))
	var errSum float64
	for i := 0; i < L-1; i++ {
		g := d.Gen[i]
		above, diff := u.wake[i+1], u.prob[i]
		mat32.Gemm(false, true, 1, above, g.W, 0, diff)
		mat32.SigmoidBias(diff, g.VisBias)
		for k, s := range u.wake[i].Data { // states - predictions
			diff.Data[k] = s - diff.Data[k]
		}
		if i == 0 {
			for _, v := range diff.Data {
				errSum += float64(v) * float64(v)
			}
		}
		mat32.Gemm(true, false, lr, diff, above, 1, g.W)
		mat32.ColumnSums(g.VisBias, lr, diff)
	}
	return errSum
}

// topStep takes a CD-k step of the top RBM from the wake states, the label
// clamped in the positive phase, leaving the chain's negative states in
// topVs.
func (u *upDown) topStep() {
	t := u.d.top()
	m := t.m
	lr := float32(u.cfg.LearningRate / float64(u.cfg.BatchSize))
	v0, vs := u.topV0, u.topVs
	t.up(v0, u.hp0, u.hs, u.rng)
	for k := range u.cfg.TopSteps {
		t.means(u.hs, u.vp)
		t.sample(vs, u.vp, u.rng, false)
		if k+1 < u.cfg.TopSteps {
			t.up(vs, u.hp, u.hs, u.rng)
		} else {
			t.up(vs, u.hp, nil, nil)
		}
	}
	mat32.Gemm(true, false, lr, v0, u.hp0, 1, m.W)
	mat32.Gemm(true, false, -lr, vs, u.hp, 1, m.W)
	mat32.ColumnSums(m.VisBias, lr, v0)
	mat32.ColumnSums(m.VisBias, -lr, vs)
	mat32.ColumnSums(m.HidBias, lr, u.hp0)
	mat32.ColumnSums(m.HidBias, -lr, u.hp)
}

// recognitionStep samples downwards by the generative weights from the top
// chain's negative penultimate states and moves each recognition layer
// towards predicting the sleep states of the level above from those below.
func (u *upDown) recognitionStep() {
	d, L := u.d, len(u.d.Layers)
	lr := float32(u.cfg.LearningRate / float64(u.cfg.BatchSize))
	for i := L - 2; i >= 0; i-- {
		g := d.Gen[i]
		mat32.MulSigmoid(u.sleep[i+1], g.W, true, g.VisBias, u.prob[i], u.sleep[i], u.rng)
	}
	for i := 0; i < L-1; i++ {
		m := d.Layers[i]
		q := u.prob[i+1]
		mat32.Gemm(false, false, 1, u.sleep[i], m.W, 0, q)
		mat32.SigmoidBias(q, m.HidBias)
		for k, s := range u.sleep[i+1].Data { // states - predictions
			q.Data[k] = s - q.Data[k]
		}
		mat32.Gemm(true, false, lr, u.sleep[i], q, 1, m.W)
		mat32.ColumnSums(m.HidBias, lr, q)
	}
}
