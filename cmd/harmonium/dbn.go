package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/harmonium-ml/harmonium/dataset"
	"github.com/harmonium-ml/harmonium/dbn"
	"github.com/harmonium-ml/harmonium/internal/memguard"
	"github.com/harmonium-ml/harmonium/mat32"
	"github.com/harmonium-ml/harmonium/modelfile"
	"github.com/harmonium-ml/harmonium/nn"
	"github.com/harmonium-ml/harmonium/rbm"
	"github.com/harmonium-ml/harmonium/viz"
)

func init() {
	commands = append(commands,
		command{"dbn", "deep belief networks: dbn train (greedy, optionally with labels), dbn sample (dreams), dbn classify (generative), dbn updown (fine-tuning)", runDBN},
		command{"finetune", "unroll a DBN into a neural network and train it by backpropagation (a classifier for harmonium classify)", runFinetune})
}

func runDBN(ctx context.Context, e *env, args []string) error {
	subs := map[string]func(context.Context, *env, []string) error{"train": runDBNTrain, "sample": runDBNSample, "classify": runDBNClassify, "updown": runDBNUpDown}
	if len(args) == 0 || args[0] == "--help" || args[0] == "-h" || args[0] == "help" {
		fmt.Fprintln(e.stdout, "harmonium dbn: deep belief networks, stacks of RBMs trained greedily one layer at a time (Hinton, Osindero & Teh 2006).")
		fmt.Fprintln(e.stdout, "\nCommands:\n  train     train a DBN layer by layer; --labels puts a softmax label group in the top RBM\n  sample    dreams: Gibbs sampling in the top RBM (a label clamped), then one pass down to pixels (PNG)\n  classify  generative classification by a DBN trained with --labels: accuracy and confusion matrix\n  updown    up-down fine-tuning of a DBN trained with --labels: separate generative weights, for better dreams")
		fmt.Fprintln(e.stdout, "\nExample:\n  harmonium dbn train --data ../shared/data/mnist --layers 500,500,2000 --labels --seed 1 --out dbn.safetensors\n  harmonium dbn classify --model dbn.safetensors --data ../shared/data/mnist --json\n  harmonium dbn sample --model dbn.safetensors --out dreams.png")
		return nil
	}
	sub, ok := subs[args[0]]
	if !ok {
		return usageError{fmt.Errorf("unknown dbn command %q (want train, sample, classify or updown)", args[0])}
	}
	return sub(ctx, e, args[1:])
}

// dbnTrainFlags are the settings of dbn train.
type dbnTrainFlags struct {
	data                                     dataFlags
	layers, epochs, lr, visible, topUnits    string
	labelFile, out, checkpoint, imageShape   string
	report, curve                            string
	cd, pcd, batch                           int
	momentum, weightDecay                    float64
	labels, standardize, resume, json, quiet bool
	seed                                     uint64
	scaler                                   *rbm.Scaler       // fitted by load with --standardize
	ckMeta                                   map[string]string // the checkpoint's metadata, with --resume
}

const dbnTrainHelp = "train a deep belief network greedily: each layer an RBM trained on the hidden probabilities of the layer below (the first on the data). " +
	"The defaults are the recipe (Hinton & Salakhutdinov 2006): every Bernoulli layer CD-1 for 50 epochs, batch 100, learning rate 0.1, momentum 0.5 for 5 epochs then 0.9, weight decay 0.0002, layer K seeded with --seed + K; " +
	"a Gaussian first layer (--visible gaussian) takes the Gaussian recipe of 'harmonium train' (CD-20, lr 0.05 decayed and scaled down for layers over 62x20 weights, learned standard deviations, parameters averaged), and Gaussian or ReLU top units (--top-units) a learning rate of 0.01. " +
	"With --labels the top RBM also sees a softmax group of one unit per class beside the penultimate layer (labels from the MNIST files or --label-file), so that 'dbn classify' and 'dbn sample --label' work; it trains by PCD-1 at a learning rate of 0.01 (on MNIST its dreams are digits, CD-1's blobs; on a small data set, a few thousand updates, --cd 1 --lr 0.1 learns faster). --cd, --pcd and a single --lr apply to every layer. " +
	"--checkpoint saves after every epoch and every finished layer; --resume continues from it."

func (f *dbnTrainFlags) register(fs *flag.FlagSet) {
	f.data.register(fs, "train")
	fs.StringVar(&f.layers, "layers", "", "hidden units per layer, bottom to top, e.g. 500,500,2000 (required)")
	fs.StringVar(&f.epochs, "epochs", "", "epochs per layer: N for every layer or N1,N2,... (default 50 per Bernoulli layer)")
	fs.StringVar(&f.lr, "lr", "", "learning rate: one for every layer or one per layer (default 0.1; 0.01 for Gaussian or ReLU top units and a top RBM with labels; 0.05 for a Gaussian first layer, times sqrt(1240/(visible*hidden)) when it has more weights)")
	fs.IntVar(&f.cd, "cd", 0, "k for CD-k in every layer (default 1; 20 for a Gaussian first layer; PCD-1 for a top RBM with labels)")
	fs.IntVar(&f.pcd, "pcd", 0, "k for persistent CD (PCD-k) in every layer; replaces --cd")
	fs.IntVar(&f.batch, "batch", 100, "minibatch size")
	fs.Float64Var(&f.momentum, "momentum", 0.9, "momentum after the first 5 epochs (0.5 before)")
	fs.Float64Var(&f.weightDecay, "weight-decay", 0.0002, "L2 weight decay")
	fs.StringVar(&f.visible, "visible", "bernoulli", "the first layer's visible units: bernoulli (values in [0, 1]) or gaussian (real values; add --standardize)")
	fs.BoolVar(&f.standardize, "standardize", false, "with --visible gaussian: standardise each feature on the training data; the DBN keeps the mapping")
	fs.StringVar(&f.topUnits, "top-units", "bernoulli", "the top layer's hidden units: bernoulli, gaussian (linear code units, as in a deep autoencoder) or relu")
	fs.BoolVar(&f.labels, "labels", false, "train the top RBM on the penultimate layer joined with a softmax group of one-hot labels")
	fs.StringVar(&f.labelFile, "label-file", "", "labels for --labels, one integer per sample: .csv (one per line) or .npy (MNIST folders have their own)")
	fs.Uint64Var(&f.seed, "seed", 1, "random seed: the same seed gives the same DBN")
	fs.StringVar(&f.out, "out", "dbn.safetensors", "where to save the DBN")
	fs.StringVar(&f.checkpoint, "checkpoint", "", "save the DBN and training state here after every epoch and every finished layer")
	fs.BoolVar(&f.resume, "resume", false, "continue from --checkpoint")
	fs.StringVar(&f.imageShape, "image-shape", "", "image height x width kept in the model for pictures, e.g. 28x28 (default: from the MNIST files)")
	fs.BoolVar(&f.json, "json", false, "print the result as one JSON object on stdout")
	fs.BoolVar(&f.quiet, "quiet", false, "print nothing but errors (and --json)")
	fs.StringVar(&f.report, "report", "", "write a self-contained HTML page: per-layer curves, the first layer's filters, reconstructions and, with --labels, dreams per class")
	fs.StringVar(&f.curve, "curve", "", "write each layer's reconstruction error per epoch as a plot (.png or .svg)")
}

// check validates the flags that need no data.
func (f *dbnTrainFlags) check() (hidden []int, vis, top rbm.Units, err error) {
	if f.layers == "" {
		return nil, 0, 0, usageError{errors.New("--layers is required, e.g. --layers 500,500,2000")}
	}
	if ext := strings.ToLower(filepath.Ext(f.report)); f.report != "" && ext != ".html" {
		return nil, 0, 0, usageError{fmt.Errorf("--report must name a .html file, got %q", f.report)}
	}
	if ext := strings.ToLower(filepath.Ext(f.curve)); f.curve != "" && ext != ".png" && ext != ".svg" {
		return nil, 0, 0, usageError{fmt.Errorf("--curve must name a .png or .svg file, got %q", f.curve)}
	}
	if hidden, err = intList("layers", f.layers, 0); err != nil {
		return nil, 0, 0, err
	}
	if vis, err = rbm.ParseUnits(f.visible); err != nil || vis == rbm.ReLU {
		return nil, 0, 0, usageError{fmt.Errorf("--visible must be bernoulli or gaussian, got %q", f.visible)}
	}
	if top, err = rbm.ParseUnits(f.topUnits); err != nil {
		return nil, 0, 0, usageError{fmt.Errorf("--top-units must be bernoulli, gaussian or relu, got %q", f.topUnits)}
	}
	switch {
	case f.standardize && vis != rbm.Gaussian:
		return nil, 0, 0, usageError{errors.New("--standardize needs --visible gaussian (Bernoulli units need values in [0, 1])")}
	case f.labels && top != rbm.Bernoulli:
		return nil, 0, 0, usageError{errors.New("--labels needs Bernoulli top units (the generative classifier sums them out)")}
	case f.labels && len(hidden) == 1 && vis != rbm.Bernoulli:
		return nil, 0, 0, usageError{errors.New("--labels with one layer needs --visible bernoulli (the labels join the visible layer)")}
	case f.labelFile != "" && !f.labels:
		return nil, 0, 0, usageError{errors.New("--label-file needs --labels")}
	case f.resume && f.checkpoint == "":
		return nil, 0, 0, usageError{errors.New("--resume needs --checkpoint")}
	case f.cd < 0 || f.pcd < 0 || f.batch < 1:
		return nil, 0, 0, usageError{errors.New("--cd and --pcd must not be negative and --batch must be positive")}
	case f.cd > 0 && f.pcd > 0:
		return nil, 0, 0, usageError{errors.New("--cd and --pcd are two negative phases: choose one")}
	}
	return hidden, vis, top, nil
}

// intList parses a comma-separated list of positive integers; with n > 0
// a single value stands for n copies and otherwise exactly n are needed.
func intList(name, s string, n int) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v <= 0 {
			return nil, usageError{fmt.Errorf("--%s must list positive whole numbers like 500,500,2000, got %q", name, s)}
		}
		out = append(out, v)
	}
	return perLayer(name, out, n)
}

// floatList parses a comma-separated list of positive numbers, one or n.
func floatList(name, s string, n int) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || !(v > 0) {
			return nil, usageError{fmt.Errorf("--%s must list positive numbers, got %q", name, s)}
		}
		out = append(out, v)
	}
	return perLayer(name, out, n)
}

// perLayer expands one value to n or checks that there are n.
func perLayer[T any](name string, v []T, n int) ([]T, error) {
	switch {
	case n == 0 || len(v) == n:
		return v, nil
	case len(v) == 1:
		out := make([]T, n)
		for i := range out {
			out[i] = v[0]
		}
		return out, nil
	}
	return nil, usageError{fmt.Errorf("--%s has %d values for %d layers: give one, or one per layer", name, len(v), n)}
}

// config returns the training recipe of the flags for set, overriding the
// defaults with the settings given.
func (f *dbnTrainFlags) config(fs *flag.FlagSet, set *dataset.Set, hidden []int, vis, top rbm.Units, labels int) (dbn.Config, error) {
	cfg := dbn.DefaultConfig(dbn.Shape{Visible: set.X.Cols, VisUnits: vis, Hidden: hidden, TopUnits: top, Labels: labels}, set.X.Rows, f.seed)
	given := given(fs)
	n := len(hidden)
	var epochs []int
	var lrs []float64
	var err error
	if given["epochs"] {
		if epochs, err = intList("epochs", f.epochs, n); err != nil {
			return cfg, err
		}
	}
	if given["lr"] {
		if lrs, err = floatList("lr", f.lr, n); err != nil {
			return cfg, err
		}
	}
	for i := range cfg.Layers {
		t := &cfg.Layers[i].Train
		if epochs != nil {
			t.Epochs = epochs[i]
			if t.LRDecay > 0 {
				t.LRDecay = 10 / float64(t.Epochs)
			}
		}
		if lrs != nil {
			t.LearningRate = lrs[i]
		}
		if f.cd > 0 {
			t.Steps, t.Persistent = f.cd, false
		}
		if f.pcd > 0 {
			t.Steps, t.Persistent = f.pcd, true
		}
		t.BatchSize, t.Momentum, t.WeightDecay = f.batch, f.momentum, f.weightDecay
		if t.Average > 0 { // the recipe's horizon: the last fortieth of this run's updates
			t.Average = rbm.AverageDecay(t.Epochs * max(1, (set.X.Rows+t.BatchSize-1)/t.BatchSize))
		}
	}
	if err := cfg.Validate(); err != nil {
		return cfg, usageError{err}
	}
	return cfg, nil
}

func runDBNTrain(ctx context.Context, e *env, args []string) error {
	var f dbnTrainFlags
	fs := newFlags(e, "dbn train", dbnTrainHelp,
		"harmonium dbn train --data ../shared/data/mnist --layers 500,500,2000 --labels --seed 1 --out dbn.safetensors\n"+
			"  harmonium dbn train --data ../shared/data/mnist --layers 1000,500,250,30 --top-units gaussian --seed 1 --out ae-dbn.safetensors\n"+
			"  harmonium dbn train --data x.npy --visible gaussian --standardize --layers 100,50 --epochs 20,10 --checkpoint ck.safetensors --out d.safetensors")
	f.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	hidden, vis, top, err := f.check()
	if err != nil {
		return err
	}
	if err := checkOutputs(f.out, f.checkpoint, f.curve, f.report); err != nil {
		return err
	}
	set, classes, err := f.load(ctx, e)
	if err != nil {
		return err
	}
	if err := f.checkImageShape(set); err != nil {
		return err
	}
	cfg, err := f.config(fs, set, hidden, vis, top, classes)
	if err != nil {
		return err
	}
	if err := checkDBNMemory(cfg, set.X.Rows); err != nil {
		return err
	}
	tr, err := f.trainer(e, cfg, set)
	if err != nil {
		return err
	}
	return f.run(ctx, e, tr, set)
}

// checkImageShape reports, before training, an --image-shape that is not
// HxW or does not have the data's number of values per sample (meta would
// otherwise leave it out of the model silently).
func (f *dbnTrainFlags) checkImageShape(set *dataset.Set) error {
	if f.imageShape == "" {
		return nil
	}
	pics := pictureFlags{shape: f.imageShape}
	_, _, err := pics.resolve(set.X.Cols, set, nil)
	return err
}

// load reads the training data and, with --labels, its labels; classes is
// the size of the label group (0 without labels).
func (f *dbnTrainFlags) load(ctx context.Context, e *env) (*dataset.Set, int, error) {
	limit := f.data.limit
	f.data.limit = 0
	set, err := f.data.loadAny(ctx, e)
	f.data.limit = limit
	if err != nil {
		return nil, 0, err
	}
	if f.labelFile != "" {
		labels, err := dataset.ReadLabels(f.labelFile)
		if err != nil {
			return nil, 0, err
		}
		if len(labels) != set.X.Rows {
			return nil, 0, fmt.Errorf("%s has %d labels, but %s has %d samples: one label per sample", f.labelFile, len(labels), set.Source, set.X.Rows)
		}
		set.Labels = labels
	}
	if f.labels && set.Labels == nil {
		return nil, 0, usageError{fmt.Errorf("--labels: %s has no labels; pass --label-file FILE (.csv or .npy, one integer per sample)", set.Source)}
	}
	set = set.Head(limit)
	classes := 0
	if f.labels {
		for _, y := range set.Labels {
			classes = max(classes, y+1)
		}
		if classes < 2 {
			return nil, 0, fmt.Errorf("--labels: the labels of %s hold a single class; a label group needs at least 2", set.Source)
		}
	}
	vis, _ := rbm.ParseUnits(f.visible)
	scaler, err := prepareTraining(e, set, vis, f.standardize, f.resume, f.quiet)
	if err != nil {
		return nil, 0, err
	}
	f.scaler = scaler
	return set, classes, nil
}

// checkDBNMemory refuses a run whose largest layer, with the data it
// trains on, would not fit in memory.
func checkDBNMemory(cfg dbn.Config, samples int) error {
	nv := cfg.Visible
	for i, l := range cfg.Layers {
		in := nv
		if i == len(cfg.Layers)-1 {
			in += cfg.Labels
		}
		need := l.Train.MemoryBytes(in, l.Hidden) + 4*float64(samples)*float64(in+l.Hidden)
		if err := memguard.Check(fmt.Sprintf("training layer %d (%d-%d) on %d samples", i, in, l.Hidden, samples), need); err != nil {
			return err
		}
		nv = l.Hidden
	}
	return nil
}

// trainer returns a new trainer, or with --resume one that continues from
// the checkpoint after checking that it matches this run.
func (f *dbnTrainFlags) trainer(e *env, cfg dbn.Config, set *dataset.Set) (*dbn.Trainer, error) {
	if !f.resume {
		cfg.Scaler = f.scaler
		return dbn.NewTrainer(cfg)
	}
	d, meta, total, st, err := modelfile.LoadDBN(f.checkpoint)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return nil, fmt.Errorf("%s is a finished DBN without training state, not a checkpoint", f.checkpoint)
	}
	if total != len(cfg.Layers) {
		return nil, fmt.Errorf("%s: the checkpoint is of a DBN of %d layers, this run asks for %d (--layers %s)", f.checkpoint, total, len(cfg.Layers), f.layers)
	}
	if (f.standardize) != (d.Scaler() != nil) {
		return nil, fmt.Errorf("%s: the checkpoint was trained %s --standardize; this run %s", f.checkpoint, with(d.Scaler() != nil), with(f.standardize))
	}
	if s := d.Scaler(); s != nil {
		if len(s.Mean) != set.X.Cols {
			return nil, fmt.Errorf("%s has %d visible units but %s has %d values per sample", f.checkpoint, len(s.Mean), set.Source, set.X.Cols)
		}
		s.Apply(set.X)
	}
	f.ckMeta = meta
	t, err := dbn.Resume(cfg, d, *st)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (layers %s)", f.checkpoint, err, f.layers)
	}
	if meta["seed"] != strconv.FormatUint(f.seed, 10) && !f.quiet {
		fmt.Fprintf(e.stderr, "note: the checkpoint was trained with --seed %s, continuing with --seed %d\n", meta["seed"], f.seed)
	}
	return t, nil
}

func with(b bool) string {
	if b {
		return "with"
	}
	return "without"
}

// dbnRecord is one epoch of one layer in the history.
type dbnRecord struct {
	Layer      int     `json:"layer"`
	Epoch      int     `json:"epoch"`
	ReconError float64 `json:"recon_error"`
	Seconds    float64 `json:"seconds"`
}

// dbnTrainRun is one run of dbn train: its settings, trainer, data,
// metadata and history.
type dbnTrainRun struct {
	f       *dbnTrainFlags
	e       *env
	t       *dbn.Trainer
	cfg     dbn.Config
	set     *dataset.Set
	meta    map[string]string
	history []dbnRecord

	start    time.Time // when training started
	bar      *bar      // the progress of the layer barLayer
	barLayer int
}

// run trains, checkpointing as asked, and saves the DBN.
func (f *dbnTrainFlags) run(ctx context.Context, e *env, t *dbn.Trainer, set *dataset.Set) error {
	meta, history := f.meta(t.Config, set)
	r := &dbnTrainRun{f: f, e: e, t: t, cfg: t.Config, set: set, meta: meta, history: *history}
	r.announce()
	d, err := r.fit(ctx)
	if err != nil {
		return r.fitError(err)
	}
	return r.finish(ctx, d, time.Since(r.start))
}

// say prints to stderr unless --quiet.
func (r *dbnTrainRun) say(format string, a ...any) {
	if !r.f.quiet {
		fmt.Fprintf(r.e.stderr, format, a...)
	}
}

// announce reports the data, the DBN and where a resumed run continues.
func (r *dbnTrainRun) announce() {
	cfg, st := r.cfg, r.t.State
	r.say("data: %s, %s; products: %s\n", r.set.Source, r.set.Shape(), mat32.Backend())
	r.say("DBN: %s%s; layers to train: %d of %d\n", sizesText(cfg), labelText(cfg.Labels), len(cfg.Layers)-st.Done, len(cfg.Layers))
	if st.Done > 0 || st.Layer.Epoch > 0 {
		r.say("resuming %s: %d layers done, layer %d after epoch %d\n", r.f.checkpoint, st.Done, st.Done, st.Layer.Epoch)
	}
}

// fit trains the layers left to train, showing progress, logging every
// epoch and layer and saving the checkpoint after each.
func (r *dbnTrainRun) fit(ctx context.Context) (*dbn.DBN, error) {
	r.start = time.Now()
	r.bar, r.barLayer = newBar(r.e, "training", r.f.quiet), r.t.State.Done
	hooks := dbn.Hooks{Batch: r.batchDone, Epoch: r.epochDone, Layer: r.layerDone}
	if i := r.t.State.Done; i < len(r.cfg.Layers) {
		r.say("layer %d: %s\n", i, layerText(r.cfg, i))
	}
	d, err := r.t.Fit(ctx, r.set.X, r.set.Labels, hooks)
	r.bar.done()
	return d, err
}

// batchDone shows the progress of the current layer's epochs.
func (r *dbnTrainRun) batchDone(layer, epoch, done, total int) {
	if layer != r.barLayer { // progress and ETA count the current layer's epochs
		r.bar, r.barLayer = newBar(r.e, "training", r.f.quiet), layer
	}
	epochs := r.cfg.Layers[layer].Train.Epochs
	r.bar.update((epoch-1)*total+done, epochs*total, fmt.Sprintf("layer %d epoch %d/%d", layer, epoch, epochs))
}

// epochDone logs a finished epoch, adds it to the history and saves the
// checkpoint.
func (r *dbnTrainRun) epochDone(layer int, s rbm.EpochStats) error {
	r.bar.done()
	r.history = append(r.history, dbnRecord{Layer: layer, Epoch: s.Epoch, ReconError: s.ReconError, Seconds: s.Duration.Seconds()})
	r.say("layer %d epoch %3d/%d  recon error %9.4f  %6.2f s\n", layer, s.Epoch, r.cfg.Layers[layer].Train.Epochs, s.ReconError, s.Duration.Seconds())
	return r.saveCheckpoint()
}

// layerDone logs a finished layer and the next one's settings, and saves
// the checkpoint.
func (r *dbnTrainRun) layerDone(layer int) error {
	r.say("layer %d done (%s so far)\n", layer, fmtDuration(time.Since(r.start)))
	if layer+1 < len(r.cfg.Layers) {
		r.say("layer %d: %s\n", layer+1, layerText(r.cfg, layer+1))
	}
	return r.saveCheckpoint()
}

// saveCheckpoint saves the DBN, its history and the training state to
// --checkpoint, if given.
func (r *dbnTrainRun) saveCheckpoint() error {
	if r.f.checkpoint == "" {
		return nil
	}
	r.meta["history"] = mustJSON(r.history)
	return modelfile.SaveDBN(r.f.checkpoint, r.t.DBN, len(r.cfg.Layers), r.meta, &r.t.State)
}

// fitError returns the error that stopped training; for an interruption,
// one that says what was kept.
func (r *dbnTrainRun) fitError(err error) error {
	if !errors.Is(err, context.Canceled) {
		return err
	}
	if r.f.checkpoint != "" {
		st := r.t.State
		return fmt.Errorf("%w: %s holds %d finished layers and %d epochs of layer %d (continue with --resume)", errInterrupted, r.f.checkpoint, st.Done, st.Layer.Epoch, st.Done)
	}
	return fmt.Errorf("%w: nothing written (use --checkpoint to keep finished epochs)", errInterrupted)
}

// finish saves the trained DBN, writes the pictures asked for and reports
// the result.
func (r *dbnTrainRun) finish(ctx context.Context, d *dbn.DBN, elapsed time.Duration) error {
	f, cfg := r.f, r.cfg
	r.meta["train_seconds"] = strconv.FormatFloat(elapsed.Seconds(), 'f', 2, 64)
	r.meta["history"] = mustJSON(r.history)
	if err := modelfile.SaveDBN(f.out, d, len(d.Layers), r.meta, nil); err != nil {
		return err
	}
	r.say("saved %s (%s%s) after %s\n", f.out, sizesText(cfg), labelText(cfg.Labels), fmtDuration(elapsed))
	if err := f.pictures(ctx, r.e, d, cfg, r.set, r.history, elapsed); err != nil {
		return err
	}
	if f.json {
		return writeJSON(r.e.stdout, r.e.stderr, map[string]any{"model": f.out, "sizes": d.Sizes(), "labels": d.Labels,
			"samples": r.set.X.Rows, "epochs": r.history, "seconds": elapsed.Seconds(), "backend": mat32.Backend()})
	}
	return nil
}

// meta returns the model file's metadata for a run of cfg on set, and the
// per-epoch history (carried over from the checkpoint when resuming).
func (f *dbnTrainFlags) meta(cfg dbn.Config, set *dataset.Set) (map[string]string, *[]dbnRecord) {
	meta := map[string]string{"data": set.Source, "seed": strconv.FormatUint(f.seed, 10)}
	for i, l := range cfg.Layers {
		for k, v := range modelfile.LayerMeta(i, l.Train) {
			meta[k] = v
		}
	}
	pics := pictureFlags{shape: f.imageShape}
	if shape, _, err := pics.resolve(set.X.Cols, set, nil); err == nil && (f.imageShape != "" || set.Height > 0) {
		meta["image_shape"] = shape.String()
	}
	var h []dbnRecord
	if f.ckMeta != nil {
		_ = json.Unmarshal([]byte(f.ckMeta["history"]), &h)
	}
	return meta, &h
}

func mustJSON(v any) string {
	b, _, _ := marshalFinite(v) // numbers, null for any NaN or infinity: cannot fail
	return string(b)
}

// sizesText describes the levels of cfg: 784-500-500-2000.
func sizesText(cfg dbn.Config) string {
	s := strconv.Itoa(cfg.Visible)
	for _, l := range cfg.Layers {
		s += "-" + strconv.Itoa(l.Hidden)
	}
	return s
}

func labelText(c int) string {
	if c == 0 {
		return ""
	}
	return fmt.Sprintf(" with %d labels in the top RBM", c)
}

// layerText describes how layer i trains.
func layerText(cfg dbn.Config, i int) string {
	l := cfg.Layers[i]
	t := l.Train
	method := t.Method()
	in := cfg.Visible
	if i > 0 {
		in = cfg.Layers[i-1].Hidden
	}
	lab := ""
	if i == len(cfg.Layers)-1 && cfg.Labels > 0 {
		lab = fmt.Sprintf("+%d labels", cfg.Labels)
	}
	return fmt.Sprintf("%d%s -> %d %v hidden, %s, %d epochs, batch %d, lr %g, momentum %g, weight decay %g",
		in, lab, l.Hidden, l.HidUnits, method, t.Epochs, t.BatchSize, t.LearningRate, t.Momentum, t.WeightDecay)
}

// loadDBN reads a DBN model file (or an RBM file, as a DBN of one layer),
// refusing checkpoints of unfinished runs.
func loadDBN(path string) (*dbn.DBN, map[string]string, error) {
	d, meta, total, st, err := modelfile.LoadDBN(path)
	if err != nil {
		return nil, nil, err
	}
	if len(d.Layers) < total || (st != nil && st.Done < total) {
		return nil, nil, fmt.Errorf("%s is the checkpoint of an unfinished run (%d of %d layers done): finish it with harmonium dbn train --resume", path, st.Done, total)
	}
	return d, meta, nil
}

// dbnData reads the data for a DBN: standardised with the DBN's scaler,
// and checked against its visible units.
func dbnData(ctx context.Context, e *env, data *dataFlags, d *dbn.DBN, modelPath string) (*dataset.Set, error) {
	set, err := data.loadAny(ctx, e)
	if err != nil {
		return nil, err
	}
	if err := fitDBNData(d, modelPath, set); err != nil {
		return nil, err
	}
	return set, nil
}

// fitDBNData standardises set in place with the DBN's scaler and checks it
// against the DBN's visible units.
func fitDBNData(d *dbn.DBN, modelPath string, set *dataset.Set) error {
	if set.X.Cols != d.Visible() {
		return fmt.Errorf("%s has %d visible units but %s has %d values per sample", modelPath, d.Visible(), set.Source, set.X.Cols)
	}
	if s := d.Scaler(); s != nil {
		s.Apply(set.X)
	}
	if d.Layers[0].VisUnits == rbm.Bernoulli {
		return set.CheckUnitInterval()
	}
	probe := &rbm.RBM{W: mat32.New(set.X.Cols, 1), VisUnits: d.Layers[0].VisUnits}
	if err := rbm.CheckData(probe, set.X); err != nil {
		return fmt.Errorf("%s: %w", set.Source, err)
	}
	return nil
}

func runDBNClassify(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "dbn classify", "classify every sample generatively with a DBN trained with --labels: the class whose label, clamped in the top RBM, gives the lowest free energy (computed exactly, the hidden units summed out). "+
		"With labels (MNIST's, or --label-file) it prints the accuracy, error rate and confusion matrix (rows: true class, columns: predicted). MNIST folders are read from the test split unless --split train.",
		"harmonium dbn classify --model dbn.safetensors --data ../shared/data/mnist --json")
	var data dataFlags
	data.register(fs, "test")
	model := fs.String("model", "", "DBN model file trained with --labels (required)")
	labelFile := fs.String("label-file", "", "true labels, one integer per sample: .csv or .npy (MNIST folders have their own)")
	jsonOut := fs.Bool("json", false, `print one JSON object: {"accuracy":..,"error_rate":..,"n":..,"confusion":[[..]]} with labels, else {"n":..,"predictions":[..]}`)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *model == "" {
		return usageError{errors.New("--model is required")}
	}
	d, _, set, err := labelledDBN(ctx, e, &data, *model, *labelFile, "generative classification")
	if err != nil {
		return err
	}
	pred, err := d.Classify(set.X)
	if err != nil {
		return err
	}
	return reportClasses(e, set, pred, d.Labels, *jsonOut)
}

// reportClasses prints predictions, or with labels the accuracy and the
// confusion matrix.
func reportClasses(e *env, set *dataset.Set, pred []int, classes int, jsonOut bool) error {
	if set.Labels == nil {
		if jsonOut {
			return writeJSON(e.stdout, e.stderr, map[string]any{"n": len(pred), "predictions": pred})
		}
		var b strings.Builder
		for _, p := range pred {
			b.WriteString(strconv.Itoa(p) + "\n")
		}
		_, err := fmt.Fprint(e.stdout, b.String())
		return err
	}
	return writeClassification(e, set, pred, classes, jsonOut)
}

func runDBNSample(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "dbn sample", "draw dreams from a DBN: Gibbs chains in the top RBM, started at random, run for --steps with a label clamped (--label C), or the labels sampled too (--label free), then one pass down to the data, drawn as a grid. "+
		"Without --label a DBN with labels draws one row of --n samples per class (10 by default); one without labels draws --n unclamped samples (64 by default).",
		"harmonium dbn sample --model dbn.safetensors --out dreams.png\n  harmonium dbn sample --model dbn.safetensors --label 3 --n 64 --steps 1000 --out threes.png")
	var f dbnSampleFlags
	f.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := f.check(); err != nil {
		return err
	}
	d, meta, err := loadDBN(f.pic.model)
	if err != nil {
		return err
	}
	labels, err := dreamLabels(f.label, d, f.pic.model)
	if err != nil {
		return err
	}
	per := f.perGroup(len(labels))
	shape, zoom, cols, err := f.layout(d, meta, len(labels), per)
	if err != nil {
		return err
	}
	var set *dataset.Set
	if f.data.path != "" {
		if set, err = dbnData(ctx, e, &f.data, d, f.pic.model); err != nil {
			return err
		}
	}
	images, err := f.dream(ctx, e, d, set, labels, per)
	if err != nil {
		return err
	}
	img := viz.Grid(images, shape, cols, zoom)
	return f.pic.write(e, img, f.quiet, fmt.Sprintf("%s, %d Gibbs steps in the top RBM", dreamText(labels, per), f.steps))
}

// dbnSampleFlags are the settings of dbn sample.
type dbnSampleFlags struct {
	pic      pictureFlags
	data     dataFlags
	label    string
	n, steps int
	seed     uint64
	quiet    bool
}

// register defines the flags of dbn sample.
func (f *dbnSampleFlags) register(fs *flag.FlagSet) {
	f.pic.register(fs)
	f.data.register(fs, "train")
	fs.Lookup("data").Usage = "start the chains at the up pass of samples of this data (of the clamped class when it has labels) instead of at random: " + fs.Lookup("data").Usage
	fs.StringVar(&f.pic.model, "model", "", "DBN model file (required)")
	fs.StringVar(&f.label, "label", "", "clamp this class (0..classes-1), or 'free' to sample the labels too (default: one row per class)")
	fs.IntVar(&f.n, "n", 0, "samples (per class without --label; default 10 per class, or 64)")
	fs.IntVar(&f.steps, "steps", 1000, "Gibbs steps in the top RBM")
	fs.Uint64Var(&f.seed, "seed", 1, "random seed")
	fs.BoolVar(&f.quiet, "quiet", false, "print nothing but errors")
}

// check validates the flags that need no model.
func (f *dbnSampleFlags) check() error {
	if err := f.pic.checkWithModel(); err != nil {
		return err
	}
	if f.n < 0 || f.steps < 1 {
		return usageError{fmt.Errorf("--n must not be negative and --steps must be positive, got %d and %d", f.n, f.steps)}
	}
	return checkOutputs(f.pic.out)
}

// perGroup returns the number of dreams of each of groups groups: --n, or
// by default 10 per class or 64 in one group.
func (f *dbnSampleFlags) perGroup(groups int) int {
	if f.n > 0 {
		return f.n
	}
	if groups > 1 {
		return 10
	}
	return 64
}

// layout returns the image shape, zoom and columns of the grid of dreams
// (one row per group when there are several), checking its size.
func (f *dbnSampleFlags) layout(d *dbn.DBN, meta map[string]string, groups, per int) (shape viz.Shape, zoom, cols int, err error) {
	if shape, zoom, err = f.pic.resolve(d.Visible(), nil, meta); err != nil {
		return shape, zoom, 0, err
	}
	cols = viz.GridCols(per)
	if groups > 1 {
		cols = per
	}
	return shape, zoom, cols, viz.CheckGrid(per*groups, shape, cols, zoom, 1)
}

// dream runs per chains for each label (started at samples of set when it
// is not nil), showing progress, and returns the dreams as grey levels.
func (f *dbnSampleFlags) dream(ctx context.Context, e *env, d *dbn.DBN, set *dataset.Set, labels []int, per int) ([][]float32, error) {
	b := newBar(e, "dreaming", f.quiet)
	var images [][]float32
	for k, y := range labels {
		start, err := dreamStart(set, y, per, f.seed+uint64(k))
		if err != nil {
			return nil, err
		}
		x, err := d.DreamFrom(ctx, y, start, per, f.steps, f.seed+uint64(k), func(done, total int) { b.update(k*total+done, len(labels)*total, "") })
		if err != nil {
			b.done()
			if errors.Is(err, context.Canceled) {
				return nil, fmt.Errorf("%w: nothing written", errInterrupted)
			}
			return nil, err
		}
		for r := range x.Rows {
			images = append(images, greys(d.Layers[0], x.Slice(r, r+1))[0].Row(0))
		}
	}
	b.done()
	return images, nil
}

// dreamStart returns n samples of set (of class y when set has labels and
// y >= 0) chosen by seed, where chains start; nil when set is nil.
func dreamStart(set *dataset.Set, y, n int, seed uint64) (*mat32.Dense, error) {
	if set == nil {
		return nil, nil
	}
	var rows []int
	for i := range set.X.Rows {
		if y < 0 || set.Labels == nil || set.Labels[i] == y {
			rows = append(rows, i)
		}
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s has no samples of class %d to start the chains at", set.Source, y)
	}
	r := rand.New(rand.NewPCG(seed, 3))
	start := mat32.New(n, set.X.Cols)
	for i := range n {
		copy(start.Row(i), set.X.Row(rows[r.IntN(len(rows))]))
	}
	return start, nil
}

// dreamLabels returns the label of each group of dreams (-1: unclamped).
func dreamLabels(flag string, d *dbn.DBN, path string) ([]int, error) {
	switch {
	case flag == "free":
		return []int{-1}, nil
	case flag == "" && d.Labels == 0:
		return []int{-1}, nil
	case flag == "":
		out := make([]int, d.Labels)
		for i := range out {
			out[i] = i
		}
		return out, nil
	}
	y, err := strconv.Atoi(flag)
	if err != nil || y < 0 {
		return nil, usageError{fmt.Errorf("--label must be a class number or 'free', got %q", flag)}
	}
	if d.Labels == 0 {
		return nil, fmt.Errorf("%s was trained without labels: --label needs dbn train --labels (use --label free or leave it out)", path)
	}
	if y >= d.Labels {
		return nil, fmt.Errorf("--label %d is outside 0..%d: %s has %d classes", y, d.Labels-1, path, d.Labels)
	}
	return []int{y}, nil
}

func dreamText(labels []int, per int) string {
	switch {
	case len(labels) > 1:
		return fmt.Sprintf("one row of %d per class 0..%d", per, len(labels)-1)
	case labels[0] < 0:
		return fmt.Sprintf("%d unclamped dreams", per)
	}
	return fmt.Sprintf("%d dreams of class %d", per, labels[0])
}

// finetuneFlags are the settings of finetune.
type finetuneFlags struct {
	data                           dataFlags
	model, task, labelFile, out    string
	optimizer                      string
	epochs, batch                  int
	lr, lrDecay, momentum, dropout float64
	validate                       float64
	json, quiet                    bool
	seed                           uint64
}

func (f *finetuneFlags) register(fs *flag.FlagSet) {
	f.data.register(fs, "train")
	fs.StringVar(&f.model, "model", "", "DBN model file from harmonium dbn train (required)")
	fs.StringVar(&f.task, "task", "classify", "what to fine-tune for: classify (a softmax output layer, cross-entropy; saved as harmonium.nn/v1) or autoencode (a deep autoencoder: the stack unrolled into an encoder and a decoder with the transposed weights, fine-tuned on reconstruction cross-entropy; saved as harmonium.ae/v1; its recipe: adam, lr 0.001, no dropout, no decay, 50 epochs)")
	fs.StringVar(&f.labelFile, "label-file", "", "labels, one integer per sample: .csv or .npy (MNIST folders have their own)")
	fs.IntVar(&f.epochs, "epochs", 50, "passes over the training data")
	fs.IntVar(&f.batch, "batch", 100, "minibatch size")
	fs.StringVar(&f.optimizer, "optimizer", "sgd", "sgd (with --momentum), adam, rmsprop or adagrad")
	fs.Float64Var(&f.lr, "lr", 0.1, "learning rate (0.001 suits adam)")
	fs.Float64Var(&f.lrDecay, "lr-decay", 0.97, "multiply the learning rate by this every epoch")
	fs.Float64Var(&f.momentum, "momentum", 0.9, "momentum of --optimizer sgd")
	fs.Float64Var(&f.dropout, "dropout", 0.2, "dropout rate after every hidden layer (0 turns it off; Srivastava et al. 2014 use 0.5, with many more epochs)")
	fs.Float64Var(&f.validate, "validate", 0, "hold out this fraction of the data (chosen by --seed) and report its loss and accuracy each epoch")
	fs.Uint64Var(&f.seed, "seed", 1, "random seed: output weights, minibatch order, dropout")
	fs.StringVar(&f.out, "out", "net.safetensors", "where to save the network (harmonium.nn/v1)")
	fs.BoolVar(&f.json, "json", false, "print the result as one JSON object on stdout")
	fs.BoolVar(&f.quiet, "quiet", false, "print nothing but errors (and --json)")
}

// config checks the settings and returns the training configuration.
func (f *finetuneFlags) config() (nn.Config, error) {
	bad := func(format string, a ...any) (nn.Config, error) {
		return nn.Config{}, usageError{fmt.Errorf(format, a...)}
	}
	switch {
	case f.model == "":
		return bad("--model is required")
	case f.task != "classify" && f.task != "autoencode":
		return bad("--task must be classify or autoencode, got %q", f.task)
	case f.task == "autoencode" && f.dropout != 0:
		return bad("--dropout applies to --task classify")
	case f.epochs < 1 || f.batch < 1:
		return bad("--epochs and --batch must be positive")
	case !(f.dropout >= 0 && f.dropout < 1), !(f.validate >= 0 && f.validate < 1):
		return bad("--dropout and --validate must be in [0, 1)")
	case !(f.lrDecay > 0 && f.lrDecay <= 1):
		return bad("--lr-decay must be in (0, 1], got %g", f.lrDecay)
	}
	return withOptimizer(nn.Config{Epochs: f.epochs, BatchSize: f.batch, LearningRate: f.lr, Seed: f.seed}, f.optimizer, f.momentum, false, f.lrDecay)
}

func runFinetune(ctx context.Context, e *env, args []string) error {
	var f finetuneFlags
	fs := newFlags(e, "finetune", "unroll a DBN (harmonium dbn train) into a feed-forward network: one dense layer per RBM with its weights and hidden biases, sigmoid units, and a softmax output layer; then train the whole network by backpropagation on labelled data and save it as a harmonium.nn/v1 network, which harmonium classify and features read. "+
		"The defaults are the recipe: SGD with momentum 0.9, learning rate 0.1 decayed by 0.97 per epoch, dropout 0.2 after every hidden layer, 50 epochs, batch 100 (MNIST, 784-500-500-2000: 1.16% test error; without dropout, lr 0.05, 30 epochs: 1.38%). MNIST folders are read from the training split.",
		"harmonium finetune --model dbn.safetensors --data ../shared/data/mnist --task classify --seed 1 --out net.safetensors\n"+
			"  harmonium classify --model net.safetensors --data ../shared/data/mnist --json")
	f.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if f.task == "autoencode" {
		f.autoencodeRecipe(fs)
	}
	if given(fs)["momentum"] && f.optimizer != "sgd" {
		return usageError{fmt.Errorf("--momentum applies to --optimizer sgd only, not %s", f.optimizer)}
	}
	cfg, err := f.config()
	if err != nil {
		return err
	}
	if err := checkOutputs(f.out); err != nil {
		return err
	}
	if kind, _, err := modelfile.KindOf(f.model); err == nil && kind == modelfile.KindRBM {
		return fmt.Errorf("%s is a single RBM (%s), not a DBN: pretrain a stack with harmonium dbn train --layers 500,500,2000 (or --layers N for one layer) and fine-tune that", f.model, modelfile.FormatRBM)
	}
	d, meta, err := loadDBN(f.model)
	if err != nil {
		return err
	}
	if f.task == "autoencode" {
		return f.autoencode(ctx, e, d, cfg, meta)
	}
	train, val, classes, err := f.load(ctx, e, d)
	if err != nil {
		return err
	}
	net, err := d.Classifier(classes, f.dropout, f.seed)
	if err != nil {
		return fmt.Errorf("%s: %w", f.model, err)
	}
	return f.run(ctx, e, net, cfg, train, val, meta)
}

// load reads the labelled training data (raw: the network folds the
// DBN's standardisation in) and splits off the validation part.
func (f *finetuneFlags) load(ctx context.Context, e *env, d *dbn.DBN) (train, val nn.Data, classes int, err error) {
	set, err := f.data.loadAny(ctx, e)
	if err != nil {
		return train, val, 0, err
	}
	if set.X.Cols != d.Visible() {
		return train, val, 0, fmt.Errorf("%s has %d visible units but %s has %d values per sample", f.model, d.Visible(), set.Source, set.X.Cols)
	}
	if f.labelFile != "" {
		if set.Labels, err = dataset.ReadLabels(f.labelFile); err != nil {
			return train, val, 0, err
		}
		if len(set.Labels) != set.X.Rows {
			return train, val, 0, fmt.Errorf("%s has %d labels, but %s has %d samples: one label per sample", f.labelFile, len(set.Labels), set.Source, set.X.Rows)
		}
	}
	if set.Labels == nil {
		return train, val, 0, usageError{fmt.Errorf("%s has no labels: pass --label-file FILE (.csv or .npy, one integer per sample)", set.Source)}
	}
	classes = d.Labels
	for _, y := range set.Labels {
		classes = max(classes, y+1)
	}
	if classes < 2 {
		return train, val, 0, fmt.Errorf("the labels of %s hold a single class; a classifier needs at least 2", set.Source)
	}
	train = nn.Data{X: set.X, Targets: nn.Targets{Labels: set.Labels}}
	if f.validate > 0 {
		train, val = train.Split(f.validate, f.seed)
	}
	return train, val, classes, nil
}

// run trains the network and saves it.
func (f *finetuneFlags) run(ctx context.Context, e *env, net *nn.Network, cfg nn.Config, train, val nn.Data, dbnMeta map[string]string) error {
	say := func(format string, a ...any) {
		if !f.quiet {
			fmt.Fprintf(e.stderr, format, a...)
		}
	}
	say("fine-tuning %s: %d samples, %d epochs, %s lr %g; products: %s\n", f.model, train.Rows(), cfg.Epochs, f.optimizer, f.lr, mat32.Backend())
	start := time.Now()
	var history []nn.EpochStats
	b, hooks := f.hooks(e, cfg.Epochs, &history, func(s nn.EpochStats) string {
		line := fmt.Sprintf("epoch %3d/%d  loss %.4f  accuracy %.4f", s.Epoch, cfg.Epochs, s.Loss, s.Accuracy)
		if val.X != nil {
			line += fmt.Sprintf("  validation: loss %.4f, accuracy %.4f", s.ValLoss, s.ValAccuracy)
		}
		return fmt.Sprintf("%s  %6.2f s", line, s.Duration.Seconds())
	})
	_, err := net.Fit(ctx, train, val, cfg, hooks)
	b.done()
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("%w: nothing written", errInterrupted)
		}
		return err
	}
	elapsed := time.Since(start)
	meta := f.meta(cfg.Epochs, elapsed, dbnMeta)
	meta["dropout"], meta["train_seconds"], meta["data"] = strconv.FormatFloat(f.dropout, 'g', -1, 64), strconv.FormatFloat(elapsed.Seconds(), 'f', 2, 64), f.data.path
	if err := modelfile.SaveNN(f.out, net, meta); err != nil {
		return err
	}
	say("saved %s after %s\n", f.out, fmtDuration(elapsed))
	if f.json {
		last := history[len(history)-1]
		res := map[string]any{"model": f.out, "epochs": len(history), "loss": last.Loss, "accuracy": last.Accuracy, "seconds": elapsed.Seconds()}
		if val.X != nil {
			res["validation_accuracy"] = last.ValAccuracy
		}
		return writeJSON(e.stdout, e.stderr, res)
	}
	return nil
}

// pictures writes --curve and --report.
func (f *dbnTrainFlags) pictures(ctx context.Context, e *env, d *dbn.DBN, cfg dbn.Config, set *dataset.Set, h []dbnRecord, elapsed time.Duration) error {
	if f.curve != "" {
		if err := viz.WriteCurves(f.curve, dbnCurvePanels(h, len(d.Layers))); err != nil {
			return err
		}
		if !f.quiet {
			fmt.Fprintf(e.stderr, "wrote %s\n", f.curve)
		}
	}
	if f.report == "" {
		return nil
	}
	r, err := buildDBNReport(ctx, d, cfg, set, h, elapsed, f.seed)
	if err != nil {
		return err
	}
	if err := viz.WriteReport(f.report, r); err != nil {
		return err
	}
	if !f.quiet {
		fmt.Fprintf(e.stderr, "wrote %s\n", f.report)
	}
	return nil
}

// labelledDBN reads a DBN trained with labels and the data for it, with
// the labels of labelFile (or the data's own) checked against the
// samples (the first ones with --limit) and the DBN's classes. purpose
// names what needs the labels, for the message.
func labelledDBN(ctx context.Context, e *env, data *dataFlags, model, labelFile, purpose string) (*dbn.DBN, map[string]string, *dataset.Set, error) {
	d, meta, err := loadDBN(model)
	if err != nil {
		return nil, nil, nil, err
	}
	if d.Labels == 0 {
		return nil, nil, nil, fmt.Errorf("%s was trained without labels: %s needs dbn train --labels", model, purpose)
	}
	set, err := dbnData(ctx, e, data, d, model)
	if err != nil {
		return nil, nil, nil, err
	}
	if labelFile != "" {
		if set.Labels, err = dataset.ReadLabels(labelFile); err != nil {
			return nil, nil, nil, err
		}
		if len(set.Labels) < set.X.Rows || (data.limit == 0 && len(set.Labels) != set.X.Rows) {
			return nil, nil, nil, fmt.Errorf("%s has %d labels, but %s has %d samples: one label per sample", labelFile, len(set.Labels), set.Source, set.X.Rows)
		}
		set.Labels = set.Labels[:set.X.Rows]
	}
	for i, y := range set.Labels {
		if y < 0 || y >= d.Labels {
			return nil, nil, nil, fmt.Errorf("%s: sample %d has label %d, outside 0..%d (%s has %d classes)", set.Source, i+1, y, d.Labels-1, model, d.Labels)
		}
	}
	return d, meta, set, nil
}
