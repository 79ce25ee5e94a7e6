package rbm

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/harmonium-ml/harmonium/fit"
	"github.com/harmonium-ml/harmonium/mat32"
)

// Config holds the training settings. The zero value of an optional field
// turns that feature off.
type Config struct {
	Epochs       int     // passes over the data (required, > 0)
	BatchSize    int     // samples per minibatch (required, > 0)
	LearningRate float64 // step size (required, > 0)
	// LRDecay divides the learning rate by 1 + LRDecay*epoch at each epoch.
	LRDecay float64
	// Steps is k, the number of Gibbs steps in the negative phase (>= 1).
	Steps int
	// Persistent selects persistent CD: the negative phase continues a set of
	// BatchSize Gibbs chains across updates instead of starting at the data.
	Persistent bool
	// SampleVisible makes the negative statistics use the binary visible
	// states that end the Gibbs chain rather than their probabilities. The
	// estimate is then unbiased once the chain has mixed; probabilities (the
	// default for CD, as in Hinton's practical guide) have lower variance.
	// Persistent CD always samples.
	SampleVisible bool
	// SampleData treats each data value as the probability of a 1 and
	// trains on a fresh binary sample of every minibatch (dynamic
	// binarisation), the usual way to fit a likelihood to binary data.
	SampleData bool
	// Centered trains a centred RBM (Montavon & Müller 2012; Melchior et
	// al. 2016): the gradient is taken with the visible and hidden states
	// minus running offsets (their means), which conditions learning much
	// better. The model keeps its ordinary parametrisation; only training
	// changes. OffsetRate is the rate at which the offsets follow the
	// minibatch means (DefaultConfig: 0.01); 0 keeps them at their
	// starting values (the data's mean and 1/2).
	Centered   bool
	OffsetRate float64
	// Momentum is used from epoch MomentumWarmup on; before that the
	// momentum is min(InitialMomentum, Momentum).
	Momentum        float64
	InitialMomentum float64
	MomentumWarmup  int
	WeightDecay     float64 // L2 penalty on the weights
	// SparsityTarget, when > 0, pushes the mean activation of each hidden
	// unit towards it, with strength SparsityCost.
	SparsityTarget float64
	SparsityCost   float64
	// LearnSigma learns the standard deviation of Gaussian visible units
	// through log sigma^2 (Cho, Ilin & Raiko 2011), at SigmaRate times the
	// learning rate (0 means 0.1). The negative statistics then use sampled
	// visible states, which the variance's gradient needs. The model must
	// have variances (NewInitUnits with learnSigma).
	LearnSigma bool
	SigmaRate  float64
	// Tempering, when 2 or more, samples the negative phase by parallel
	// tempering (Desjardins et al. 2010): that many persistent chains per
	// minibatch sample, at inverse temperatures 1, 1-1/K, ..., 1/K, each
	// running Steps Gibbs sweeps per update with swaps between neighbours;
	// the chains at temperature 1 give the negative statistics. It
	// replaces Persistent and needs Bernoulli hidden units.
	Tempering int
	// Average, when in (0, 1), makes the trained model the exponential
	// moving average of the parameters over the updates (Polyak-Ruppert
	// averaging): after each update avg = Average*avg +
	// (1-Average)*params, from the parameters after the first update.
	// Training itself is unchanged; when Fit has run every epoch the model
	// holds the average (and the next Fit continues from the last
	// parameters). With persistent chains the last parameters are noisy
	// and their average is much better (UCI digits, sigma learned, PCD-5
	// at 0.02 for 1,000 epochs: -69.5 to -70.1 nats on eight seeds with
	// averaging, -70.9 to -82 without).
	Average float64
	Seed    uint64 // seeds minibatch order and sampling
}

// persistent reports whether the negative phase continues persistent
// chains (PCD or parallel tempering).
func (c Config) persistent() bool { return c.Persistent || c.Tempering > 1 }

// DefaultConfig returns the settings harmonium uses unless told otherwise:
// CD-1, batch 100, learning rate 0.1, momentum 0.5 for 5 epochs then 0.9,
// weight decay 0.0002 (Hinton's practical guide), and an offset rate of
// 0.01 for centred training.
func DefaultConfig() Config {
	return Config{Epochs: 10, BatchSize: 100, LearningRate: 0.1, Steps: 1,
		Momentum: 0.9, InitialMomentum: 0.5, MomentumWarmup: 5, WeightDecay: 0.0002, OffsetRate: 0.01}
}

// Validate reports the first setting that is out of range.
func (c Config) Validate() error {
	switch {
	case c.Epochs <= 0:
		return fmt.Errorf("epochs must be positive, got %d", c.Epochs)
	case c.BatchSize <= 0:
		return fmt.Errorf("batch size must be positive, got %d", c.BatchSize)
	case !(c.LearningRate > 0) || math.IsInf(float64(float32(c.LearningRate)), 0):
		return fmt.Errorf("learning rate must be positive, got %g", c.LearningRate)
	case c.Steps <= 0:
		return fmt.Errorf("CD steps k must be positive, got %d", c.Steps)
	case !finiteNonNegative(c.LRDecay):
		return fmt.Errorf("learning-rate decay must be finite and not negative, got %g", c.LRDecay)
	case !(c.Momentum >= 0 && c.Momentum < 1):
		return fmt.Errorf("momentum must be in [0, 1), got %g", c.Momentum)
	case !(c.InitialMomentum >= 0 && c.InitialMomentum < 1):
		return fmt.Errorf("initial momentum must be in [0, 1), got %g", c.InitialMomentum)
	case c.MomentumWarmup < 0:
		return fmt.Errorf("momentum warm-up must not be negative, got %d", c.MomentumWarmup)
	case !finiteNonNegative(c.WeightDecay):
		return fmt.Errorf("weight decay must be finite and not negative, got %g", c.WeightDecay)
	case !(c.SparsityTarget >= 0 && c.SparsityTarget < 1):
		return fmt.Errorf("sparsity target must be in [0, 1), got %g", c.SparsityTarget)
	case !(c.OffsetRate >= 0 && c.OffsetRate <= 1):
		return fmt.Errorf("offset rate must be in [0, 1], got %g", c.OffsetRate)
	case !finiteNonNegative(c.SparsityCost):
		return fmt.Errorf("sparsity cost must be finite and not negative, got %g", c.SparsityCost)
	case c.SparsityTarget > 0 && c.SparsityCost == 0:
		return fmt.Errorf("sparsity target %g needs a positive sparsity cost (0 would turn the penalty off)", c.SparsityTarget)
	case !(c.SigmaRate >= 0 && c.SigmaRate <= 1):
		return fmt.Errorf("sigma rate must be in [0, 1], got %g", c.SigmaRate)
	case c.Average < 0 || c.Average >= 1 || math.IsNaN(c.Average):
		return fmt.Errorf("parameter averaging decay must be in [0, 1), got %g", c.Average)
	case c.Tempering < 0 || c.Tempering > 1000:
		return fmt.Errorf("parallel tempering needs 2 to 1000 temperatures (0 turns it off), got %d", c.Tempering)
	}
	return nil
}

// finiteNonNegative reports whether x is a number in [0, +Inf): not NaN,
// which every comparison lets through, nor infinite.
func finiteNonNegative(x float64) bool { return x >= 0 && !math.IsInf(x, 1) }

// DefaultConfigFor returns the recipe harmonium uses for a model of nv
// visible units of type vis and nh hidden units of type hid, trained on
// the given number of samples. Bernoulli units get DefaultConfig; ReLU and
// Gaussian hidden units take a learning rate of 0.01 with Bernoulli
// visible units. Gaussian visible units with Bernoulli hidden units learn
// their standard deviations (LearnSigma, SigmaRate 0.1) by CD-20 (on the
// UCI digits about 1 nat better than CD-5) at GaussianLearningRate,
// decayed to a tenth over the run (LRDecay 10/Epochs), for about 10,000
// updates (between 10 and 1,000 epochs), the model being the moving
// average of the parameters over the last fortieth of the run (Average:
// AverageDecay); with ReLU hidden units they take DefaultFixedSigmaConfig.
// (PCD-5 at 0.02 for
// 40,000 updates with averaging is better still on the digits, but far
// worse on data in well-separated clusters, where persistent chains do
// not move between the modes.)
func DefaultConfigFor(vis, hid Units, nv, nh, samples int) Config {
	c := DefaultConfig()
	if hid != Bernoulli {
		c.LearningRate = 0.01
	}
	if vis != Gaussian {
		return c
	}
	if hid != Bernoulli {
		return DefaultFixedSigmaConfig(hid, nv, nh, samples)
	}
	c.LearningRate, c.Steps, c.LearnSigma, c.SigmaRate = GaussianLearningRate(hid, nv, nh), 20, true, 0.1
	batches := max(1, (samples+c.BatchSize-1)/c.BatchSize)
	c.Epochs = min(max((10000+batches-1)/batches, 10), 1000)
	c.LRDecay = 10 / float64(c.Epochs)
	c.Average = AverageDecay(c.Epochs * batches)
	return c
}

// gaussTunedWeights is the number of weights of the model the learning
// rates of GaussianLearningRate were tuned on: the UCI digits' 62
// standardised features by 20 hidden units.
const gaussTunedWeights = 62 * 20

// GaussianLearningRate returns the learning rate of the recipes for
// Gaussian visible units with nv visible and nh hidden units of type hid:
// 0.05 with Bernoulli hidden units (σ learned), 0.001 with ReLU ones (σ
// fixed), for models of up to 62 x 20 weights, where it was tuned, and
// that rate times sqrt(1240/(nv*nh)) for larger ones. A step of the weights moves
// the hidden units' inputs and the visible means by about the rate times
// sqrt(nv*nh) (the norm of a rank-one update), and at a fixed rate
// training diverges in its first epoch as models grow (on the digits: 100
// hidden units at 0.05, 200 at 0.035, 500 at 0.018); the scaled rates
// train (200 hidden units at 0.0158: -50.6 nats, against -70.4 with 20).
// Sizes of 0 leave the rate unscaled; scaled rates are rounded to three
// significant digits.
func GaussianLearningRate(hid Units, nv, nh int) float64 {
	lr := 0.05
	if hid == ReLU {
		lr = 0.001
	}
	if w := float64(nv) * float64(nh); w > gaussTunedWeights {
		lr *= math.Sqrt(gaussTunedWeights / w)
		lr, _ = strconv.ParseFloat(strconv.FormatFloat(lr, 'g', 3, 64), 64) // 0.022, not 0.0220085...: a rate a user can type
	}
	return lr
}

// AverageDecay returns the decay of the recipes' parameter averaging
// (Config.Average) for a run of the given number of updates: a horizon of
// a fortieth of the run, 0.999 for 40,000 updates. (On the UCI digits
// horizons of 2.5% and 5% of the run, and the plain mean of its last
// quarter, gave the same likelihood to 0.05 nats.)
func AverageDecay(updates int) float64 { return 1 - 40/float64(max(updates, 80)) }

// DefaultFixedSigmaConfig returns the recipe harmonium uses for Gaussian
// visible units whose standard deviations stay at 1 (standardised data),
// nv of them, and nh hidden units of type hid, for about 40,000 updates
// (between 10 and 1,000 epochs) at a learning rate decayed to a tenth over
// the run, the model being the moving average of the parameters, as in
// DefaultConfigFor. With Bernoulli hidden units it is PCD-5 at 0.01: with
// σ fixed, CD's bias grows the longer it trains (CD-5 on the UCI digits:
// -78.2 nats after 10,000 updates, -82.6 after 38,000), while persistent
// chains keep improving (-77.6 after 38,000). ReLU hidden units, whose
// outputs are unbounded, take CD-1 at GaussianLearningRate (0.001 on the
// digits): PCD-5 at 0.01, CD-5 at 0.005, and learned deviations at rates
// down to 0.002 all diverged there within 100 epochs.
func DefaultFixedSigmaConfig(hid Units, nv, nh, samples int) Config {
	c := DefaultConfig()
	c.Persistent, c.Steps, c.LearningRate = true, 5, 0.01
	if hid == ReLU {
		c.Persistent, c.Steps, c.LearningRate = false, 1, GaussianLearningRate(hid, nv, nh)
	}
	batches := max(1, (samples+c.BatchSize-1)/c.BatchSize)
	c.Epochs = min(max((40000+batches-1)/batches, 10), 1000)
	c.LRDecay = 10 / float64(c.Epochs)
	c.Average = AverageDecay(c.Epochs * batches)
	return c
}

// checkUnits reports settings that the model's unit types do not allow.
func (c Config) checkUnits(m *RBM) error {
	switch {
	case c.SampleData && m.VisUnits != Bernoulli:
		return fmt.Errorf("sampling binary data (dynamic binarisation) needs Bernoulli visible units, the model has %v", m.VisUnits)
	case c.LearnSigma && m.VisUnits != Gaussian:
		return fmt.Errorf("learning sigma needs Gaussian visible units, the model has %v", m.VisUnits)
	case c.LearnSigma && m.LogVar == nil:
		return errors.New("learning sigma needs a model with variances (NewInitUnits with learnSigma)")
	case c.Centered && m.LogVar != nil:
		return errors.New("centred training of Gaussian units with learned variances is not supported")
	case c.SparsityTarget > 0 && m.HidUnits != Bernoulli:
		return fmt.Errorf("a sparsity target needs Bernoulli hidden units, the model has %v", m.HidUnits)
	case c.Tempering > 1 && m.HidUnits != Bernoulli:
		return fmt.Errorf("parallel tempering needs Bernoulli hidden units, the model has %v", m.HidUnits)
	}
	return nil
}

// rates returns the learning rate and momentum for an epoch (0-based).
func (c Config) rates(epoch int) (lr, mom float64) {
	return fit.InverseDecay{Decay: c.LRDecay}.Rate(c.LearningRate, epoch), c.momentum().At(epoch)
}

// momentum is the momentum schedule of c.
func (c Config) momentum() fit.Momentum {
	return fit.Momentum{Initial: c.InitialMomentum, Final: c.Momentum, Warmup: c.MomentumWarmup}
}

// EpochStats reports one finished epoch.
type EpochStats struct {
	Epoch        int           // 1-based
	ReconError   float64       // mean over samples of sum_i (v_i - p(v_i|h))^2, h ~ p(h|v), during the epoch
	LearningRate float64       // used in this epoch
	Momentum     float64       // used in this epoch
	Duration     time.Duration // wall time of the epoch
	// SwapRate is the fraction of proposed swaps between neighbouring
	// temperatures that parallel tempering accepted in the epoch (0 without
	// tempering).
	SwapRate float64
}

// State is what training keeps besides the model: enough to resume exactly.
type State struct {
	Epoch   int          // epochs finished
	VelW    *mat32.Dense // weight velocity (Visible x Hidden)
	VelVis  []float32
	VelHid  []float32
	Chains  *mat32.Dense // persistent chains (BatchSize x Visible), nil unless persistent
	HidMean []float32    // running mean of hidden activations, for sparsity
	// Offsets of a centred RBM (nil unless Config.Centered): running means
	// of the visible data and of the hidden probabilities.
	VisOffset []float32
	HidOffset []float32
	// VelLogVar is the velocity of the log variances (nil unless the model
	// has them).
	VelLogVar []float32
	// Average is the running average of the parameters (nil unless
	// Config.Average is set).
	Average *Average
}

// Hooks are optional callbacks during Fit.
type Hooks struct {
	// Epoch is called after each epoch; an error stops training and is returned.
	Epoch func(EpochStats) error
	// Batch is called after each minibatch with the counts so far in the epoch.
	Batch func(epoch, done, total int)
}

// Trainer trains an RBM by CD-k or PCD-k with minibatches.
type Trainer struct {
	Model  *RBM
	Config Config
	State  State

	bufs map[int]*buffers
	dvis []float32 // scratch column sums over visible units
	dhid []float32 // scratch column sums over hidden units

	// Centred training: raw bias gradients, and the offsets and the weight
	// step's products with them as column matrices.
	gvis, ghid      []float32
	muCol, lamCol   *mat32.Dense
	stepLam, stepMu *mat32.Dense

	// Gaussian visible units with variances: the weights diag(1/sigma^2) W
	// that carry visible states up, the raw weight gradient, and the
	// standard deviations of the visible units.
	wUp, gW *mat32.Dense
	std     []float32

	pt *tempering // parallel tempering's scratch (nil without it)

	// averaged is set while the model holds the average of its parameters
	// (after a Fit that ran every epoch with Config.Average); blendDst,
	// blendSrc and blendRange are updateAverage's scratch.
	averaged           bool
	blendDst, blendSrc []float32
	blendRange         func(i0, i1 int)

	// With sparseData (training data mostly zeros: see sparseBelow), the
	// products with the minibatch use its nonzero entries, kept in sp.
	sparseData bool
	sp         mat32.Sparse
	// With sparseData and Bernoulli visible units, sampled visible states
	// (chains, CD-k's samples) take sparse products too: spNeg holds the
	// states of the last such product, spAll the weight gradient's rows
	// [v0; vneg] when both are sparse (negSparse).
	spNeg, spAll mat32.Sparse
	negSparse    bool

	// Binary hidden samples sparse enough (sparseHidden) take the product
	// down through their nonzero entries, kept in spH, with wT, the
	// weights transposed: by the last step's weight update when it could
	// (wTNext, of the weights at wTOf), else once in the step (wTFresh).
	spH             mat32.Sparse
	wT              *mat32.Dense
	wTFresh, wTNext bool
	wTOf            *float32
	denseDown       bool // take the dense products down all the same (tests)
}

// hiddenSparseBelow is the density of a minibatch's binary hidden samples
// below which the product that carries them down skips their zeros. For
// 100 x 500 samples and 784 visible units, with the compression of the
// samples and the weights' transposition counted, the sparse product took
// 0.49, 0.67, 0.9 and 0.97 times the dense one's time at densities 0.2,
// 0.35, 0.45 and 0.55 on 2 Zen 4 cores (mat32's BenchmarkSparseDown); in
// training the transposition is mostly folded into the weight update.
const hiddenSparseBelow = 0.5

// SparseHiddenProducts reports whether training m takes the products that
// carry its binary hidden samples down through their nonzero entries when
// under half of them are ones (hiddenSparseBelow): Bernoulli units on both
// sides and vectorised kernels (mat32.SparseFaster). The choice depends on
// the samples, the model and the kernel path only, so the same seed gives
// the same model on the same machine.
func SparseHiddenProducts(m *RBM) bool {
	return mat32.SparseFaster() && m.HidUnits == Bernoulli && m.VisUnits == Bernoulli && m.LogVar == nil
}

// sparseHidden reports whether binary hidden samples may take sparse
// products down.
func (t *Trainer) sparseHidden() bool { return !t.denseDown && SparseHiddenProducts(t.Model) }

// startStep finds whether wT still holds the weights transposed.
func (t *Trainer) startStep() {
	t.wTFresh = t.wTNext && len(t.Model.W.Data) > 0 && t.wTOf == &t.Model.W.Data[0]
	t.wTNext = false
}

// mirror is the matrix that a weight update which is the step's last
// should leave the transposed weights in, or nil.
func (t *Trainer) mirror() *mat32.Dense {
	if t.wT == nil || !t.sparseHidden() {
		return nil
	}
	return t.wT
}

// mirrored records that wT now holds the weights transposed.
func (t *Trainer) mirrored() {
	t.wTNext, t.wTOf = true, &t.Model.W.Data[0]
}

// sparseEnough reports whether the binary hidden samples h are sparse
// enough to go down through their nonzero entries, and then leaves them in
// sp.
func sparseEnough(h *mat32.Dense, sp *mat32.Sparse) bool {
	sp.SetFrom(h)
	return sp.Density() < hiddenSparseBelow
}

// sparseDown reports whether the hidden samples h go down sparse, and
// then leaves them in spH and the transposed weights in wT.
func (t *Trainer) sparseDown(h *mat32.Dense) bool {
	if !t.sparseHidden() || !sparseEnough(h, &t.spH) {
		return false
	}
	if !t.wTFresh {
		if t.wT == nil {
			t.wT = mat32.New(t.Model.Hidden(), t.Model.Visible())
		}
		mat32.TransposeInto(t.wT, t.Model.W)
		t.wTFresh = true
	}
	return true
}

// downDiff is RBM.downDiff for binary hidden samples h, sparse when they
// are sparse enough.
func (t *Trainer) downDiff(h, vp *mat32.Dense, d mat32.Diff) float64 {
	if t.sparseDown(h) {
		return mat32.MulSigmoidSparseDiff(&t.spH, t.wT, t.Model.VisBias, vp, d)
	}
	return t.Model.downDiff(h, vp, d)
}

// downMeans sets vp to the visible means given binary hidden samples h,
// as RBM.down without samples: sparse when they are sparse enough.
func (t *Trainer) downMeans(h, vp *mat32.Dense) {
	if t.sparseDown(h) {
		mat32.MulSigmoidSparse(&t.spH, t.wT, t.Model.VisBias, vp, nil, nil)
		return
	}
	t.Model.down(h, vp, nil, nil, nil)
}

// sparseBelow is the density of the training data below which the
// products with each minibatch (p(h|v0) and the gradient's v0'h0) skip its
// zeros: measured on AVX-512 and AVX2, sparse products of a 100 x 784
// batch with 500 hidden units win up to a density of about 0.4 (MNIST:
// 0.19); see BenchmarkSparseCD in mat32.
const sparseBelow = 0.3

// SparseProducts reports whether training m on data skips the zeros of
// each minibatch in the products that read it: the kernels are vectorised
// (mat32.SparseFaster), the data's density is below 0.3 and the weights
// carry it up unchanged (no learned variances). The choice depends on the
// data and the kernel path only, so the same seed gives the same model on
// the same machine.
func SparseProducts(m *RBM, data *mat32.Dense) bool {
	return mat32.SparseFaster() && m.LogVar == nil && mat32.Density(data) < sparseBelow
}

// sparseSamples reports whether sampled visible states take sparse
// products: binary samples of sparse data.
func (t *Trainer) sparseSamples() bool { return t.sparseData && t.Model.VisUnits == Bernoulli }

// upSample is up for visible states v that are samples: sparse when
// sparseSamples.
func (t *Trainer) upSample(v, hp, hs *mat32.Dense, rng *mat32.RNG) {
	if !t.sparseSamples() {
		t.Model.up(t.wUp, v, hp, hs, rng)
		return
	}
	t.spNeg.SetFrom(v)
	t.Model.upSparse(&t.spNeg, hp, hs, rng)
}

// chooseSparse sets whether training on data takes the sparse products.
func (t *Trainer) chooseSparse(data *mat32.Dense) {
	t.sparseData = SparseProducts(t.Model, data)
}

// buffers are the per-batch-size matrices of a step, allocated once.
// The positive and negative statistics are stacked (vst = [v0; vneg],
// hst = [h0p; -hp]) so that one product with twice the inner dimension
// gives the whole weight gradient; vstC and hstC add two rows that make it
// the centred gradient.
type buffers struct {
	vst, hst   *mat32.Dense
	vstC, hstC *mat32.Dense
	v0, vr     *mat32.Dense // data, and reconstruction p(v|h0) (vst's halves)
	vp, vs     *mat32.Dense // visible probabilities and samples of longer chains
	h0p, hp    *mat32.Dense // positive and negative hidden probabilities (hst's halves)
	h0s, hs    *mat32.Dense // positive and negative hidden samples
	chains     *mat32.Dense // the first rows of the persistent chains (set by chainsOf)
}

// chainsOf returns the persistent chains a minibatch of buf's size uses.
func (t *Trainer) chainsOf(buf *buffers) *mat32.Dense {
	nb, all := buf.v0.Rows, t.State.Chains
	if buf.chains == nil || len(buf.chains.Data) == 0 || &buf.chains.Data[0] != &all.Data[0] {
		buf.chains = all.Slice(0, nb)
	}
	return buf.chains
}

// NewTrainer checks the settings and returns a trainer at epoch 0.
func NewTrainer(m *RBM, cfg Config) (*Trainer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if err := cfg.checkUnits(m); err != nil {
		return nil, err
	}
	nv, nh := m.Visible(), m.Hidden()
	t := &Trainer{Model: m, Config: cfg, bufs: map[int]*buffers{}, dvis: make([]float32, nv), dhid: make([]float32, nh)}
	t.State = State{VelW: mat32.New(nv, nh), VelVis: make([]float32, nv), VelHid: make([]float32, nh), HidMean: make([]float32, nh)}
	for j := range t.State.HidMean {
		t.State.HidMean[j] = float32(cfg.SparsityTarget)
	}
	t.std = m.VisibleStd()
	t.wUp = m.W
	if m.LogVar != nil {
		t.wUp, t.gW = mat32.New(nv, nh), mat32.New(nv, nh)
		t.State.VelLogVar = make([]float32, nv)
	}
	return t, nil
}

func (t *Trainer) buffers(n int) *buffers {
	if b, ok := t.bufs[n]; ok {
		return b
	}
	nv, nh := t.Model.Visible(), t.Model.Hidden()
	b := &buffers{vstC: mat32.New(2*n+2, nv), hstC: mat32.New(2*n+2, nh), vp: mat32.New(n, nv), vs: mat32.New(n, nv),
		h0s: mat32.New(n, nh), hs: mat32.New(n, nh)}
	b.vst, b.hst = b.vstC.Slice(0, 2*n), b.hstC.Slice(0, 2*n)
	b.v0, b.vr = b.vst.Slice(0, n), b.vst.Slice(n, 2*n)
	b.h0p, b.hp = b.hst.Slice(0, n), b.hst.Slice(n, 2*n)
	t.bufs[n] = b
	return b
}

// CheckData reports whether data suits the model: its width and values
// its visible units can take (Bernoulli: [0, 1]; Gaussian: finite).
func CheckData(m *RBM, data *mat32.Dense) error {
	if data.Cols != m.Visible() {
		return fmt.Errorf("data has %d values per sample, the model has %d visible units", data.Cols, m.Visible())
	}
	for i, x := range data.Data {
		if why := m.VisUnits.checkValue(x); why != "" {
			return fmt.Errorf("value %g at sample %d, feature %d %s", x, i/data.Cols+1, i%data.Cols+1, why)
		}
	}
	return nil
}

// ErrDiverged is returned when training produces NaN or Inf.
var ErrDiverged = errors.New("training diverged")

// diverged returns the error of a run that diverged in the given epoch
// (1-based), saying why and with advice for the model's unit types.
func (t *Trainer) diverged(epoch int, why string) error {
	advice := "; lower the learning rate"
	switch {
	case t.Model.VisUnits == Gaussian && t.Config.persistent():
		advice = fmt.Sprintf("; Gaussian visible units with persistent chains need a learning rate of 0.01 or less (this run used %g) and standardised data", t.Config.LearningRate)
	case t.Model.VisUnits == Gaussian:
		advice = fmt.Sprintf("; Gaussian visible units need standardised data and a smaller learning rate (this run used %g)", t.Config.LearningRate)
	case t.Model.HidUnits != Bernoulli:
		advice = fmt.Sprintf("; %v hidden units need a learning rate of 0.01 or less (this run used %g)", t.Model.HidUnits, t.Config.LearningRate)
	}
	return fmt.Errorf("epoch %d: %w%s%s", epoch, ErrDiverged, why, advice)
}

// meanSquaredNorm returns the mean over the rows of data of sum_i v_i^2.
func meanSquaredNorm(data *mat32.Dense) float64 {
	s := 0.0
	for _, x := range data.Data {
		s += float64(x) * float64(x)
	}
	return s / float64(max(data.Rows, 1))
}

// Fit trains from the trainer's current epoch up to Config.Epochs over the
// rows of data, returning the statistics of the epochs it ran. It stops
// between minibatches when ctx is cancelled, returning ctx's error; the
// model then holds the updates made so far and State.Epoch the epochs
// finished.
func (t *Trainer) Fit(ctx context.Context, data *mat32.Dense, hooks Hooks) ([]EpochStats, error) {
	if err := CheckData(t.Model, data); err != nil {
		return nil, err
	}
	if data.Rows == 0 {
		return nil, errors.New("no training samples")
	}
	cfg := t.Config
	n := data.Rows
	bs := min(cfg.BatchSize, n)
	if cfg.Tempering > 1 {
		t.fitTempering(data, bs)
	} else if cfg.Persistent {
		t.fitChains(data, bs)
	}
	if cfg.Centered {
		t.startCentring(data)
	}
	t.chooseSparse(data)
	if t.averaged {
		t.swapAverage() // continue from the last parameters
	}
	run := &epochRun{t: t, data: data, hooks: hooks,
		// A reconstruction error this far above the data's own scale means
		// the weights have blown up even if nothing is NaN yet (Gaussian
		// units with clamped variances stay finite while they diverge).
		limit: 100 * (meanSquaredNorm(data) + float64(data.Cols))}
	run.gatherRows = run.gather
	err := fit.Run(ctx, fit.Config{Epochs: cfg.Epochs, BatchSize: bs, Seed: cfg.Seed, Batch: hooks.Batch}, n, t.State.Epoch, run)
	if err == nil && t.State.Average != nil && t.State.Epoch >= cfg.Epochs {
		t.swapAverage()
	}
	return run.stats, err
}

// epochRun is one call of Fit as the epoch driver sees it.
type epochRun struct {
	t       *Trainer
	data    *mat32.Dense
	hooks   Hooks
	limit   float64 // the reconstruction error that counts as divergence
	stats   []EpochStats
	lr, mom float64
	rng     *mat32.RNG
	// The minibatch being copied in, and gather bound to the run once
	// (for mat32.ParallelRows, without allocating each step).
	idx        []int
	v0         *mat32.Dense
	gatherRows func(r0, r1 int)
}

// gather copies rows r0 to r1-1 of the minibatch (r.idx) into r.v0.
func (r *epochRun) gather(r0, r1 int) {
	for row := r0; row < r1; row++ {
		copy(r.v0.Row(row), r.data.Row(r.idx[row]))
	}
}

// BeginEpoch sets the epoch's learning rate, momentum and random stream.
func (r *epochRun) BeginEpoch(epoch int) error {
	r.lr, r.mom = r.t.Config.rates(epoch)
	r.rng = mat32.NewRNG(r.t.Config.Seed, uint64(epoch)+1)
	r.t.wTNext = false
	return nil
}

// Step trains on the samples idx and returns their summed squared
// reconstruction error.
func (r *epochRun) Step(idx []int) (float64, error) {
	buf := r.t.buffers(len(idx))
	// Both workers copy: the rows come from all over the data, and two
	// cores keep twice as many reads from memory going.
	r.idx, r.v0 = idx, buf.v0
	mat32.ParallelRows(len(idx), r.data.Cols, r.gatherRows)
	if r.t.Config.SampleData {
		mat32.Bernoulli(buf.v0, buf.v0, r.rng)
	}
	loss := r.t.step(buf, float32(r.lr), float32(r.mom), r.rng)
	r.t.updateAverage()
	return loss, nil
}

// EndEpoch checks the model, counts the epoch and calls the epoch hook.
func (r *epochRun) EndEpoch(e fit.Epoch) error {
	t := r.t
	st := EpochStats{Epoch: e.Epoch + 1, ReconError: e.Loss, LearningRate: r.lr, Momentum: r.mom, Duration: e.Duration}
	if t.pt != nil {
		st.SwapRate = t.pt.rate()
	}
	if t.Model.Validate() != nil {
		return r.Diverged(e)
	}
	if st.ReconError > r.limit {
		return t.diverged(st.Epoch, fmt.Sprintf(" (reconstruction error %.3g, over 100 times the data's mean squared norm plus its width)", st.ReconError))
	}
	t.State.Epoch++
	r.stats = append(r.stats, st)
	if r.hooks.Epoch != nil {
		return r.hooks.Epoch(st)
	}
	return nil
}

// Diverged is the error of an epoch that produced NaN or Inf.
func (r *epochRun) Diverged(e fit.Epoch) error { return r.t.diverged(e.Epoch+1, " (NaN or Inf)") }

// MemoryBytes estimates the memory that training a model with nv visible
// and nh hidden units takes, besides the data: the weights, their velocity
// and their transpose (sparse products down), the minibatch buffers, and
// the sparse forms of the minibatch, the visible samples, the gradient's
// rows and the hidden samples (8 bytes by row and 8 by column for each
// entry they could hold).
func (c Config) MemoryBytes(nv, nh int) float64 {
	v, h, b := float64(nv), float64(nh), float64(c.BatchSize)
	return 4*(3*v*h+2*(v+h)+(5*b+2)*v+(4*b+2)*h) + 16*(4*b*v+b*h)
}

// fitChains makes sure there are bs persistent chains of the data's width.
// New chains (all of them at the start, or the extra ones when a resumed
// run uses a larger minibatch) start at a binary sample of the data; with a
// smaller minibatch the first bs chains continue.
func (t *Trainer) fitChains(data *mat32.Dense, bs int) {
	old := t.State.Chains
	if old != nil && old.Rows >= bs && old.Cols == data.Cols {
		t.State.Chains = old.Slice(0, bs)
		return
	}
	chains := mat32.New(bs, data.Cols)
	if t.Model.VisUnits == Bernoulli {
		mat32.Bernoulli(chains, data.Slice(0, bs), mat32.NewRNG(t.Config.Seed, 1<<40))
	} else {
		copy(chains.Data, data.Slice(0, bs).Data)
	}
	if old != nil && old.Cols == data.Cols {
		copy(chains.Data, old.Data)
	}
	t.State.Chains = chains
}

// step performs one update on the minibatch in buf.v0 and returns the sum
// over its samples of the squared reconstruction error.
func (t *Trainer) step(buf *buffers, lr, mom float32, rng *mat32.RNG) float64 {
	m, cfg, st := t.Model, t.Config, &t.State
	nb := buf.v0.Rows
	scale := lr / float32(nb)
	t.refreshVariances()
	t.startStep()

	// Positive phase: h0 ~ p(h|v0).
	if t.sparseData {
		t.sp.SetFrom(buf.v0)
		m.upSparse(&t.sp, buf.h0p, buf.h0s, rng)
	} else {
		m.up(t.wUp, buf.v0, buf.h0p, buf.h0s, rng)
	}

	// Velocities of the biases decay by the momentum; the gradient terms are
	// added to them below.
	for j := range st.VelVis {
		st.VelVis[j] *= mom
	}
	for j := range st.VelHid {
		st.VelHid[j] *= mom
	}

	// Reconstruction p(v|h0), compared with the data; for CD-1 it is the
	// negative step and the comparison the visible biases' gradient.
	var recon float64
	vneg := buf.vr
	if !cfg.persistent() && cfg.Steps == 1 && !t.sampleVisible() {
		recon = t.downDiff(buf.h0s, buf.vr, t.biasDiff(buf.v0, st.VelVis, t.gvis, scale, false))
		t.biasDone(st.VelVis, t.gvis, scale)
	} else {
		recon = t.downDiff(buf.h0s, buf.vr, mat32.Diff{Ref: buf.v0, ColSum: t.dvis})
		vneg = t.negative(buf, rng)
		t.biasGrad(buf.v0, vneg, st.VelVis, t.gvis, scale)
		copy(buf.vr.Data, vneg.Data) // the reconstruction is no longer needed
		vneg = buf.vr
	}
	// Negative hidden means from the final visible state, compared with
	// the positive ones (the hidden biases' gradient) and negated for the
	// stacked weight gradient.
	t.negSparse = t.sparseSamples() && (cfg.persistent() || t.sampleVisible())
	t.upDiff(vneg, buf.hp, t.biasDiff(buf.h0p, st.VelHid, t.ghid, scale, true))
	t.biasDone(st.VelHid, t.ghid, scale)

	if m.LogVar != nil {
		t.varianceStep(buf, lr, mom, scale)
	} else {
		t.weightStep(buf, lr, mom, scale)
	}
	for j, v := range st.VelVis {
		m.VisBias[j] += v
	}
	for j, v := range st.VelHid {
		m.HidBias[j] += v
	}
	if cfg.Centered {
		t.centre(buf)
	}
	return recon
}

// sampleVisible reports whether the negative statistics use sampled
// visible states.
func (t *Trainer) sampleVisible() bool { return t.Config.SampleVisible || t.Config.LearnSigma }

// negative runs the negative phase of CD-k with k > 1, PCD-k or sampled
// visible states, starting from buf.h0s (or the persistent chains), and
// returns the final visible states: means, or samples when they are used.
func (t *Trainer) negative(buf *buffers, rng *mat32.RNG) *mat32.Dense {
	m, cfg := t.Model, t.Config
	if cfg.Tempering > 1 {
		return t.temper(buf, rng)
	}
	vneg, hs := buf.vr, buf.h0s
	if cfg.Persistent {
		t.upSample(t.chainsOf(buf), buf.hp, buf.hs, rng)
		hs = buf.hs
	}
	for s := 1; s <= cfg.Steps; s++ {
		if s > 1 || cfg.Persistent {
			t.downMeans(hs, buf.vp)
			vneg = buf.vp
		}
		if s < cfg.Steps {
			m.VisUnits.sample(buf.vs, vneg, t.std, rng)
			t.upSample(buf.vs, buf.hp, buf.hs, rng)
			hs = buf.hs
		}
	}
	switch {
	case cfg.Persistent:
		chains := t.chainsOf(buf)
		m.VisUnits.sample(chains, vneg, t.std, rng)
		return chains
	case t.sampleVisible():
		m.VisUnits.sample(buf.vs, vneg, t.std, rng)
		return buf.vs
	}
	return vneg
}

// weightStep updates the weights with the gradient
// [v0; vneg]' [h0p; -hp] = v0'h0p - vneg'hp (centred when asked).
func (t *Trainer) weightStep(buf *buffers, lr, mom, scale float32) {
	m, cfg, st := t.Model, t.Config, &t.State
	decay := lr * float32(cfg.WeightDecay)
	vst, hst := buf.vst, buf.hst
	if cfg.Centered {
		// <(v-mu)(h-lam)'>_data - <...>_model = the plain gradient
		// - mu gh' - gv lam', with gv, gh the bias gradients: two more rows.
		n2 := 2 * buf.v0.Rows
		copy(buf.vstC.Row(n2), st.VisOffset)
		copy(buf.vstC.Row(n2+1), t.gvis)
		neg(buf.hstC.Row(n2), t.ghid)
		neg(buf.hstC.Row(n2+1), st.HidOffset)
		vst, hst = buf.vstC, buf.hstC
	}
	switch {
	case mom == 0 && decay == 0 && cfg.SparsityTarget == 0 && !cfg.Centered:
		// Plain CD: the gradient goes straight into the weights.
		t.gradient(scale, buf, vst, hst, 1, m.W, nil, 0, t.mirror())
	case cfg.SparsityTarget > 0:
		t.gradient(scale, buf, vst, hst, mom, st.VelW, nil, 0, nil)
		t.sparsity(buf, lr)
		mat32.MomentumStep(m.W.Data, st.VelW.Data, decay)
	default:
		t.gradient(scale, buf, vst, hst, mom, st.VelW, m.W, decay, t.mirror())
	}
}

// gradient sets vel = mom*vel + scale*vst'hst and then, when w is not nil,
// takes the momentum step of w with vel. With sparse data the rows of vst
// that hold the minibatch (t.sp) skip its zeros, and so do those of the
// negative states when they are binary samples; then wT, when not nil,
// receives the updated weights transposed.
func (t *Trainer) gradient(scale float32, buf *buffers, vst, hst *mat32.Dense, mom float32, vel, w *mat32.Dense, decay float32, wT *mat32.Dense) {
	if t.negSparse || t.sparseData {
		t.sparseGradient(scale, buf, vst, hst, mom, vel, w, decay, wT)
		if wT != nil {
			t.mirrored()
		}
		return
	}
	if w == nil {
		mat32.Gemm(true, false, scale, vst, hst, mom, vel)
		return
	}
	mat32.GradientStep(scale, vst, hst, mom, vel, w, decay)
}

// sparseGradient is gradient with sparse data.
func (t *Trainer) sparseGradient(scale float32, buf *buffers, vst, hst *mat32.Dense, mom float32, vel, w *mat32.Dense, decay float32, wT *mat32.Dense) {
	if t.negSparse {
		n2 := 2 * buf.v0.Rows
		t.spAll.SetFrom(vst.Slice(0, n2))
		var a, b *mat32.Dense
		if vst.Rows > n2 {
			a, b = vst.Slice(n2, vst.Rows), hst.Slice(n2, hst.Rows)
		}
		mat32.GradientStepSparseT(scale, &t.spAll, hst.Slice(0, n2), a, b, mom, vel, w, decay, wT)
		return
	}
	nb := buf.v0.Rows
	a, b := vst.Slice(nb, vst.Rows), hst.Slice(nb, hst.Rows)
	mat32.GradientStepSparseT(scale, &t.sp, buf.h0p, a, b, mom, vel, w, decay, wT)
}

// refreshVariances recomputes the standard deviations and the
// upward weights diag(1/sigma^2) W of a model with variances.
func (t *Trainer) refreshVariances() {
	m := t.Model
	if m.LogVar == nil {
		return
	}
	for i, lv := range m.LogVar {
		t.std[i] = float32(math.Exp(0.5 * float64(lv)))
	}
	scaleRows(t.wUp, m.W, m.LogVar)
}

// Bounds of log sigma^2 while learning: sigma stays within [0.01, 100]
// (on standardised data the variance of a unit given the hidden states
// lies far inside), so the density cannot collapse onto a training point.
const minLogVar, maxLogVar = -9.2103, 9.2103

// varianceStep updates the weights, and with LearnSigma the log variances,
// of Gaussian visible units with variances. With z_i = log sigma_i^2 and
// G = v0'h0p - vneg'hp the raw statistics, the likelihood gradient is
// dW_ij = G_ij / sigma_i^2, db_i = (v0_i - vneg_i) / sigma_i^2 and
// dz_i = (sum_b (v0_bi-b_i)^2/2 - (vneg_bi-b_i)^2/2 - sum_j W_ij G_ij) /
// sigma_i^2, per sample. Every parameter of visible unit i moves by its
// gradient times sigma_i^2: a positive diagonal preconditioner, so the
// fixed points are those of the likelihood, but the steps stay bounded
// when a variance shrinks (with the plain gradient a unit whose sigma
// falls to 0.01 takes steps 10,000 times larger and training blows up).
// Units that are constant in the training data (VisStd 0) keep sigma
// fixed, so their density cannot collapse onto one value.
func (t *Trainer) varianceStep(buf *buffers, lr, mom, scale float32) {
	m, cfg, st := t.Model, t.Config, &t.State
	nb := buf.v0.Rows
	mat32.Gemm(true, false, 1, buf.vst, buf.hst, 0, t.gW)
	if cfg.LearnSigma {
		rate := cfg.SigmaRate
		if rate == 0 {
			rate = 0.1
		}
		zScale := float64(lr) * rate / float64(nb)
		vneg := buf.vst.Slice(nb, 2*nb)
		for i := range m.LogVar {
			sq := 0.0
			for r := 0; r < nb; r++ {
				d0 := float64(buf.v0.At(r, i)) - float64(m.VisBias[i])
				dn := float64(vneg.At(r, i)) - float64(m.VisBias[i])
				sq += 0.5 * (d0*d0 - dn*dn)
			}
			dot := 0.0
			for j, g := range t.gW.Row(i) {
				dot += float64(m.W.At(i, j)) * float64(g)
			}
			if m.VisStd != nil && m.VisStd[i] == 0 {
				continue
			}
			st.VelLogVar[i] = mom*st.VelLogVar[i] + float32(zScale*(sq-dot))
		}
	}
	for i := range m.LogVar {
		vel, g := st.VelW.Row(i), t.gW.Row(i)
		for j := range vel {
			vel[j] = mom*vel[j] + scale*g[j]
		}
	}
	mat32.MomentumStep(m.W.Data, st.VelW.Data, lr*float32(cfg.WeightDecay))
	if cfg.LearnSigma {
		for i, v := range st.VelLogVar {
			m.LogVar[i] = min(max(m.LogVar[i]+v, minLogVar), maxLogVar)
		}
	}
}

// biasGrad adds scale times the column sums of a - b to vel and returns the
// sum of squares of a - b; when centring it also keeps the raw sums in raw.
func (t *Trainer) biasGrad(a, b *mat32.Dense, vel, raw []float32, scale float32) float64 {
	d := t.biasDiff(a, vel, raw, scale, false)
	sq := mat32.DiffStats(a, b, d.ColSum, d.Alpha)
	t.biasDone(vel, raw, scale)
	return sq
}

// biasDiff is the comparison with ref that makes biasGrad's column sums:
// into vel, or when centring into raw (cleared here), which biasDone then
// adds to vel.
func (t *Trainer) biasDiff(ref *mat32.Dense, vel, raw []float32, scale float32, negate bool) mat32.Diff {
	if !t.Config.Centered {
		return mat32.Diff{Ref: ref, ColSum: vel, Alpha: scale, Negate: negate}
	}
	clear(raw)
	return mat32.Diff{Ref: ref, ColSum: raw, Alpha: 1, Negate: negate}
}

// biasDone finishes the gradient that biasDiff started.
func (t *Trainer) biasDone(vel, raw []float32, scale float32) {
	if t.Config.Centered {
		for j, g := range raw {
			vel[j] += scale * g
		}
	}
}

// upDiff sets hp to the hidden means given the visible states v (sparse
// products when negSparse) and then makes the comparison d.
func (t *Trainer) upDiff(v, hp *mat32.Dense, d mat32.Diff) {
	m := t.Model
	switch {
	case m.HidUnits != Bernoulli:
		if t.negSparse {
			t.upSample(v, hp, nil, nil)
		} else {
			m.up(t.wUp, v, hp, nil, nil)
		}
		unfusedDiff(hp, d)
	case t.negSparse:
		t.spNeg.SetFrom(v)
		mat32.MulSigmoidSparseDiff(&t.spNeg, m.W, m.HidBias, hp, d)
	default:
		mat32.MulSigmoidDiff(v, t.wUp, false, m.HidBias, hp, d)
	}
}

func neg(dst, src []float32) {
	for i, x := range src {
		dst[i] = -x
	}
}

// startCentring sets up centred training: offsets (the data's mean and 1/2
// for the hidden units unless resumed) and scratch.
func (t *Trainer) startCentring(data *mat32.Dense) {
	st := &t.State
	nv, nh := t.Model.Visible(), t.Model.Hidden()
	if st.VisOffset == nil {
		st.VisOffset = make([]float32, nv)
		mat32.ColumnSums(st.VisOffset, 1/float32(data.Rows), data)
		st.HidOffset = make([]float32, nh)
		for j := range st.HidOffset {
			st.HidOffset[j] = 0.5
		}
	}
	t.gvis, t.ghid = make([]float32, nv), make([]float32, nh)
	t.muCol, t.lamCol = mat32.FromSlice(nv, 1, st.VisOffset), mat32.FromSlice(nh, 1, st.HidOffset)
	t.stepLam, t.stepMu = mat32.New(nv, 1), mat32.New(nh, 1)
}

// centre finishes a centred step. The velocities of the biases are those of
// the centred biases b - ... (b_c = b + W lam, c_c = c + W' mu), so the
// ordinary biases also move by -dW lam and -dW' mu, dW the weight step (the
// weight velocity). Then the offsets move towards this minibatch's means.
func (t *Trainer) centre(buf *buffers) {
	m, st := t.Model, &t.State
	mat32.Gemm(false, false, 1, st.VelW, t.lamCol, 0, t.stepLam)
	mat32.Gemm(true, false, 1, st.VelW, t.muCol, 0, t.stepMu)
	for i, x := range t.stepLam.Data {
		m.VisBias[i] -= x
	}
	for j, x := range t.stepMu.Data {
		m.HidBias[j] -= x
	}
	nu := float32(t.Config.OffsetRate)
	if nu == 0 {
		return
	}
	nb := float32(buf.v0.Rows)
	for i := range st.VisOffset {
		st.VisOffset[i] *= 1 - nu
	}
	for j := range st.HidOffset {
		st.HidOffset[j] *= 1 - nu
	}
	mat32.ColumnSums(st.VisOffset, nu/nb, buf.v0)
	mat32.ColumnSums(st.HidOffset, nu/nb, buf.h0p)
}

// sparsity adds the gradient of the sparsity penalty to the velocities: the
// running mean q_j of each hidden unit's activation is pushed towards the
// target through its bias and, in proportion to the mean input, its weights.
func (t *Trainer) sparsity(buf *buffers, lr float32) {
	st, cfg := &t.State, t.Config
	nb := float32(buf.v0.Rows)
	meanH := t.dhid
	clear(meanH)
	mat32.ColumnSums(meanH, 1/nb, buf.h0p)
	clear(t.dvis)
	mat32.ColumnSums(t.dvis, 1/nb, buf.v0)
	for j := range st.HidMean {
		st.HidMean[j] = 0.9*st.HidMean[j] + 0.1*meanH[j]
		meanH[j] = lr * float32(cfg.SparsityCost) * (st.HidMean[j] - float32(cfg.SparsityTarget))
		st.VelHid[j] -= meanH[j]
	}
	for i, vi := range t.dvis {
		row := st.VelW.Row(i)
		for j, g := range meanH {
			row[j] -= vi * g
		}
	}
}

// Fit trains m on data with cfg and returns the per-epoch statistics; see
// Trainer.Fit.
func (m *RBM) Fit(ctx context.Context, data *mat32.Dense, cfg Config, hooks Hooks) ([]EpochStats, error) {
	t, err := NewTrainer(m, cfg)
	if err != nil {
		return nil, err
	}
	return t.Fit(ctx, data, hooks)
}
