package main

import (
	"context"
	"encoding/json"
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
	fs := newFlags(e, "train", "train an RBM by contrastive divergence (CD-k) or persistent CD (PCD-k) and save it as a safetensors file. Visible units are Bernoulli (values in [0, 1]) or Gaussian (real values; with --standardize the data are standardised and the model keeps the mapping); hidden units Bernoulli or ReLU. Settings left unset take the recipe of the unit types (Gaussian, sigma learned: CD-20, --lr 0.05 decayed to a tenth, about 10,000 updates; sigma fixed at 1: PCD-5, --lr 0.01 decayed, about 40,000 updates; both save the moving average of the parameters, see --average).",
		"harmonium train --data mnist --hidden 500 --epochs 10 --out mnist.safetensors\n  harmonium train --data features.csv --visible gaussian --standardize --hidden 20 --out g.safetensors")
	var data dataFlags
	data.register(fs, "train")
	def := rbm.DefaultConfig()
	hidden := fs.Int("hidden", 500, "number of hidden units")
	epochs := fs.Int("epochs", def.Epochs, "passes over the training data")
	batch := fs.Int("batch", def.BatchSize, "minibatch size")
	lr := fs.Float64("lr", def.LearningRate, "learning rate")
	lrDecay := fs.Float64("lr-decay", 0, "divide the learning rate by 1 + DECAY*epoch each epoch")
	cd := fs.Int("cd", 1, "k for CD-k: Gibbs steps in the negative phase")
	pcd := fs.Int("pcd", 0, "k for persistent CD (PCD-k); replaces --cd")
	pt := fs.Int("pt", 0, "parallel tempering with this many temperatures (1, 1-1/K, ..., 1/K) per chain, --cd sweeps per update with swaps between neighbours; replaces --pcd")
	momentum := fs.Float64("momentum", def.Momentum, "momentum (from epoch --momentum-warmup on; 0 turns it off)")
	initMom := fs.Float64("initial-momentum", def.InitialMomentum, "momentum during the warm-up epochs (capped at --momentum)")
	warmup := fs.Int("momentum-warmup", def.MomentumWarmup, "epochs at --initial-momentum")
	wd := fs.Float64("weight-decay", def.WeightDecay, "L2 weight decay (0 turns it off)")
	sparsity := fs.Float64("sparsity", 0, "target mean activation of the hidden units (0: off)")
	sparsityCost := fs.Float64("sparsity-cost", 0.1, "strength of the sparsity penalty")
	sampleVis := fs.Bool("sample-visible", false, "use sampled rather than mean visible states in the negative statistics")
	centered := fs.Bool("centered", false, "train a centred RBM (gradients taken around running means of the units): better likelihoods, same model")
	offsetRate := fs.Float64("offset-rate", def.OffsetRate, "with --centered: how fast the offsets follow the minibatch means (0 keeps them at the data's mean and 1/2)")
	sampleData := fs.Bool("sample-data", false, "train on a fresh binary sample of every minibatch, each value the probability of a 1 (dynamic binarisation; best for likelihood)")
	visible := fs.String("visible", "bernoulli", "visible units: bernoulli (values in [0, 1]) or gaussian (real values)")
	hiddenUnits := fs.String("hidden-units", "bernoulli", "hidden units: bernoulli, relu (noisy rectified linear units) or gaussian (linear units with unit-variance noise; with Bernoulli visible units)")
	learnSigma := fs.Bool("learn-sigma", true, "Gaussian visible units: learn each unit's standard deviation (--learn-sigma=false fixes it at 1; then standardise the data)")
	sigmaRate := fs.Float64("sigma-rate", 0.1, "with --learn-sigma: the standard deviations' learning rate as a fraction of --lr")
	standardize := fs.Bool("standardize", false, "standardise each feature to mean 0 and standard deviation 1 on the training data; the model keeps the mapping and every command applies it (constant features are only centred)")
	average := fs.Float64("average", 0, "save the moving average of the parameters over the updates, with this decay per update (e.g. 0.999: about the last 1,000 updates); 0 saves the last parameters (default for Gaussian visible units: 0.999)")
	seed := fs.Uint64("seed", 1, "random seed: the same seed gives the same model")
	out := fs.String("out", "model.safetensors", "where to save the model")
	checkpoint := fs.String("checkpoint", "", "save the model and training state here after every epoch")
	resume := fs.Bool("resume", false, "continue from --checkpoint up to --epochs")
	validate := fs.Float64("validate", 0, "hold out this fraction of the data (chosen by --seed) and report its reconstruction error and free energy each epoch")
	curve := fs.String("curve", "", "write the per-epoch reconstruction error and free energy as a plot (.png or .svg)")
	report := fs.String("report", "", "write a one-page HTML report: settings, curves, filters, reconstructions, samples, results")
	monitor := fs.String("monitor", "", "also log each epoch: pll (pseudo-log-likelihood per feature on up to 1,000 training samples) or free-energy-gap (mean free energy of the validation set minus the training set's; needs --validate)")
	imageShape := fs.String("image-shape", "", "image height x width for pictures and the model file, e.g. 28x28 (default: from the MNIST files, or a square)")
	quiet := fs.Bool("quiet", false, "print nothing but errors (and --json)")
	jsonOut := fs.Bool("json", false, "print the result as one JSON object on stdout")
	if err := parse(fs, args); err != nil {
		return err
	}
	vu, err := rbm.ParseUnits(*visible)
	if err != nil || vu == rbm.ReLU {
		return usageError{fmt.Errorf("--visible must be bernoulli or gaussian, got %q", *visible)}
	}
	hu, err := rbm.ParseUnits(*hiddenUnits)
	if err != nil {
		return usageError{fmt.Errorf("--hidden-units must be bernoulli, relu or gaussian, got %q", *hiddenUnits)}
	}
	if hu == rbm.Gaussian && vu == rbm.Gaussian {
		return usageError{errors.New("--hidden-units gaussian needs --visible bernoulli (Gaussian units in both layers have no proper distribution)")}
	}
	if *standardize && vu != rbm.Gaussian {
		return usageError{errors.New("--standardize needs --visible gaussian (Bernoulli units need values in [0, 1])")}
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if vu != rbm.Gaussian {
		if given["learn-sigma"] && *learnSigma {
			return usageError{errors.New("--learn-sigma needs --visible gaussian (Bernoulli units have no standard deviation)")}
		}
		*learnSigma = false
	}
	if err := positive(map[string]int{"hidden": *hidden, "epochs": *epochs, "batch": *batch, "cd": *cd}); err != nil {
		return err
	}
	if *pcd < 0 {
		return usageError{fmt.Errorf("--pcd must not be negative (0 turns persistent CD off), got %d", *pcd)}
	}
	if *resume && *checkpoint == "" {
		return usageError{errors.New("--resume needs --checkpoint")}
	}
	if !(*validate >= 0 && *validate < 1) {
		return usageError{fmt.Errorf("--validate must be a fraction in [0, 1), got %g", *validate)}
	}
	if *monitor != "" && *monitor != "pll" && *monitor != "free-energy-gap" {
		return usageError{fmt.Errorf("--monitor must be pll or free-energy-gap, got %q", *monitor)}
	}
	if *monitor == "free-energy-gap" && *validate == 0 {
		return usageError{errors.New("--monitor free-energy-gap needs --validate FRACTION")}
	}
	if ext := strings.ToLower(filepath.Ext(*curve)); *curve != "" && ext != ".png" && ext != ".svg" {
		return usageError{fmt.Errorf("--curve must name a .png or .svg file, got %q", *curve)}
	}
	if ext := strings.ToLower(filepath.Ext(*report)); *report != "" && ext != ".html" && ext != ".htm" {
		return usageError{fmt.Errorf("--report must name an .html file, got %q", *report)}
	}
	cfg := rbm.Config{Epochs: *epochs, BatchSize: *batch, LearningRate: *lr, LRDecay: *lrDecay, Steps: *cd,
		Momentum: *momentum, InitialMomentum: *initMom, MomentumWarmup: *warmup, WeightDecay: *wd,
		SparsityTarget: *sparsity, SparsityCost: *sparsityCost, SampleVisible: *sampleVis, SampleData: *sampleData, Centered: *centered, OffsetRate: *offsetRate, Seed: *seed,
		LearnSigma: *learnSigma, SigmaRate: *sigmaRate, Average: *average}
	if *pcd > 0 {
		cfg.Steps, cfg.Persistent = *pcd, true
	}
	if *pt == 1 || *pt < 0 {
		return usageError{fmt.Errorf("--pt needs at least 2 temperatures (0 turns it off), got %d", *pt)}
	}
	if *pt > 0 && *pcd > 0 {
		return usageError{errors.New("--pt and --pcd are two negative phases: choose one")}
	}
	cfg.Tempering = *pt
	if *sparsity == 0 {
		cfg.SparsityCost = 0
	}
	if err := cfg.Validate(); err != nil {
		return usageError{err}
	}
	if *sampleData && vu != rbm.Bernoulli {
		return usageError{errors.New("--sample-data draws binary data: it needs --visible bernoulli")}
	}
	if *centered && *learnSigma {
		return usageError{errors.New("--centered with --learn-sigma is not supported (train with one of them)")}
	}
	if *monitor == "pll" && (vu != rbm.Bernoulli || hu != rbm.Bernoulli) {
		return usageError{errors.New("--monitor pll needs Bernoulli units in both layers (the pseudo-likelihood is defined for binary units); use --monitor free-energy-gap")}
	}
	if *sparsity > 0 && hu != rbm.Bernoulli {
		return usageError{errors.New("--sparsity needs --hidden-units bernoulli")}
	}
	set, err := data.loadAny(ctx, e)
	if err != nil {
		return err
	}
	scaler, err := prepareTraining(e, set, vu, *standardize, *resume, *quiet)
	if err != nil {
		return err
	}
	samples := int(float64(set.X.Rows) * (1 - *validate))
	def = rbm.DefaultConfigFor(vu, hu, samples)
	if vu == rbm.Gaussian && !*learnSigma {
		def = rbm.DefaultFixedSigmaConfig(hu, samples)
	}
	applyUnitDefaults(&cfg, def, given, vu, samples)
	pics := pictureFlags{shape: *imageShape}
	shape, zoom, shapeErr := pics.resolve(set.X.Cols, set, nil)
	if *imageShape != "" && shapeErr != nil {
		return shapeErr
	}
	if *report != "" && shapeErr != nil {
		return fmt.Errorf("--report draws images: %w", shapeErr)
	}
	train, valid := set, (*dataset.Set)(nil)
	if *validate > 0 {
		train, valid = set.Split(*validate, *seed)
		if valid.X.Rows == 0 || train.X.Rows == 0 {
			return usageError{fmt.Errorf("--validate %g of %d samples leaves an empty part", *validate, set.X.Rows)}
		}
	}
	say := func(format string, a ...any) {
		if !*quiet {
			fmt.Fprintf(e.stderr, format, a...)
		}
	}

	var model *rbm.RBM
	var state *rbm.State
	var history []epochRecord
	if *resume {
		var meta map[string]string
		model, meta, state, err = modelfile.LoadRBM(*checkpoint)
		if err != nil {
			return err
		}
		if state == nil {
			return fmt.Errorf("%s is a model without training state, not a checkpoint", *checkpoint)
		}
		if model.Hidden() != *hidden || model.Visible() != set.X.Cols {
			return fmt.Errorf("%s holds a %dx%d model; this run asks for %dx%d", *checkpoint, model.Visible(), model.Hidden(), set.X.Cols, *hidden)
		}
		if model.VisUnits != vu || model.HidUnits != hu {
			return fmt.Errorf("%s holds a model with %v visible and %v hidden units; this run asks for %v and %v", *checkpoint, model.VisUnits, model.HidUnits, vu, hu)
		}
		if err := forModel(model, *checkpoint, set); err != nil {
			return err
		}
		history = historyFromMeta(meta)
		if meta["seed"] != strconv.FormatUint(*seed, 10) {
			say("note: the checkpoint was trained with --seed %s, continuing with --seed %d\n", meta["seed"], *seed)
		}
		say("resuming %s after epoch %d\n", *checkpoint, state.Epoch)
	} else {
		what := fmt.Sprintf("training a %d-%d RBM with minibatches of %d", set.X.Cols, *hidden, cfg.BatchSize)
		if err := memguard.Check(what, cfg.MemoryBytes(set.X.Cols, *hidden)); err != nil {
			return err
		}
		model = rbm.NewInitUnits(set.X.Cols, *hidden, vu, hu, *learnSigma, train.X, *seed)
		model.Scaler = scaler
	}
	trainer, err := rbm.NewTrainer(model, cfg)
	if err != nil {
		return err
	}
	if state != nil {
		trainer.State = *state
	}
	meta := modelfile.ConfigMeta(cfg)
	meta["data"] = set.Source
	if shapeErr == nil {
		meta["image_shape"] = shape.String()
	}
	method := cfg.Method()
	say("data: %s, %s\n", set.Source, set.Shape())
	if valid != nil {
		say("validation: %d samples held out, training on %d\n", valid.X.Rows, train.X.Rows)
	}
	say("model: %d %s visible x %d %s hidden, %s, batch %d, lr %g, momentum %g, weight decay %g; products: %s\n",
		set.X.Cols, vu, *hidden, hu, method, cfg.BatchSize, cfg.LearningRate, cfg.Momentum, cfg.WeightDecay, mat32.Backend())
	if note := mat32.BackendNote(); note != "" {
		say("note: %s\n", note)
	}

	start, firstEpoch := time.Now(), trainer.State.Epoch
	b := newBar(e, "training", *quiet)
	// Free energy is tracked on a fixed subset of the training data, the
	// same size as the validation set (at most 5,000), so the two compare.
	feSubset := train.X.Slice(0, min(train.X.Rows, 5000))
	if valid != nil {
		feSubset = train.X.Slice(0, min(train.X.Rows, valid.X.Rows, 5000))
	}
	track := *curve != "" || *report != "" || valid != nil || *monitor != ""
	var pllData *mat32.Dense
	if *monitor == "pll" {
		pllData, _ = binaryData(train.Head(1000), *seed)
	}
	hooks := rbm.Hooks{
		Batch: func(epoch, done, total int) {
			// Progress and ETA count only the epochs this run trains.
			b.update((epoch-1-firstEpoch)*total+done, (cfg.Epochs-firstEpoch)*total, fmt.Sprintf("epoch %d/%d", epoch, cfg.Epochs))
		},
		Epoch: func(s rbm.EpochStats) error {
			b.done()
			r := epochRecord{Epoch: s.Epoch, ReconError: s.ReconError, Seconds: s.Duration.Seconds(), SwapRate: s.SwapRate}
			line := fmt.Sprintf("epoch %*d/%d  recon error %8.4f", len(strconv.Itoa(cfg.Epochs)), s.Epoch, cfg.Epochs, s.ReconError)
			if cfg.Tempering > 1 {
				line += fmt.Sprintf("  swaps %3.0f%%", 100*s.SwapRate)
			}
			if track {
				r.FreeEnergy = model.MeanFreeEnergy(feSubset)
				line += fmt.Sprintf("  free energy %9.3f", r.FreeEnergy)
			}
			if valid != nil {
				r.ValidReconError = model.ReconstructionError(valid.X, *seed)
				r.ValidFreeEnergy = model.MeanFreeEnergy(valid.X)
				line += fmt.Sprintf("  validation: recon %8.4f, free energy %9.3f", r.ValidReconError, r.ValidFreeEnergy)
			}
			switch *monitor {
			case "pll":
				p, err := model.PseudoLogLikelihood(pllData, *seed)
				if err != nil {
					return err
				}
				r.PLL = p.Exact
				line += fmt.Sprintf("  PLL %.5f", r.PLL)
			case "free-energy-gap":
				r.FreeEnergyGap = r.ValidFreeEnergy - r.FreeEnergy
				line += fmt.Sprintf("  free-energy gap %.3f", r.FreeEnergyGap)
			}
			say("%s  %6.2f s\n", line, s.Duration.Seconds())
			history = append(history, r)
			meta["history"] = historyMeta(history)
			if *checkpoint != "" {
				return modelfile.SaveRBM(*checkpoint, model, meta, &trainer.State)
			}
			return nil
		},
	}
	_, err = trainer.Fit(ctx, train.X, hooks)
	b.done()
	if err != nil {
		if errors.Is(err, context.Canceled) {
			switch {
			case *checkpoint != "" && trainer.State.Epoch > 0:
				return fmt.Errorf("%w after %d finished epochs; %s holds them (continue with --resume)", errInterrupted, trainer.State.Epoch, *checkpoint)
			case *checkpoint != "":
				return fmt.Errorf("%w before the first epoch ended: nothing written", errInterrupted)
			}
			return fmt.Errorf("%w: nothing written (use --checkpoint to keep finished epochs)", errInterrupted)
		}
		return err
	}
	elapsed := time.Since(start)
	meta["train_seconds"] = strconv.FormatFloat(elapsed.Seconds(), 'f', 2, 64)
	meta["epochs_trained"] = strconv.Itoa(trainer.State.Epoch)
	if err := modelfile.SaveRBM(*out, model, meta, nil); err != nil {
		return err
	}
	var final epochRecord
	if len(history) > 0 {
		final = history[len(history)-1]
	}
	say("saved %s (%dx%d) after %s; final training recon error %.4f\n", *out, model.Visible(), model.Hidden(), fmtDuration(elapsed), final.ReconError)
	if *curve != "" {
		if err := viz.WriteCurves(*curve, curvePanels(history)); err != nil {
			return err
		}
		say("wrote %s\n", *curve)
	}
	if *report != "" {
		show := set
		if valid != nil {
			show = valid
		}
		r := buildReport(model, show, history, cfg, method, set, valid, elapsed, shape, zoom, *seed)
		if err := viz.WriteReport(*report, r); err != nil {
			return err
		}
		say("wrote %s: open it in a browser\n", *report)
	}
	if *jsonOut {
		res := map[string]any{
			"model": *out, "visible": model.Visible(), "hidden": model.Hidden(), "samples": train.X.Rows,
			"epochs": history, "recon_error": final.ReconError, "seconds": elapsed.Seconds(), "backend": mat32.Backend(),
		}
		if valid != nil {
			res["validation_recon_error"] = final.ValidReconError
		}
		return json.NewEncoder(e.stdout).Encode(res)
	}
	return nil
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
			cfg.LearningRate = 0.01
		}
	}
	if !given["average"] && def.Average > 0 {
		cfg.Average = rbm.AverageDecay(cfg.Epochs * max(1, (samples+cfg.BatchSize-1)/cfg.BatchSize))
	}
	if !given["epochs"] {
		cfg.Epochs = def.Epochs
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
