package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/harmonium-ml/harmonium/dataset"
	"github.com/harmonium-ml/harmonium/internal/memguard"
	"github.com/harmonium-ml/harmonium/viz"

	"github.com/harmonium-ml/harmonium/mat32"
	"github.com/harmonium-ml/harmonium/modelfile"
	"github.com/harmonium-ml/harmonium/rbm"
)

func runTrain(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "train", "train an RBM by contrastive divergence (CD-k) or persistent CD (PCD-k) and save it as a safetensors file. Visible units are Bernoulli (values in [0, 1]) or Gaussian (real values; with --standardize the data are standardised and the model keeps the mapping); hidden units Bernoulli or ReLU. Settings left unset take the recipe of the unit types (Gaussian, sigma learned: CD-20, --lr 0.05 decayed to a tenth, about 10,000 updates; sigma fixed at 1: PCD-5, --lr 0.01 decayed, about 40,000 updates; under ReLU hidden units sigma fixed and CD-1 at --lr 0.001; rates of Gaussian units scaled by sqrt(1240/(visible*hidden)) for models over 62x20; all save the moving average of the parameters, see --average).",
		"harmonium train --data mnist --hidden 500 --epochs 10 --out mnist.safetensors\n  harmonium train --data features.csv --visible gaussian --standardize --hidden 20 --out g.safetensors")
	var f rbmTrainFlags
	f.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := f.check(fs)
	if err != nil {
		return err
	}
	if err := checkOutputs(f.out, f.checkpoint, f.curve, f.report); err != nil {
		return err
	}
	r, err := f.load(ctx, e, cfg)
	if err != nil {
		return err
	}
	if err := r.initModel(); err != nil {
		return err
	}
	r.announce()
	elapsed, err := r.fit(ctx)
	if err != nil {
		return err
	}
	return r.finish(elapsed)
}

// rbmTrainFlags are the settings of train.
type rbmTrainFlags struct {
	data dataFlags

	hidden, epochs, batch, cd, pcd, pt, warmup   int
	lr, lrDecay, momentum, initMom, wd           float64
	sparsity, sparsityCost, offsetRate           float64
	sigmaRate, average, validate                 float64
	sampleVis, centered, sampleData              bool
	learnSigma, standardize, resume, quiet, json bool
	visible, hiddenUnits, imageShape             string
	out, checkpoint, curve, report, monitor      string
	seed                                         uint64

	vu, hu rbm.Units       // the unit types, once checked
	given  map[string]bool // the flags set on the command line
}

// register defines the flags of train.
func (f *rbmTrainFlags) register(fs *flag.FlagSet) {
	f.data.register(fs, "train")
	def := rbm.DefaultConfig()
	fs.IntVar(&f.hidden, "hidden", 500, "number of hidden units")
	fs.IntVar(&f.epochs, "epochs", def.Epochs, "passes over the training data")
	fs.IntVar(&f.batch, "batch", def.BatchSize, "minibatch size")
	fs.Float64Var(&f.lr, "lr", def.LearningRate, "learning rate")
	fs.Float64Var(&f.lrDecay, "lr-decay", 0, "divide the learning rate by 1 + DECAY*epoch each epoch")
	fs.IntVar(&f.cd, "cd", 1, "k for CD-k: Gibbs steps in the negative phase")
	fs.IntVar(&f.pcd, "pcd", 0, "k for persistent CD (PCD-k); replaces --cd")
	fs.IntVar(&f.pt, "pt", 0, "parallel tempering with this many temperatures (1, 1-1/K, ..., 1/K) per chain, --cd sweeps per update with swaps between neighbours; replaces --pcd")
	fs.Float64Var(&f.momentum, "momentum", def.Momentum, "momentum (from epoch --momentum-warmup on; 0 turns it off)")
	fs.Float64Var(&f.initMom, "initial-momentum", def.InitialMomentum, "momentum during the warm-up epochs (capped at --momentum)")
	fs.IntVar(&f.warmup, "momentum-warmup", def.MomentumWarmup, "epochs at --initial-momentum")
	fs.Float64Var(&f.wd, "weight-decay", def.WeightDecay, "L2 weight decay (0 turns it off)")
	fs.Float64Var(&f.sparsity, "sparsity", 0, "target mean activation of the hidden units (0: off)")
	fs.Float64Var(&f.sparsityCost, "sparsity-cost", 0.1, "strength of the sparsity penalty")
	fs.BoolVar(&f.sampleVis, "sample-visible", false, "use sampled rather than mean visible states in the negative statistics")
	fs.BoolVar(&f.centered, "centered", false, "train a centred RBM (gradients taken around running means of the units): better likelihoods, same model")
	fs.Float64Var(&f.offsetRate, "offset-rate", def.OffsetRate, "with --centered: how fast the offsets follow the minibatch means (0 keeps them at the data's mean and 1/2)")
	fs.BoolVar(&f.sampleData, "sample-data", false, "train on a fresh binary sample of every minibatch, each value the probability of a 1 (dynamic binarisation; best for likelihood)")
	fs.StringVar(&f.visible, "visible", "bernoulli", "visible units: bernoulli (values in [0, 1]) or gaussian (real values)")
	fs.StringVar(&f.hiddenUnits, "hidden-units", "bernoulli", "hidden units: bernoulli, relu (noisy rectified linear units) or gaussian (linear units with unit-variance noise; with Bernoulli visible units)")
	fs.BoolVar(&f.learnSigma, "learn-sigma", true, "Gaussian visible units: learn each unit's standard deviation (--learn-sigma=false fixes it at 1; then standardise the data; off by default under ReLU hidden units)")
	fs.Float64Var(&f.sigmaRate, "sigma-rate", 0.1, "with --learn-sigma: the standard deviations' learning rate as a fraction of --lr")
	fs.BoolVar(&f.standardize, "standardize", false, "standardise each feature to mean 0 and standard deviation 1 on the training data; the model keeps the mapping and every command applies it (constant features are only centred)")
	fs.Float64Var(&f.average, "average", 0, "save the moving average of the parameters over the updates, with this decay per update (e.g. 0.999: about the last 1,000 updates); 0 saves the last parameters (default for Gaussian visible units: 1 - 40/updates, the last fortieth of the run)")
	fs.Uint64Var(&f.seed, "seed", 1, "random seed: the same seed gives the same model")
	fs.StringVar(&f.out, "out", "model.safetensors", "where to save the model")
	fs.StringVar(&f.checkpoint, "checkpoint", "", "save the model and training state here after every epoch")
	fs.BoolVar(&f.resume, "resume", false, "continue from --checkpoint up to --epochs")
	fs.Float64Var(&f.validate, "validate", 0, "hold out this fraction of the data (chosen by --seed) and report its reconstruction error and free energy each epoch")
	fs.StringVar(&f.curve, "curve", "", "write the per-epoch reconstruction error and free energy as a plot (.png or .svg)")
	fs.StringVar(&f.report, "report", "", "write a one-page HTML report: settings, curves, filters, reconstructions, samples, results")
	fs.StringVar(&f.monitor, "monitor", "", "also log each epoch: pll (pseudo-log-likelihood per feature on up to 1,000 training samples) or free-energy-gap (mean free energy of the validation set minus the training set's; needs --validate)")
	fs.StringVar(&f.imageShape, "image-shape", "", "image height x width for pictures and the model file, e.g. 28x28 (default: from the MNIST files, or a square)")
	fs.BoolVar(&f.quiet, "quiet", false, "print nothing but errors (and --json)")
	fs.BoolVar(&f.json, "json", false, "print the result as one JSON object on stdout")
}

// check validates the flags, which need no data, and returns the training
// settings they give before the unit types' recipe fills in the rest.
func (f *rbmTrainFlags) check(fs *flag.FlagSet) (rbm.Config, error) {
	if err := f.checkUnits(fs); err != nil {
		return rbm.Config{}, err
	}
	if err := f.checkRun(); err != nil {
		return rbm.Config{}, err
	}
	return f.config()
}

// checkUnits parses and checks the unit types and the flags that depend
// only on them, and records which flags were given.
func (f *rbmTrainFlags) checkUnits(fs *flag.FlagSet) error {
	var err error
	f.vu, err = rbm.ParseUnits(f.visible)
	if err != nil || f.vu == rbm.ReLU {
		return usageError{fmt.Errorf("--visible must be bernoulli or gaussian, got %q", f.visible)}
	}
	f.hu, err = rbm.ParseUnits(f.hiddenUnits)
	if err != nil {
		return usageError{fmt.Errorf("--hidden-units must be bernoulli, relu or gaussian, got %q", f.hiddenUnits)}
	}
	if f.hu == rbm.Gaussian && f.vu == rbm.Gaussian {
		return usageError{errors.New("--hidden-units gaussian needs --visible bernoulli (Gaussian units in both layers have no proper distribution)")}
	}
	if f.standardize && f.vu != rbm.Gaussian {
		return usageError{errors.New("--standardize needs --visible gaussian (Bernoulli units need values in [0, 1])")}
	}
	f.given = given(fs)
	if f.vu == rbm.Gaussian && f.hu == rbm.ReLU && !f.given["learn-sigma"] {
		f.learnSigma = false // the recipe (rbm.DefaultFixedSigmaConfig): learned deviations under ReLU units diverge
	}
	if f.vu != rbm.Gaussian {
		if f.given["learn-sigma"] && f.learnSigma {
			return usageError{errors.New("--learn-sigma needs --visible gaussian (Bernoulli units have no standard deviation)")}
		}
		f.learnSigma = false
	}
	return nil
}

// checkRun checks the sizes, the checkpoint, validation and monitoring
// flags and the names of the files to write.
func (f *rbmTrainFlags) checkRun() error {
	if err := positive(map[string]int{"hidden": f.hidden, "epochs": f.epochs, "batch": f.batch, "cd": f.cd}); err != nil {
		return err
	}
	if f.pcd < 0 {
		return usageError{fmt.Errorf("--pcd must not be negative (0 turns persistent CD off), got %d", f.pcd)}
	}
	if f.resume && f.checkpoint == "" {
		return usageError{errors.New("--resume needs --checkpoint")}
	}
	if !(f.validate >= 0 && f.validate < 1) {
		return usageError{fmt.Errorf("--validate must be a fraction in [0, 1), got %g", f.validate)}
	}
	if f.monitor != "" && f.monitor != "pll" && f.monitor != "free-energy-gap" {
		return usageError{fmt.Errorf("--monitor must be pll or free-energy-gap, got %q", f.monitor)}
	}
	if f.monitor == "free-energy-gap" && f.validate == 0 {
		return usageError{errors.New("--monitor free-energy-gap needs --validate FRACTION")}
	}
	if ext := strings.ToLower(filepath.Ext(f.curve)); f.curve != "" && ext != ".png" && ext != ".svg" {
		return usageError{fmt.Errorf("--curve must name a .png or .svg file, got %q", f.curve)}
	}
	if ext := strings.ToLower(filepath.Ext(f.report)); f.report != "" && ext != ".html" && ext != ".htm" {
		return usageError{fmt.Errorf("--report must name an .html file, got %q", f.report)}
	}
	return nil
}

// config returns the training settings the flags give and checks the
// combinations of them that the trainer does not support.
func (f *rbmTrainFlags) config() (rbm.Config, error) {
	cfg := rbm.Config{Epochs: f.epochs, BatchSize: f.batch, LearningRate: f.lr, LRDecay: f.lrDecay, Steps: f.cd,
		Momentum: f.momentum, InitialMomentum: f.initMom, MomentumWarmup: f.warmup, WeightDecay: f.wd,
		SparsityTarget: f.sparsity, SparsityCost: f.sparsityCost, SampleVisible: f.sampleVis, SampleData: f.sampleData, Centered: f.centered, OffsetRate: f.offsetRate, Seed: f.seed,
		LearnSigma: f.learnSigma, SigmaRate: f.sigmaRate, Average: f.average}
	if f.pcd > 0 {
		cfg.Steps, cfg.Persistent = f.pcd, true
	}
	if f.pt == 1 || f.pt < 0 {
		return cfg, usageError{fmt.Errorf("--pt needs at least 2 temperatures (0 turns it off), got %d", f.pt)}
	}
	if f.pt > 0 && f.pcd > 0 {
		return cfg, usageError{errors.New("--pt and --pcd are two negative phases: choose one")}
	}
	cfg.Tempering = f.pt
	if f.sparsity == 0 {
		cfg.SparsityCost = 0
	}
	if err := cfg.Validate(); err != nil {
		return cfg, usageError{err}
	}
	if f.sampleData && f.vu != rbm.Bernoulli {
		return cfg, usageError{errors.New("--sample-data draws binary data: it needs --visible bernoulli")}
	}
	if f.centered && f.learnSigma {
		return cfg, usageError{errors.New("--centered with --learn-sigma is not supported (train with one of them)")}
	}
	if f.monitor == "pll" && (f.vu != rbm.Bernoulli || f.hu != rbm.Bernoulli) {
		return cfg, usageError{errors.New("--monitor pll needs Bernoulli units in both layers (the pseudo-likelihood is defined for binary units); use --monitor free-energy-gap")}
	}
	if f.sparsity > 0 && f.hu != rbm.Bernoulli {
		return cfg, usageError{errors.New("--sparsity needs --hidden-units bernoulli")}
	}
	return cfg, nil
}

// rbmTrainRun is one run of train: its settings, data, model and history.
type rbmTrainRun struct {
	f   *rbmTrainFlags
	e   *env
	cfg rbm.Config

	set, train, valid *dataset.Set // all the data and its two parts (valid is nil without --validate)
	scaler            *rbm.Scaler  // with --standardize: the new model's
	shape             viz.Shape    // the samples as images, if shapeErr is nil
	zoom              int
	shapeErr          error

	model   *rbm.RBM
	trainer *rbm.Trainer
	method  string
	meta    map[string]string
	history []epochRecord

	// what the epochs are measured on
	feSubset, pllData *mat32.Dense
	track             bool
}

// say prints to stderr unless --quiet.
func (r *rbmTrainRun) say(format string, a ...any) {
	if !r.f.quiet {
		fmt.Fprintf(r.e.stderr, format, a...)
	}
}

// load reads and prepares the training data, gives cfg the unit types'
// recipe for the settings left unset and holds out the validation part.
func (f *rbmTrainFlags) load(ctx context.Context, e *env, cfg rbm.Config) (*rbmTrainRun, error) {
	set, err := f.data.loadAny(ctx, e)
	if err != nil {
		return nil, err
	}
	scaler, err := prepareTraining(e, set, f.vu, f.standardize, f.resume, f.quiet)
	if err != nil {
		return nil, err
	}
	samples := int(float64(set.X.Rows) * (1 - f.validate))
	def := rbm.DefaultConfigFor(f.vu, f.hu, set.X.Cols, f.hidden, samples)
	if f.vu == rbm.Gaussian && !f.learnSigma {
		def = rbm.DefaultFixedSigmaConfig(f.hu, set.X.Cols, f.hidden, samples)
	}
	applyUnitDefaults(&cfg, def, f.given, f.vu, samples)
	r := &rbmTrainRun{f: f, e: e, cfg: cfg, set: set, scaler: scaler}
	pics := pictureFlags{shape: f.imageShape}
	r.shape, r.zoom, r.shapeErr = pics.resolve(set.X.Cols, set, nil)
	if f.imageShape != "" && r.shapeErr != nil {
		return nil, r.shapeErr
	}
	if f.report != "" && r.shapeErr != nil {
		return nil, fmt.Errorf("--report draws images: %w", r.shapeErr)
	}
	r.train = set
	if f.validate > 0 {
		r.train, r.valid = set.Split(f.validate, f.seed)
		if r.valid.X.Rows == 0 || r.train.X.Rows == 0 {
			return nil, usageError{fmt.Errorf("--validate %g of %d samples leaves an empty part", f.validate, set.X.Rows)}
		}
	}
	return r, nil
}

// initModel makes the model and its trainer: with --resume from the
// checkpoint, otherwise a new model initialised on the training data.
func (r *rbmTrainRun) initModel() error {
	f := r.f
	var state *rbm.State
	if f.resume {
		var err error
		if state, err = r.resumeModel(); err != nil {
			return err
		}
	} else {
		what := fmt.Sprintf("training a %d-%d RBM with minibatches of %d", r.set.X.Cols, f.hidden, r.cfg.BatchSize)
		if err := memguard.Check(what, r.cfg.MemoryBytes(r.set.X.Cols, f.hidden)); err != nil {
			return err
		}
		r.model = rbm.NewInitUnits(r.set.X.Cols, f.hidden, f.vu, f.hu, f.learnSigma, r.train.X, f.seed)
		r.model.Scaler = r.scaler
	}
	trainer, err := rbm.NewTrainer(r.model, r.cfg)
	if err != nil {
		return err
	}
	if state != nil {
		trainer.State = *state
	}
	r.trainer = trainer
	return nil
}

// resumeModel loads the model, history and training state of the
// checkpoint, checking that they fit this run.
func (r *rbmTrainRun) resumeModel() (*rbm.State, error) {
	f, set := r.f, r.set
	model, meta, state, err := modelfile.LoadRBM(f.checkpoint)
	if err != nil {
		return nil, err
	}
	if state == nil {
		return nil, fmt.Errorf("%s is a model without training state, not a checkpoint", f.checkpoint)
	}
	if model.Hidden() != f.hidden || model.Visible() != set.X.Cols {
		return nil, fmt.Errorf("%s holds a %dx%d model; this run asks for %dx%d", f.checkpoint, model.Visible(), model.Hidden(), set.X.Cols, f.hidden)
	}
	if model.VisUnits != f.vu || model.HidUnits != f.hu {
		return nil, fmt.Errorf("%s holds a model with %v visible and %v hidden units; this run asks for %v and %v", f.checkpoint, model.VisUnits, model.HidUnits, f.vu, f.hu)
	}
	if err := forModel(model, f.checkpoint, set); err != nil {
		return nil, err
	}
	r.model = model
	r.history = historyFromMeta(meta)
	if meta["seed"] != strconv.FormatUint(f.seed, 10) {
		r.say("note: the checkpoint was trained with --seed %s, continuing with --seed %d\n", meta["seed"], f.seed)
	}
	r.say("resuming %s after epoch %d\n", f.checkpoint, state.Epoch)
	return state, nil
}

// announce starts the model file's metadata and reports the data, the
// model and the training settings.
func (r *rbmTrainRun) announce() {
	r.meta = modelfile.ConfigMeta(r.cfg)
	r.meta["data"] = r.set.Source
	if r.shapeErr == nil {
		r.meta["image_shape"] = r.shape.String()
	}
	r.method = r.cfg.Method()
	r.say("data: %s, %s\n", r.set.Source, r.set.Shape())
	if r.valid != nil {
		r.say("validation: %d samples held out, training on %d\n", r.valid.X.Rows, r.train.X.Rows)
	}
	r.say("model: %d %s visible x %d %s hidden, %s, batch %d, lr %g, momentum %g, weight decay %g; products: %s; kernels: %s\n",
		r.set.X.Cols, r.f.vu, r.f.hidden, r.f.hu, r.method, r.cfg.BatchSize, r.cfg.LearningRate, r.cfg.Momentum, r.cfg.WeightDecay, mat32.Backend(), mat32.KernelPath())
	if note := mat32.BackendNote(); note != "" {
		r.say("note: %s\n", note)
	}
}

// fit trains the model, showing progress and ending every epoch with
// endEpoch, and returns the time it took.
func (r *rbmTrainRun) fit(ctx context.Context) (time.Duration, error) {
	start, firstEpoch := time.Now(), r.trainer.State.Epoch
	b := newBar(r.e, "training", r.f.quiet)
	r.prepareMonitor()
	hooks := rbm.Hooks{
		Batch: func(epoch, done, total int) {
			// Progress and ETA count only the epochs this run trains.
			b.update((epoch-1-firstEpoch)*total+done, (r.cfg.Epochs-firstEpoch)*total, fmt.Sprintf("epoch %d/%d", epoch, r.cfg.Epochs))
		},
		Epoch: func(s rbm.EpochStats) error {
			b.done()
			return r.endEpoch(s)
		},
	}
	_, err := r.trainer.Fit(ctx, r.train.X, hooks)
	b.done()
	if err != nil {
		return 0, r.fitError(err)
	}
	return time.Since(start), nil
}

// prepareMonitor chooses the data the per-epoch measurements are taken on.
func (r *rbmTrainRun) prepareMonitor() {
	// Free energy is tracked on a fixed subset of the training data, the
	// same size as the validation set (at most 5,000), so the two compare.
	r.feSubset = r.train.X.Slice(0, min(r.train.X.Rows, 5000))
	if r.valid != nil {
		r.feSubset = r.train.X.Slice(0, min(r.train.X.Rows, r.valid.X.Rows, 5000))
	}
	r.track = r.f.curve != "" || r.f.report != "" || r.valid != nil || r.f.monitor != ""
	if r.f.monitor == "pll" {
		r.pllData, _ = binaryData(r.train.Head(1000), r.f.seed)
	}
}

// endEpoch logs a finished epoch, adds it to the history and saves the
// checkpoint.
func (r *rbmTrainRun) endEpoch(s rbm.EpochStats) error {
	rec, line, err := r.measureEpoch(s)
	if err != nil {
		return err
	}
	r.say("%s  %6.2f s\n", line, s.Duration.Seconds())
	r.history = append(r.history, rec)
	r.meta["history"] = historyMeta(r.history)
	if r.f.checkpoint != "" {
		return modelfile.SaveRBM(r.f.checkpoint, r.model, r.meta, &r.trainer.State)
	}
	return nil
}

// measureEpoch returns the record of a finished epoch and its log line
// (without the time).
func (r *rbmTrainRun) measureEpoch(s rbm.EpochStats) (epochRecord, string, error) {
	rec := epochRecord{Epoch: s.Epoch, ReconError: s.ReconError, Seconds: s.Duration.Seconds(), SwapRate: s.SwapRate}
	line := fmt.Sprintf("epoch %*d/%d  recon error %8.4f", len(strconv.Itoa(r.cfg.Epochs)), s.Epoch, r.cfg.Epochs, s.ReconError)
	if r.cfg.Tempering > 1 {
		line += fmt.Sprintf("  swaps %3.0f%%", 100*s.SwapRate)
	}
	if r.track {
		rec.FreeEnergy = r.model.MeanFreeEnergy(r.feSubset)
		line += fmt.Sprintf("  free energy %9.3f", rec.FreeEnergy)
	}
	if r.valid != nil {
		rec.ValidReconError = r.model.ReconstructionError(r.valid.X, r.f.seed)
		rec.ValidFreeEnergy = r.model.MeanFreeEnergy(r.valid.X)
		line += fmt.Sprintf("  validation: recon %8.4f, free energy %9.3f", rec.ValidReconError, rec.ValidFreeEnergy)
	}
	switch r.f.monitor {
	case "pll":
		p, err := r.model.PseudoLogLikelihood(r.pllData, r.f.seed)
		if err != nil {
			return rec, "", err
		}
		rec.PLL = p.Exact
		line += fmt.Sprintf("  PLL %.5f", rec.PLL)
	case "free-energy-gap":
		rec.FreeEnergyGap = rec.ValidFreeEnergy - rec.FreeEnergy
		line += fmt.Sprintf("  free-energy gap %.3f", rec.FreeEnergyGap)
	}
	return rec, line, nil
}

// fitError returns the error that stopped training; for an interruption,
// one that says what was kept.
func (r *rbmTrainRun) fitError(err error) error {
	if !errors.Is(err, context.Canceled) {
		return err
	}
	switch {
	case r.f.checkpoint != "" && r.trainer.State.Epoch > 0:
		return fmt.Errorf("%w after %d finished epochs; %s holds them (continue with --resume)", errInterrupted, r.trainer.State.Epoch, r.f.checkpoint)
	case r.f.checkpoint != "":
		return fmt.Errorf("%w before the first epoch ended: nothing written", errInterrupted)
	}
	return fmt.Errorf("%w: nothing written (use --checkpoint to keep finished epochs)", errInterrupted)
}

// finish saves the trained model, writes the curve and report asked for
// and reports the result.
func (r *rbmTrainRun) finish(elapsed time.Duration) error {
	f := r.f
	r.meta["train_seconds"] = strconv.FormatFloat(elapsed.Seconds(), 'f', 2, 64)
	r.meta["epochs_trained"] = strconv.Itoa(r.trainer.State.Epoch)
	if err := modelfile.SaveRBM(f.out, r.model, r.meta, nil); err != nil {
		return err
	}
	var final epochRecord
	if len(r.history) > 0 {
		final = r.history[len(r.history)-1]
	}
	r.say("saved %s (%dx%d) after %s; final training recon error %.4f\n", f.out, r.model.Visible(), r.model.Hidden(), fmtDuration(elapsed), final.ReconError)
	if f.curve != "" {
		if err := viz.WriteCurves(f.curve, curvePanels(r.history)); err != nil {
			return err
		}
		r.say("wrote %s\n", f.curve)
	}
	if f.report != "" {
		if err := r.writeReport(elapsed); err != nil {
			return err
		}
	}
	if f.json {
		return r.writeJSON(final, elapsed)
	}
	return nil
}

// writeReport writes the HTML report, drawn on the validation data if
// there is some.
func (r *rbmTrainRun) writeReport(elapsed time.Duration) error {
	show := r.set
	if r.valid != nil {
		show = r.valid
	}
	rep := buildReport(r.model, show, r.history, r.cfg, r.method, r.set, r.valid, elapsed, r.shape, r.zoom, r.f.seed)
	if err := viz.WriteReport(r.f.report, rep); err != nil {
		return err
	}
	r.say("wrote %s: open it in a browser\n", r.f.report)
	return nil
}

// writeJSON prints the result of training as one JSON object on stdout.
func (r *rbmTrainRun) writeJSON(final epochRecord, elapsed time.Duration) error {
	res := map[string]any{
		"model": r.f.out, "visible": r.model.Visible(), "hidden": r.model.Hidden(), "samples": r.train.X.Rows,
		"epochs": r.history, "recon_error": final.ReconError, "seconds": elapsed.Seconds(), "backend": mat32.Backend(),
	}
	if r.valid != nil {
		res["validation_recon_error"] = final.ValidReconError
	}
	return writeJSON(r.e.stdout, r.e.stderr, res)
}

// prepareTraining checks the training data against the visible unit type
// and, with standardize, standardises it in place and returns the scaler
// the model keeps. When resuming, the checkpoint's own scaler is used
// instead (the caller applies it).
func prepareTraining(e *env, set *dataset.Set, vu rbm.Units, standardize, resume, quiet bool) (*rbm.Scaler, error) {
	var scaler *rbm.Scaler
	if standardize && !resume {
		if err := rbm.CheckData(&rbm.RBM{W: mat32.New(set.X.Cols, 1), VisUnits: rbm.Gaussian}, set.X); err != nil {
			return nil, fmt.Errorf("%s: %w", set.Source, err)
		}
		s, constant, err := rbm.FitScaler(set.X)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", set.Source, err)
		}
		s.Apply(set.X)
		scaler = s
		if len(constant) > 0 && !quiet {
			fmt.Fprintf(e.stderr, "note: %d of %d features are constant in %s; they are centred, not scaled\n", len(constant), set.X.Cols, set.Source)
		}
	}
	if resume {
		return nil, nil // checked against the checkpoint's model
	}
	if vu == rbm.Bernoulli {
		return scaler, set.CheckUnitInterval()
	}
	m := &rbm.RBM{W: mat32.New(set.X.Cols, 1), VisUnits: vu}
	if err := rbm.CheckData(m, set.X); err != nil {
		return nil, fmt.Errorf("%s: %w", set.Source, err)
	}
	if scaler == nil && !quiet && !nearlyStandard(set.X) {
		fmt.Fprintf(e.stderr, "note: %s is not standardised (feature means far from 0 or deviations far from 1); Gaussian units with sigma 1 model it poorly: add --standardize\n", set.Source)
	}
	return scaler, nil
}

// nearlyStandard reports whether every feature has a mean within 0.5 of 0
// and a standard deviation below 2.
func nearlyStandard(x *mat32.Dense) bool {
	s, _, err := rbm.FitScaler(x)
	if err != nil {
		return false
	}
	for j := range s.Mean {
		if s.Mean[j] > 0.5 || s.Mean[j] < -0.5 || s.Std[j] > 2 {
			return false
		}
	}
	return true
}

// applyUnitDefaults gives the settings the user left alone (not in given)
// the recipe of the unit types. The learning-rate decay of a recipe that
// has one is scaled to the number of epochs actually run, and so is the
// horizon of its parameter averaging (over samples training samples);
// Gaussian visible
// units given persistent chains (PCD, tempering) on a recipe without them
// take a learning rate of 0.01, as larger ones make them diverge there.
func applyUnitDefaults(cfg *rbm.Config, def rbm.Config, given map[string]bool, vu rbm.Units, samples int) {
	if !given["lr"] {
		cfg.LearningRate = def.LearningRate
		if vu == rbm.Gaussian && !def.Persistent && (cfg.Persistent || cfg.Tempering > 1) {
			cfg.LearningRate = min(0.01, def.LearningRate)
		}
	}
	if !given["epochs"] {
		cfg.Epochs = def.Epochs
	}
	if !given["average"] && def.Average > 0 { // over the run's updates: after its epochs are known
		cfg.Average = rbm.AverageDecay(cfg.Epochs * max(1, (samples+cfg.BatchSize-1)/cfg.BatchSize))
	}
	if !given["lr-decay"] && def.LRDecay > 0 {
		cfg.LRDecay = def.LRDecay * float64(def.Epochs) / float64(cfg.Epochs)
	}
	if !given["sigma-rate"] && def.SigmaRate > 0 {
		cfg.SigmaRate = def.SigmaRate
	}
	if def.Persistent && !given["cd"] && !given["pcd"] && !given["pt"] {
		cfg.Persistent = true
	}
	if !given["cd"] && !given["pcd"] {
		cfg.Steps = def.Steps
	}
}
