package nn

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/harmonium-ml/harmonium/fit"
	"github.com/harmonium-ml/harmonium/mat32"
)

// Schedule gives the learning rate of each epoch (fit.Schedule).
type Schedule = fit.Schedule

// The learning-rate schedules, from package fit.
type (
	Constant  = fit.Constant  // keeps the learning rate
	StepDecay = fit.StepDecay // Gamma^floor(epoch/Every)
	ExpDecay  = fit.ExpDecay  // Gamma^epoch
)

// Config holds the training settings. The zero value of an optional field
// turns that feature off or picks the default named.
type Config struct {
	Epochs       int     // passes over the data (required, > 0)
	BatchSize    int     // samples per minibatch (required, > 0)
	LearningRate float64 // base step size (required, > 0)
	Schedule     Schedule
	Optimizer    Optimizer // nil: NewAdam()
	Loss         Loss      // nil: SoftmaxCrossEntropy
	// L1 and L2 add L1*sign(w) + L2*w to the gradient of every weight (not
	// the biases) before the optimiser's step: the penalty
	// L1*sum|w| + L2/2*sum w^2. L2 is PyTorch's weight_decay.
	L1, L2 float64
	// MaxNorm, when > 0, rescales after each step every unit's incoming
	// weight vector (column of a weight matrix) whose Euclidean norm
	// exceeds it to that norm (Srivastava et al. 2014).
	MaxNorm float64
	// Patience, when > 0, stops training once the validation loss has not
	// improved for that many epochs, and leaves the network with the
	// weights of the epoch of lowest validation loss. It needs validation
	// data.
	Patience int
	Seed     uint64 // seeds the minibatch order and dropout
}

// Validate reports the first setting that is out of range.
func (c Config) Validate() error {
	finite := func(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
	switch {
	case c.Epochs <= 0:
		return fmt.Errorf("epochs must be positive, got %d", c.Epochs)
	case c.BatchSize <= 0:
		return fmt.Errorf("batch size must be positive, got %d", c.BatchSize)
	case !(c.LearningRate > 0) || !finite(c.LearningRate):
		return fmt.Errorf("learning rate must be positive, got %g", c.LearningRate)
	case !(c.L1 >= 0) || !finite(c.L1):
		return fmt.Errorf("L1 penalty must not be negative, got %g", c.L1)
	case !(c.L2 >= 0) || !finite(c.L2):
		return fmt.Errorf("L2 penalty must not be negative, got %g", c.L2)
	case !(c.MaxNorm >= 0) || !finite(c.MaxNorm):
		return fmt.Errorf("max-norm must not be negative, got %g", c.MaxNorm)
	case c.Patience < 0:
		return fmt.Errorf("patience must not be negative, got %d", c.Patience)
	}
	unit := func(x float64) bool { return x >= 0 && x < 1 }
	switch o := c.Optimizer.(type) {
	case *SGD:
		if !unit(o.Momentum) {
			return fmt.Errorf("momentum must be in [0, 1), got %g", o.Momentum)
		}
	case *Adam:
		if !unit(o.Beta1) || !unit(o.Beta2) || !(o.Eps >= 0) {
			return fmt.Errorf("Adam's betas must be in [0, 1) and epsilon >= 0, got %g, %g, %g", o.Beta1, o.Beta2, o.Eps)
		}
	case *RMSprop:
		if !unit(o.Alpha) || !(o.Eps >= 0) {
			return fmt.Errorf("RMSprop's alpha must be in [0, 1) and epsilon >= 0, got %g, %g", o.Alpha, o.Eps)
		}
	case *AdaGrad:
		if !(o.Eps >= 0) {
			return fmt.Errorf("AdaGrad's epsilon must be >= 0, got %g", o.Eps)
		}
	}
	return nil
}

// Data is a set of samples (the rows of X) with their targets.
type Data struct {
	X *mat32.Dense
	Targets
}

// Rows returns the number of samples.
func (d Data) Rows() int {
	if d.X == nil {
		return 0
	}
	return d.X.Rows
}

// Split returns a random fraction of the samples (rounded) as val and the
// others as train, in their original order, drawn with the seed.
func (d Data) Split(fraction float64, seed uint64) (train, val Data) {
	n := d.Rows()
	nv := int(math.Round(min(max(fraction, 0), 1) * float64(n)))
	perm := rand.New(rand.NewPCG(seed, 0x5b117)).Perm(n)
	isVal := make([]bool, n)
	for _, i := range perm[:nv] {
		isVal[i] = true
	}
	var ti, vi []int
	for i := range n {
		if isVal[i] {
			vi = append(vi, i)
		} else {
			ti = append(ti, i)
		}
	}
	return d.subset(ti), d.subset(vi)
}

// subset returns copies of the given samples.
func (d Data) subset(idx []int) Data {
	s := Data{X: mat32.New(len(idx), d.X.Cols)}
	if d.Labels != nil {
		s.Labels = make([]int, len(idx))
	}
	if d.Values != nil {
		s.Values = mat32.New(len(idx), d.Values.Cols)
	}
	for r, i := range idx {
		copy(s.X.Row(r), d.X.Row(i))
		if d.Labels != nil {
			s.Labels[r] = d.Labels[i]
		}
		if d.Values != nil {
			copy(s.Values.Row(r), d.Values.Row(i))
		}
	}
	return s
}

// EpochStats reports one finished epoch.
type EpochStats struct {
	Epoch int // 1-based
	// Loss and Accuracy are the mean loss and the fraction of samples
	// classified right on the minibatches as they were trained (dropout on,
	// weights changing); Accuracy is NaN without labels.
	Loss, Accuracy float64
	// ValLoss and ValAccuracy are measured on the validation data after the
	// epoch, in evaluation mode (NaN without validation data or labels).
	ValLoss, ValAccuracy float64
	LearningRate         float64
	Best                 bool          // the lowest validation loss so far
	Stop                 bool          // early stopping ends training after this epoch
	Duration             time.Duration // of the training pass (validation not included)
}

// Hooks are optional callbacks during Fit.
type Hooks struct {
	// Epoch is called after each epoch; an error stops training and is returned.
	Epoch func(EpochStats) error
	// Batch is called after each minibatch with the counts so far in the epoch.
	Batch func(epoch, done, total int)
}

// ErrDiverged is wrapped by Fit's error when the loss or a parameter becomes
// NaN or Inf; the error names the epoch.
var ErrDiverged = errors.New("training diverged (NaN or Inf); lower the learning rate")

// Trainer trains a network by minibatch gradient descent.
type Trainer struct {
	Net    *Network
	Config Config
	Epoch  int // epochs finished

	opt    Optimizer
	loss   Loss
	params []Param
	reg    *regularizer
	bufs   map[int]*batch

	// Early stopping: the best weights so far and when they were seen.
	best      [][]float32
	bestLoss  float64
	sinceBest int
}

// batch holds a minibatch and the gradient of the loss for its outputs.
type batch struct {
	x, values, grad *mat32.Dense
	labels          []int
}

// NewTrainer checks the settings and returns a trainer at epoch 0.
func NewTrainer(net *Network, cfg Config) (*Trainer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if net.out.Size() == 0 || net.in.Size() == 0 {
		return nil, errors.New("the network's input and output shapes are unknown (a layer fixing the input, and Shapers)")
	}
	t := &Trainer{Net: net, Config: cfg, opt: cfg.Optimizer, loss: cfg.Loss, params: net.Params(), bufs: map[int]*batch{}, bestLoss: math.Inf(1)}
	if t.opt == nil {
		t.opt = NewAdam()
	}
	if t.loss == nil {
		t.loss = SoftmaxCrossEntropy{}
	}
	t.reg = newRegularizer(t.params, cfg.L1, cfg.L2, cfg.MaxNorm)
	return t, nil
}

// OptimizerState returns the state of the trainer's optimiser, as
// Stateful.State does (no slots for an optimiser without state), for
// checkpoints: saved after an epoch and restored, together with Epoch,
// before Fit, it resumes training as if it had not stopped.
func (t *Trainer) OptimizerState() (map[string][][]float32, *int) {
	if s, ok := t.opt.(Stateful); ok {
		return s.State(t.params)
	}
	return map[string][][]float32{}, nil
}

// CheckData reports whether d suits the network and loss: its width and
// its targets.
func (t *Trainer) CheckData(d Data) error {
	if d.X == nil || d.X.Rows == 0 {
		return errors.New("no samples")
	}
	if in := t.Net.in; d.X.Cols != in.Size() {
		return fmt.Errorf("data has %d values per sample, the network takes %d (%v)", d.X.Cols, in.Size(), in)
	}
	return t.loss.Check(d.Targets, d.X.Rows, t.Net.out.Size())
}

func (t *Trainer) batch(n int, d Data) *batch {
	b, ok := t.bufs[n]
	if !ok || (b.labels != nil) != (d.Labels != nil) || (b.values != nil) != (d.Values != nil) {
		b = &batch{x: mat32.New(n, d.X.Cols), grad: mat32.New(n, t.Net.out.Size())}
		if d.Labels != nil {
			b.labels = make([]int, n)
		}
		if d.Values != nil {
			b.values = mat32.New(n, d.Values.Cols)
		}
		t.bufs[n] = b
	}
	return b
}

// gather copies the samples idx of d into b.
func (b *batch) gather(d Data, idx []int) {
	for r, i := range idx {
		copy(b.x.Row(r), d.X.Row(i))
		if b.labels != nil {
			b.labels[r] = d.Labels[i]
		}
		if b.values != nil {
			copy(b.values.Row(r), d.Values.Row(i))
		}
	}
}

// Fit trains from the trainer's current epoch up to Config.Epochs on
// train, measuring val after each epoch when it has samples (val may be
// the zero Data), and returns the statistics of the epochs it ran. It
// stops between minibatches when ctx is cancelled, returning ctx's error;
// the network then holds the updates made so far. The same seed, data and
// settings give the same network, bit for bit, on the same machine.
func (t *Trainer) Fit(ctx context.Context, train, val Data, hooks Hooks) ([]EpochStats, error) {
	if err := t.checkFit(train, val); err != nil {
		return nil, err
	}
	cfg := t.Config
	if cfg.Patience > 0 && t.best == nil {
		t.best = make([][]float32, len(t.params))
		for i, p := range t.params {
			t.best[i] = make([]float32, len(p.Value.Data))
		}
	}
	run := &epochRun{t: t, train: train, val: val, hooks: hooks}
	order := func(e int, perm []int) { copy(perm, rand.New(rand.NewPCG(cfg.Seed, uint64(e))).Perm(len(perm))) }
	err := fit.Run(ctx, fit.Config{Epochs: cfg.Epochs, BatchSize: cfg.BatchSize, Seed: cfg.Seed, Order: order, Batch: hooks.Batch}, train.Rows(), t.Epoch, run)
	if err != nil {
		return run.stats, err
	}
	if cfg.Patience > 0 && !math.IsInf(t.bestLoss, 1) {
		for i, p := range t.params {
			copy(p.Value.Data, t.best[i])
		}
	}
	return run.stats, nil
}

func (t *Trainer) checkFit(train, val Data) error {
	if err := t.CheckData(train); err != nil {
		return fmt.Errorf("training data: %w", err)
	}
	if val.Rows() > 0 {
		if err := t.CheckData(val); err != nil {
			return fmt.Errorf("validation data: %w", err)
		}
	} else if t.Config.Patience > 0 {
		return errors.New("early stopping (patience) needs validation data")
	}
	return nil
}

// epochRun is one call of Fit as the epoch driver sees it.
type epochRun struct {
	t          *Trainer
	train, val Data
	hooks      Hooks
	stats      []EpochStats
	lr         float64
	lossSum    float64
	correct    int
}

// BeginEpoch sets the epoch's learning rate and reseeds dropout.
func (r *epochRun) BeginEpoch(e int) error {
	cfg := r.t.Config
	r.lr, r.lossSum, r.correct = fit.Rate(cfg.Schedule, cfg.LearningRate, e), 0, 0
	for i, l := range r.t.Net.layers {
		if s, ok := l.(Seeder); ok {
			s.Seed(cfg.Seed, uint64(e)<<16|uint64(i))
		}
	}
	return nil
}

// Step trains on the samples idx and returns their summed loss.
func (r *epochRun) Step(idx []int) (float64, error) {
	t := r.t
	buf := t.batch(len(idx), r.train)
	buf.gather(r.train, idx)
	loss, c := t.step(buf, r.lr)
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return 0, fmt.Errorf("epoch %d: %w", t.Epoch+1, ErrDiverged)
	}
	r.lossSum += loss * float64(len(idx))
	r.correct += c
	return loss * float64(len(idx)), nil
}

// EndEpoch checks the parameters, validates, counts the epoch, calls the
// hook and stops early when the patience has run out.
func (r *epochRun) EndEpoch(e fit.Epoch) error {
	t, n := r.t, r.train.Rows()
	if !finiteParams(t.params) {
		return fmt.Errorf("epoch %d: %w", e.Epoch+1, ErrDiverged)
	}
	st := EpochStats{Epoch: e.Epoch + 1, Loss: r.lossSum / float64(n), Accuracy: math.NaN(), ValLoss: math.NaN(), ValAccuracy: math.NaN(), LearningRate: r.lr, Duration: e.Duration}
	if r.train.Labels != nil {
		st.Accuracy = float64(r.correct) / float64(n)
	}
	t.validate(&st, r.val)
	if r.val.Rows() > 0 && (math.IsNaN(st.ValLoss) || math.IsInf(st.ValLoss, 0)) {
		return fmt.Errorf("epoch %d: %w", st.Epoch, ErrDiverged)
	}
	t.Epoch++
	r.stats = append(r.stats, st)
	if r.hooks.Epoch != nil {
		if err := r.hooks.Epoch(st); err != nil {
			return err
		}
	}
	if st.Stop {
		return fit.ErrStop
	}
	return nil
}

// step trains on one minibatch and returns its mean loss and the number of
// its samples classified right (0 without labels).
func (t *Trainer) step(b *batch, lr float64) (loss float64, correct int) {
	out := t.Net.Forward(b.x, true)
	loss = t.loss.Loss(out, Targets{Labels: b.labels, Values: b.values}, b.grad) + t.Net.auxLoss()
	if b.labels != nil {
		correct = countCorrect(out, b.labels)
	}
	t.Net.Backward(b.grad)
	t.reg.addPenalties()
	t.opt.Step(t.params, lr)
	t.reg.constrain()
	return loss, correct
}

// validate measures val into st and keeps track of the best weights.
func (t *Trainer) validate(st *EpochStats, val Data) {
	if val.Rows() == 0 {
		return
	}
	st.ValLoss, st.ValAccuracy = t.Net.evaluate(val, t.loss, t.Config.BatchSize)
	if st.ValLoss < t.bestLoss {
		t.bestLoss, t.sinceBest, st.Best = st.ValLoss, 0, true
		if t.best != nil {
			for i, p := range t.params {
				copy(t.best[i], p.Value.Data)
			}
		}
		return
	}
	t.sinceBest++
	st.Stop = t.Config.Patience > 0 && t.sinceBest >= t.Config.Patience
}

// Evaluate returns the mean loss over the samples of d in evaluation mode
// (with the layers' own terms, see AuxLosser) and the fraction classified right (NaN without labels). It fails when d
// does not suit the network or the loss.
func (n *Network) Evaluate(d Data, loss Loss) (meanLoss, accuracy float64, err error) {
	switch {
	case d.X == nil:
		return 0, 0, errors.New("no samples")
	case n.out.Size() == 0:
		return 0, 0, errors.New("the network's output shape is unknown")
	case d.X.Cols != n.in.Size():
		return 0, 0, fmt.Errorf("data has %d values per sample, the network takes %d (%v)", d.X.Cols, n.in.Size(), n.in)
	}
	if err := loss.Check(d.Targets, d.X.Rows, n.out.Size()); err != nil {
		return 0, 0, err
	}
	meanLoss, accuracy = n.evaluate(d, loss, evalChunk)
	return meanLoss, accuracy, nil
}

func (n *Network) evaluate(d Data, loss Loss, chunk int) (meanLoss, accuracy float64) {
	var sum float64
	correct := 0
	n.chunks(d.X, len(n.layers)-1, chunk, func(r0 int, out *mat32.Dense) {
		r1 := r0 + out.Rows
		t := Targets{}
		if d.Labels != nil {
			t.Labels = d.Labels[r0:r1]
			correct += countCorrect(out, t.Labels)
		}
		if d.Values != nil {
			t.Values = d.Values.Slice(r0, r1)
		}
		sum += (loss.Loss(out, t, nil) + n.auxLoss()) * float64(out.Rows)
	})
	rows := float64(max(d.Rows(), 1))
	accuracy = math.NaN()
	if d.Labels != nil {
		accuracy = float64(correct) / rows
	}
	return sum / rows, accuracy
}

// auxLoss returns the sum of the AuxLoss terms of the layers (0 if none
// adds one) for the last Forward.
func (n *Network) auxLoss() float64 {
	var s float64
	for _, l := range n.layers {
		if a, ok := l.(AuxLosser); ok {
			s += a.AuxLoss()
		}
	}
	return s
}

func countCorrect(out *mat32.Dense, labels []int) int {
	c := 0
	for i, y := range labels {
		if argmax(out.Row(i)) == y {
			c++
		}
	}
	return c
}

func finiteParams(params []Param) bool {
	for _, p := range params {
		for _, v := range p.Value.Data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return false
			}
		}
	}
	return true
}

// Fit trains n with cfg; see Trainer.Fit.
func (n *Network) Fit(ctx context.Context, train, val Data, cfg Config, hooks Hooks) ([]EpochStats, error) {
	t, err := NewTrainer(n, cfg)
	if err != nil {
		return nil, err
	}
	return t.Fit(ctx, train, val, hooks)
}
