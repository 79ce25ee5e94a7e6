package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/harmonium-ml/harmonium/dataset"
	"github.com/harmonium-ml/harmonium/internal/memguard"
	"github.com/harmonium-ml/harmonium/mat32"
	"github.com/harmonium-ml/harmonium/modelfile"
	"github.com/harmonium-ml/harmonium/nn"
	"github.com/harmonium-ml/harmonium/viz"
)

func runNN(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] == "--help" || args[0] == "-h" || args[0] == "help" {
		fmt.Fprintln(e.stdout, "harmonium nn: neural networks trained by backpropagation.")
		fmt.Fprintln(e.stdout, "\nCommands:\n  train      train a classifier (an MLP or the CNN) on labelled data and save it")
		fmt.Fprintln(e.stdout, "\nThen 'harmonium classify' predicts with it and 'harmonium features --layer K' gives a hidden layer's activations.")
		fmt.Fprintln(e.stdout, "\nExample:\n  harmonium nn train --data ../shared/data/mnist --arch mlp:800,800 --seed 1 --out mlp.safetensors\n  harmonium classify --model mlp.safetensors --data ../shared/data/mnist --json")
		return nil
	}
	if args[0] != "train" {
		return usageError{fmt.Errorf("unknown nn command %q (want train)", args[0])}
	}
	return runNNTrain(ctx, e, args[1:])
}

// recipe is the training settings an architecture uses for the flags the
// user leaves unset.
type recipe struct {
	epochs, batch                  int
	optimizer                      string
	lr, lrDecay                    float64
	dropout, inputDropout, maxNorm float64
}

// recipes are the defaults of each architecture family. mlp follows
// Srivastava et al. (2014): dropout 0.5 on the hidden units and 0.2 on the
// input, and a max-norm constraint on every unit's incoming weights;
// cnn is the seeds' network with dropout before its output layer.
var recipes = map[string]recipe{
	"mlp": {epochs: 100, batch: 100, optimizer: "adam", lr: 1e-3, lrDecay: 0.97, dropout: 0.5, inputDropout: 0.2, maxNorm: 3.5},
	"cnn": {epochs: 15, batch: 100, optimizer: "adam", lr: 1e-3, lrDecay: 0.85, dropout: 0.5},
}

// archFamily returns the family of an --arch spec ("mlp", "cnn"), which
// selects its recipe, or "" for a spec that names none.
func archFamily(spec string) string {
	name, _, _ := strings.Cut(spec, ":")
	if _, ok := recipes[name]; ok {
		return name
	}
	return ""
}

// buildArch turns an --arch spec into the architecture for samples of shape
// in (image says whether in is an image's shape or only a length) and the
// given number of classes, with the dropout rates given.
func buildArch(spec string, in nn.Shape, image bool, classes int, dropout, inputDropout float64) (nn.Arch, error) {
	name, args, hasArgs := strings.Cut(spec, ":")
	var a nn.Arch
	switch name {
	case "mlp":
		var hidden []int
		if hasArgs && strings.TrimSpace(args) != "" {
			for _, f := range strings.Split(args, ",") {
				h, err := strconv.Atoi(strings.TrimSpace(f))
				if err != nil || h <= 0 || h > nn.MaxDim {
					return nn.Arch{}, usageError{fmt.Errorf("--arch %q: hidden layer sizes must be integers in [1, %d], got %q", spec, nn.MaxDim, f)}
				}
				hidden = append(hidden, h)
			}
		}
		var opts []nn.MLPOption
		if inputDropout > 0 {
			opts = append(opts, nn.InputDropout(inputDropout))
		}
		a = nn.MLPArch(in.Size(), hidden, classes, dropout, opts...)
	case "cnn":
		if hasArgs {
			return nn.Arch{}, usageError{fmt.Errorf("--arch %q: cnn takes no arguments", spec)}
		}
		if !image {
			return nn.Arch{}, fmt.Errorf("--arch cnn needs images, and the data are %d values per sample with no image shape (MNIST folders have one; else pass --image-shape HxW)", in.Size())
		}
		a = nn.CNNArch(in.C, in.H, in.W, classes)
		var layers []nn.LayerSpec
		for _, l := range a.Layers {
			if l.Kind == nn.KindDropout {
				if dropout == 0 {
					continue
				}
				l.Rate = dropout
			}
			layers = append(layers, l)
		}
		a.Layers = layers
	case "layers":
		layers, err := parseLayers(args)
		if err != nil {
			return nn.Arch{}, usageError{fmt.Errorf("--arch %q: %v", spec, err)}
		}
		if !image && slices.ContainsFunc(layers, func(l nn.LayerSpec) bool { return l.Kind == nn.KindConv2D || l.Kind == nn.KindMaxPool2D }) {
			return nn.Arch{}, fmt.Errorf("--arch %s has image layers, and the data are %d values per sample with no image shape (MNIST folders have one; else pass --image-shape HxW)", spec, in.Size())
		}
		a = nn.Arch{Input: in, Layers: append(layers, nn.LayerSpec{Kind: nn.KindDense, Units: classes, Init: "xavier"})}
	default:
		return nn.Arch{}, usageError{fmt.Errorf("--arch %q: unknown architecture (want mlp:H1,H2,... such as mlp:800,800, cnn, or layers:...)", spec)}
	}
	if _, err := a.Params(); err != nil {
		return nn.Arch{}, fmt.Errorf("--arch %s does not fit the data's %v samples: %w", spec, in, err)
	}
	return a, nil
}

// layerToken is one layer of --arch layers:...: a kind and its numbers.
var layerToken = regexp.MustCompile(`^(dense|conv|pool|dropout|leaky_relu|relu|tanh|sigmoid|flatten)([0-9.]*)(?:k([0-9]+))?(?:s([0-9]+))?(?:p([0-9]+))?$`)

// parseLayers reads the layers of --arch layers:..., comma-separated:
// denseN (N ReLU-ready units, He initialisation), convFkK[sS][pP] (F
// filters of K x K, stride S, padding P; He), poolW[sS] (W x W max-pooling,
// stride S, default W), flatten, relu, tanh, sigmoid, leaky_reluA,
// dropoutP. The output layer is added by the caller.
func parseLayers(s string) ([]nn.LayerSpec, error) {
	var layers []nn.LayerSpec
	for _, tok := range strings.Split(s, ",") {
		tok = strings.TrimSpace(tok)
		m := layerToken.FindStringSubmatch(tok)
		if m == nil {
			return nil, fmt.Errorf("layer %q is not one of denseN, convFkK[sS][pP], poolW[sS], flatten, relu, tanh, sigmoid, leaky_reluA, dropoutP", tok)
		}
		kind, num, opt := m[1], m[2], m[3:]
		atoi := func(v string, def int) (int, error) {
			if v == "" {
				return def, nil
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > nn.MaxDim {
				return 0, fmt.Errorf("layer %q: %q is not a size", tok, v)
			}
			return n, nil
		}
		needsNum := kind == "dense" || kind == "conv" || kind == "pool" || kind == "dropout" || kind == "leaky_relu"
		if needsNum != (num != "") || (kind != "conv" && opt[0] != "") || (kind != "conv" && kind != "pool" && opt[1] != "") || (kind != "conv" && opt[2] != "") {
			return nil, fmt.Errorf("layer %q is not one of denseN, convFkK[sS][pP], poolW[sS], flatten, relu, tanh, sigmoid, leaky_reluA, dropoutP", tok)
		}
		var l nn.LayerSpec
		var err error
		switch kind {
		case "dense":
			l = nn.LayerSpec{Kind: nn.KindDense, Init: "he"}
			l.Units, err = atoi(num, 0)
		case "conv":
			l = nn.LayerSpec{Kind: nn.KindConv2D, Init: "he"}
			if l.Filters, err = atoi(num, 0); err == nil {
				if l.Kernel, err = atoi(opt[0], 3); err == nil {
					if l.Stride, err = atoi(opt[1], 1); err == nil {
						l.Pad, err = atoi(opt[2], 0)
					}
				}
			}
		case "pool":
			l = nn.LayerSpec{Kind: nn.KindMaxPool2D}
			if l.Window, err = atoi(num, 0); err == nil {
				l.Stride, err = atoi(opt[1], l.Window)
			}
		case "dropout", "leaky_relu":
			var v float64
			v, err = strconv.ParseFloat(num, 64)
			if err != nil {
				return nil, fmt.Errorf("layer %q: %q is not a number", tok, num)
			}
			if kind == "dropout" {
				l = nn.LayerSpec{Kind: nn.KindDropout, Rate: v}
			} else {
				l = nn.LayerSpec{Kind: nn.KindLeakyReLU, Alpha: v}
			}
		default:
			l = nn.LayerSpec{Kind: map[string]string{"flatten": nn.KindFlatten, "relu": nn.KindReLU, "tanh": nn.KindTanh, "sigmoid": nn.KindSigmoid}[kind]}
		}
		if err != nil {
			return nil, err
		}
		layers = append(layers, l)
	}
	return layers, nil
}

// parseImageShape reads --image-shape: "HxW" or "CxHxW".
func parseImageShape(s string) (nn.Shape, error) {
	parts := strings.Split(s, "x")
	if len(parts) == 2 {
		parts = append([]string{"1"}, parts...)
	}
	var d [3]int
	if len(parts) != 3 {
		return nn.Shape{}, usageError{fmt.Errorf("--image-shape must be HxW or CxHxW, got %q", s)}
	}
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v <= 0 || v > nn.MaxDim {
			return nn.Shape{}, usageError{fmt.Errorf("--image-shape must be HxW or CxHxW with positive sizes, got %q", s)}
		}
		d[i] = v
	}
	return nn.Shape{C: d[0], H: d[1], W: d[2]}, nil
}

// sampleShape returns the shape of a sample of set: the --image-shape
// given, the images' own (MNIST), or a vector; image reports whether it is
// an image.
func sampleShape(set *dataset.Set, imageShape string) (shape nn.Shape, image bool, err error) {
	switch {
	case imageShape != "":
		s, err := parseImageShape(imageShape)
		if err != nil {
			return nn.Shape{}, false, err
		}
		if s.Size() != set.X.Cols {
			return nn.Shape{}, false, fmt.Errorf("--image-shape %s has %d values, but %s has %d values per sample", imageShape, s.Size(), set.Source, set.X.Cols)
		}
		return s, true, nil
	case set.Height > 0 && set.Width > 0 && set.Height*set.Width == set.X.Cols:
		return nn.Shape{C: 1, H: set.Height, W: set.Width}, true, nil
	}
	return nn.Flat(set.X.Cols), false, nil
}

// loadLabelled reads the data and the labels (from labelsPath, or the
// data's own, as MNIST folders have), checking that there is one label per
// sample, and then keeps the first --limit samples. It returns where the
// labels came from, for messages. Without labels it fails when need is
// set, else returns the data alone.
func loadLabelled(ctx context.Context, e *env, data *dataFlags, labelsPath string, need bool) (*dataset.Set, string, error) {
	limit := data.limit
	if limit < 0 {
		return nil, "", usageError{fmt.Errorf("--limit must not be negative, got %d", limit)}
	}
	data.limit = 0
	defer func() { data.limit = limit }()
	set, err := data.loadAny(ctx, e)
	if err != nil {
		return nil, "", err
	}
	source := set.Source
	if labelsPath != "" {
		labels, err := dataset.ReadLabels(labelsPath)
		if err != nil {
			return nil, "", err
		}
		if len(labels) != set.X.Rows {
			return nil, "", fmt.Errorf("%s has %d labels, but %s has %d samples: one label per sample", labelsPath, len(labels), set.Source, set.X.Rows)
		}
		set.Labels, source = labels, labelsPath
	}
	if need && set.Labels == nil {
		return nil, "", usageError{fmt.Errorf("%s has no labels: pass --labels FILE (.csv or .npy, one integer per sample)", set.Source)}
	}
	if set.Labels != nil && len(set.Labels) != set.X.Rows {
		return nil, "", fmt.Errorf("%s has %d labels for %d samples", source, len(set.Labels), set.X.Rows)
	}
	return set.Head(limit), source, nil
}

// checkLabels reports the first label outside 0..classes-1.
func checkLabels(labels []int, classes int, source, why string) error {
	for i, l := range labels {
		if l < 0 || l >= classes {
			return fmt.Errorf("%s: sample %d has label %d, outside 0..%d (%s)", source, i+1, l, classes-1, why)
		}
	}
	return nil
}

func maxLabel(labels []int) int {
	m := 0
	for _, l := range labels {
		m = max(m, l)
	}
	return m
}

// nnTrainFlags are the settings of nn train.
type nnTrainFlags struct {
	arch, optimizer, curve, labels, out, imageShape string
	epochs, batch, patience, classes                int
	lr, lrDecay, momentum, dropout, inputDropout    float64
	maxNorm, l1, l2, validate                       float64
	nesterov, json, quiet                           bool
	seed                                            uint64
}

func (f *nnTrainFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.arch, "arch", "", "architecture (required): mlp:H1,H2,... (dense ReLU layers of those sizes, then a softmax output, e.g. mlp:800,800); cnn (5x5 conv 32, 2x2 max-pool, 5x5 conv 64, 2x2 max-pool, dense 1024, dropout, softmax); or layers:L1,L2,... from denseN, convFkK[sS][pP], poolW[sS], flatten, relu, tanh, sigmoid, leaky_reluA, dropoutP, then a softmax output (e.g. layers:conv16k3p1,relu,pool2,flatten,dense128,relu,dropout0.5; --dropout and --input-dropout do not apply)")
	fs.IntVar(&f.epochs, "epochs", 0, "passes over the training data (default: the architecture's recipe, mlp 100, cnn 15)")
	fs.IntVar(&f.batch, "batch", 0, "samples per minibatch (default 100)")
	fs.StringVar(&f.optimizer, "optimizer", "", "adam, sgd, rmsprop or adagrad (default adam)")
	fs.Float64Var(&f.lr, "lr", 0, "learning rate (default 0.001; 0.01 for sgd)")
	fs.Float64Var(&f.lrDecay, "lr-decay", 0, "multiply the learning rate by this every epoch (default: mlp 0.97, cnn 0.85; 1 keeps it)")
	fs.Float64Var(&f.momentum, "momentum", 0, "sgd: momentum in [0, 1) (default 0.9 for sgd)")
	fs.BoolVar(&f.nesterov, "nesterov", false, "sgd: Nesterov momentum")
	fs.Float64Var(&f.dropout, "dropout", 0, "dropout rate of the hidden layers (default 0.5; 0 turns it off)")
	fs.Float64Var(&f.inputDropout, "input-dropout", 0, "mlp: dropout rate of the inputs (default 0.2)")
	fs.Float64Var(&f.maxNorm, "max-norm", 0, "rescale every unit's incoming weights to at most this Euclidean norm (default: mlp 3.5, cnn off; 0 turns it off)")
	fs.Float64Var(&f.l2, "l2", 0, "L2 penalty on the weights (PyTorch's weight_decay)")
	fs.Float64Var(&f.l1, "l1", 0, "L1 penalty on the weights")
	fs.Float64Var(&f.validate, "validate", 0, "hold out this fraction of the training data (drawn with --seed) and report its loss and accuracy each epoch")
	fs.IntVar(&f.patience, "patience", 0, "with --validate: stop once the validation loss has not improved for this many epochs, keeping the best weights")
	fs.IntVar(&f.classes, "classes", 0, "number of classes (default: the largest label + 1)")
	fs.Uint64Var(&f.seed, "seed", 1, "random seed: weights, minibatch order, dropout, the validation split")
	fs.StringVar(&f.curve, "curve", "", "write the per-epoch loss and accuracy as a plot (.png or .svg)")
	fs.StringVar(&f.labels, "labels", "", "labels, one integer per sample: a .csv (one per line) or .npy file (MNIST folders have their own)")
	fs.StringVar(&f.imageShape, "image-shape", "", "the samples' image shape, HxW or CxHxW, for cnn on CSV or NPY data (MNIST folders give it)")
	fs.BoolVar(&f.json, "json", false, "print the per-epoch statistics as one JSON object on stdout")
	fs.BoolVar(&f.quiet, "quiet", false, "no per-epoch lines or progress bar")
	fs.StringVar(&f.out, "out", "", "where to save the network, a safetensors file (required)")
}

// applyRecipe fills the flags the user did not set from the architecture's
// recipe. It fails for a dropout flag the architecture does not use.
func (f *nnTrainFlags) applyRecipe(fs *flag.FlagSet) error {
	family := archFamily(f.arch)
	r, ok := recipes[family]
	if !ok {
		r = recipe{epochs: 20, batch: 100, optimizer: "adam", lr: 1e-3, lrDecay: 1}
	}
	set := given(fs)
	switch {
	case family == "" && (set["dropout"] || set["input-dropout"]):
		return usageError{fmt.Errorf("--dropout and --input-dropout apply to mlp and cnn; with --arch layers:... put dropoutP layers in the spec")}
	case family == "cnn" && set["input-dropout"]:
		return usageError{fmt.Errorf("--input-dropout applies to mlp only")}
	}
	if !set["epochs"] {
		f.epochs = r.epochs
	}
	if !set["batch"] {
		f.batch = r.batch
	}
	if !set["optimizer"] {
		f.optimizer = r.optimizer
	}
	if !set["lr"] {
		f.lr = r.lr
		if f.optimizer == "sgd" {
			f.lr = 0.01
		}
	}
	if !set["lr-decay"] {
		f.lrDecay = r.lrDecay
	}
	if !set["momentum"] && f.optimizer == "sgd" {
		f.momentum = 0.9
	}
	if !set["dropout"] {
		f.dropout = r.dropout
	}
	if !set["input-dropout"] {
		f.inputDropout = r.inputDropout
	}
	if !set["max-norm"] {
		f.maxNorm = r.maxNorm
	}
	return nil
}

// config checks the settings and returns the training configuration.
func (f *nnTrainFlags) config() (nn.Config, error) {
	bad := func(format string, a ...any) (nn.Config, error) {
		return nn.Config{}, usageError{fmt.Errorf(format, a...)}
	}
	unit := func(x float64) bool { return x >= 0 && x < 1 }
	switch {
	case f.epochs <= 0:
		return bad("--epochs must be positive, got %d", f.epochs)
	case f.batch <= 0:
		return bad("--batch must be positive, got %d", f.batch)
	case !unit(f.dropout):
		return bad("--dropout must be in [0, 1), got %g", f.dropout)
	case !unit(f.inputDropout):
		return bad("--input-dropout must be in [0, 1), got %g", f.inputDropout)
	case !(f.lrDecay > 0 && f.lrDecay <= 1):
		return bad("--lr-decay must be in (0, 1], got %g", f.lrDecay)
	case !unit(f.validate):
		return bad("--validate must be in [0, 1), got %g", f.validate)
	case f.patience < 0:
		return bad("--patience must not be negative, got %d", f.patience)
	case f.patience > 0 && f.validate == 0:
		return bad("--patience needs --validate FRACTION")
	case f.classes < 0:
		return bad("--classes must not be negative, got %d", f.classes)
	case f.momentum != 0 && f.optimizer != "sgd", f.nesterov && f.optimizer != "sgd":
		return bad("--momentum and --nesterov apply to --optimizer sgd only")
	}
	cfg := nn.Config{Epochs: f.epochs, BatchSize: f.batch, LearningRate: f.lr, L1: f.l1, L2: f.l2, MaxNorm: f.maxNorm, Patience: f.patience, Seed: f.seed}
	return withOptimizer(cfg, f.optimizer, f.momentum, f.nesterov, f.lrDecay)
}

// withOptimizer completes cfg with the optimiser and the per-epoch
// learning-rate decay that the backpropagation commands' flags name, and
// validates it.
func withOptimizer(cfg nn.Config, optimizer string, momentum float64, nesterov bool, lrDecay float64) (nn.Config, error) {
	if lrDecay != 1 {
		cfg.Schedule = nn.ExpDecay{Gamma: lrDecay}
	}
	opt, err := nn.ParseOptimizer(optimizer, momentum, nesterov)
	if err != nil {
		return nn.Config{}, usageError{fmt.Errorf("--optimizer must be adam, sgd, rmsprop or adagrad, got %q", optimizer)}
	}
	cfg.Optimizer = opt
	if err := cfg.Validate(); err != nil {
		return nn.Config{}, usageError{err}
	}
	return cfg, nil
}

func runNNTrain(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "nn train", "train a neural-network classifier by backpropagation on labelled data and save it. "+
		"The defaults are each architecture's recipe: mlp gets dropout (0.5 hidden, 0.2 input) and max-norm 3.5, Adam at 0.001 decayed by 0.97 per epoch, 100 epochs; "+
		"cnn gets dropout 0.5, Adam at 0.001 decayed by 0.85 per epoch, 15 epochs. Flags you set replace the recipe's. MNIST folders are read from the training split.",
		"harmonium nn train --data ../shared/data/mnist --arch mlp:800,800 --seed 1 --out mlp.safetensors\n  harmonium nn train --data ../shared/data/mnist --arch cnn --seed 1 --out cnn.safetensors\n  harmonium nn train --data x.npy --labels y.csv --arch mlp:256 --validate 0.1 --patience 5 --out net.safetensors")
	var data dataFlags
	data.register(fs, "train")
	var f nnTrainFlags
	f.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := f.settle(fs)
	if err != nil {
		return err
	}
	if err := checkOutputs(f.out, f.curve); err != nil {
		return err
	}
	set, labelSource, err := loadLabelled(ctx, e, &data, f.labels, true)
	if err != nil {
		return err
	}
	classes, err := f.numClasses(set.Labels, labelSource)
	if err != nil {
		return err
	}
	net, shape, err := f.buildNet(set, classes)
	if err != nil {
		return err
	}
	train, val, err := f.split(set)
	if err != nil {
		return err
	}
	say := func(format string, a ...any) {
		if !f.quiet {
			fmt.Fprintf(e.stderr, format, a...)
		}
	}
	params := netParams(net)
	f.describe(say, params, train.Rows(), shape, classes, val.Rows())
	history, elapsed, err := f.fit(ctx, e, say, net, train, val, cfg)
	if err != nil {
		return err
	}
	if err := f.save(say, net, history, f.meta(classes, set.Source, labelSource, len(history), elapsed), elapsed); err != nil {
		return err
	}
	if f.json {
		return writeJSON(e.stdout, e.stderr, map[string]any{"epochs": nnEpochsJSON(history), "seconds": elapsed.Seconds(), "parameters": params, "classes": classes, "out": f.out})
	}
	return nil
}

// settle checks the flags, fills those the user left unset from the
// architecture's recipe and returns the training configuration.
func (f *nnTrainFlags) settle(fs *flag.FlagSet) (nn.Config, error) {
	if f.arch == "" {
		return nn.Config{}, usageError{errors.New("--arch is required (mlp:800,800 or cnn)")}
	}
	if f.out == "" {
		return nn.Config{}, usageError{errors.New("--out is required")}
	}
	if ext := strings.ToLower(filepath.Ext(f.curve)); f.curve != "" && ext != ".png" && ext != ".svg" {
		return nn.Config{}, usageError{fmt.Errorf("--curve must name a .png or .svg file, got %q", f.curve)}
	}
	if err := f.applyRecipe(fs); err != nil {
		return nn.Config{}, err
	}
	return f.config()
}

// numClasses returns the number of classes: --classes, which every label
// must fit, or else the largest label + 1, which must be at least two.
func (f *nnTrainFlags) numClasses(labels []int, labelSource string) (int, error) {
	if f.classes == 0 {
		classes := maxLabel(labels) + 1
		if classes < 2 {
			return 0, fmt.Errorf("%s: every label is 0; a classifier needs at least two classes", labelSource)
		}
		return classes, nil
	}
	if err := checkLabels(labels, f.classes, labelSource, fmt.Sprintf("--classes %d", f.classes)); err != nil {
		return 0, err
	}
	return f.classes, nil
}

// buildNet returns the initialised network of --arch for set's samples and
// the given number of classes, once sure that training it fits in memory,
// and the samples' shape.
func (f *nnTrainFlags) buildNet(set *dataset.Set, classes int) (*nn.Network, nn.Shape, error) {
	shape, image, err := sampleShape(set, f.imageShape)
	if err != nil {
		return nil, nn.Shape{}, err
	}
	arch, err := buildArch(f.arch, shape, image, classes, f.dropout, f.inputDropout)
	if err != nil {
		return nil, nn.Shape{}, err
	}
	extra := 0.0
	if f.validate > 0 {
		extra = 4 * float64(set.X.Rows) * float64(set.X.Cols) // the split copies the data
	}
	net, err := initNet(arch, f.batch, extra, fmt.Sprintf("training %s on %v samples in minibatches of %d", f.arch, shape, f.batch), f.seed)
	if err != nil {
		return nil, nn.Shape{}, err
	}
	return net, shape, nil
}

// initNet builds the network of arch and initialises it from seed, first
// checking that training it in minibatches of batch, with extra bytes
// besides, fits in memory (what says what for the message).
func initNet(arch nn.Arch, batch int, extra float64, what string, seed uint64) (*nn.Network, error) {
	need, err := arch.MemoryBytes(batch)
	if err != nil {
		return nil, err
	}
	if err := memguard.Check(what, need+extra); err != nil {
		return nil, err
	}
	net, err := nn.Build(arch)
	if err != nil {
		return nil, err
	}
	net.Init(seed)
	return net, nil
}

// netParams returns the number of parameters of net.
func netParams(net *nn.Network) int {
	params := 0
	for _, p := range net.Params() {
		params += len(p.Value.Data)
	}
	return params
}

// split returns the training data of set and, with --validate, the
// fraction held out for validation.
func (f *nnTrainFlags) split(set *dataset.Set) (train, val nn.Data, err error) {
	all := nn.Data{X: set.X, Targets: nn.Targets{Labels: set.Labels}}
	train, val = all, nn.Data{}
	if f.validate > 0 {
		train, val = all.Split(f.validate, f.seed)
		if train.Rows() == 0 || val.Rows() == 0 {
			return nn.Data{}, nn.Data{}, usageError{fmt.Errorf("--validate %g of %d samples leaves no training or no validation samples", f.validate, all.Rows())}
		}
	}
	return train, val, nil
}

// describe says what is trained on what, and how.
func (f *nnTrainFlags) describe(say func(string, ...any), params, rows int, shape nn.Shape, classes, valRows int) {
	say("training %s (%d parameters) on %d samples of %v, %d classes; %s lr %g", f.arch, params, rows, shape, classes, f.optimizer, f.lr)
	if f.lrDecay != 1 {
		say(" x %g per epoch", f.lrDecay)
	}
	say(", batch %d, %d epochs", f.batch, f.epochs)
	if archFamily(f.arch) != "" {
		say(", dropout %g", f.dropout)
	}
	if archFamily(f.arch) == "mlp" {
		say(" (input %g)", f.inputDropout)
	}
	if f.maxNorm > 0 {
		say(", max-norm %g", f.maxNorm)
	}
	if valRows > 0 {
		say("; validating on %d", valRows)
	}
	say("\n")
}

// fit trains net, saying each epoch's figures, and returns them and the
// time taken.
func (f *nnTrainFlags) fit(ctx context.Context, e *env, say func(string, ...any), net *nn.Network, train, val nn.Data, cfg nn.Config) ([]nn.EpochStats, time.Duration, error) {
	bar := newBar(e, "epoch", f.quiet)
	var history []nn.EpochStats
	start := time.Now()
	_, err := net.Fit(ctx, train, val, cfg, nn.Hooks{
		Batch: func(epoch, done, total int) {
			bar.label = fmt.Sprintf("epoch %d/%d", epoch, f.epochs)
			bar.update(done, total, "")
		},
		Epoch: func(s nn.EpochStats) error {
			bar.done()
			defer func() { bar.start = time.Now() }() // the ETA is the next epoch's
			history = append(history, s)
			line := fmt.Sprintf("epoch %d/%d  loss %.4f  train %.2f%%", s.Epoch, f.epochs, s.Loss, 100*s.Accuracy)
			if !math.IsNaN(s.ValLoss) {
				line += fmt.Sprintf("  val loss %.4f  val %.2f%%", s.ValLoss, 100*s.ValAccuracy)
				if s.Best {
					line += " *"
				}
			}
			say("%s  lr %.3g  %.1f s\n", line, s.LearningRate, s.Duration.Seconds())
			if s.Stop {
				say("stopping early: no improvement in validation loss for %d epochs; keeping the weights of the best epoch\n", f.patience)
			}
			return nil
		},
	})
	bar.done()
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return nil, 0, fmt.Errorf("%w after %d epochs; nothing saved", errInterrupted, len(history))
		}
		return nil, 0, err
	}
	return history, time.Since(start), nil
}

// meta returns the metadata saved with the network.
func (f *nnTrainFlags) meta(classes int, data, labelSource string, epochs int, elapsed time.Duration) map[string]string {
	meta := map[string]string{
		"arch_spec":     f.arch,
		"classes":       strconv.Itoa(classes),
		"data":          data,
		"labels":        labelSource,
		"epochs":        strconv.Itoa(epochs),
		"batch_size":    strconv.Itoa(f.batch),
		"optimizer":     f.optimizer,
		"learning_rate": strconv.FormatFloat(f.lr, 'g', -1, 64),
		"lr_decay":      strconv.FormatFloat(f.lrDecay, 'g', -1, 64),
		"dropout":       strconv.FormatFloat(f.dropout, 'g', -1, 64),
		"max_norm":      strconv.FormatFloat(f.maxNorm, 'g', -1, 64),
		"seed":          strconv.FormatUint(f.seed, 10),
		"train_seconds": strconv.FormatFloat(elapsed.Seconds(), 'f', 1, 64),
	}
	if archFamily(f.arch) == "mlp" {
		meta["input_dropout"] = strconv.FormatFloat(f.inputDropout, 'g', -1, 64)
	}
	return meta
}

// save writes the --curve plot of history and the network with meta.
func (f *nnTrainFlags) save(say func(string, ...any), net *nn.Network, history []nn.EpochStats, meta map[string]string, elapsed time.Duration) error {
	if f.curve != "" {
		if err := viz.WriteCurves(f.curve, nnCurvePanels(history)); err != nil {
			return err
		}
		say("wrote %s\n", f.curve)
	}
	if err := modelfile.SaveNN(f.out, net, meta); err != nil {
		return err
	}
	say("trained in %s; saved %s\n", fmtDuration(elapsed), f.out)
	return nil
}

// nnEpochsJSON returns the per-epoch statistics as --json prints them.
func nnEpochsJSON(history []nn.EpochStats) []map[string]any {
	var epochs []map[string]any
	for _, s := range history {
		m := map[string]any{"epoch": s.Epoch, "loss": s.Loss, "train_accuracy": s.Accuracy, "learning_rate": s.LearningRate, "seconds": s.Duration.Seconds()}
		if !math.IsNaN(s.ValLoss) {
			m["val_loss"], m["val_accuracy"] = s.ValLoss, s.ValAccuracy
		}
		epochs = append(epochs, m)
	}
	return epochs
}

// nnCurvePanels draws the loss and the accuracy per epoch, training and
// validation.
func nnCurvePanels(h []nn.EpochStats) []viz.Panel {
	var tl, vl, ta, va []float64
	for _, s := range h {
		tl, ta = append(tl, s.Loss), append(ta, 100*s.Accuracy)
		if !math.IsNaN(s.ValLoss) {
			vl, va = append(vl, s.ValLoss), append(va, 100*s.ValAccuracy)
		}
	}
	return []viz.Panel{
		{Title: "Loss", YLabel: "cross-entropy per sample", Series: []viz.Series{{Name: "training", Y: tl}, {Name: "validation", Y: vl}}},
		{Title: "Accuracy", YLabel: "% classified right", Series: []viz.Series{{Name: "training", Y: ta}, {Name: "validation", Y: va}}},
	}
}

// loadNN reads a neural-network model, saying clearly when the file holds
// another kind of model.
func loadNN(path string) (*nn.Network, map[string]string, error) {
	if err := requireKind(path, modelfile.KindNN, "a neural network"); err != nil {
		return nil, nil, err
	}
	return modelfile.LoadNN(path)
}

// fitsNet checks that the samples of set suit the network's input.
func fitsNet(net *nn.Network, modelPath string, set *dataset.Set) error {
	if n := net.InputShape().Size(); set.X.Cols != n {
		return fmt.Errorf("%s takes %d values per sample (%v) but %s has %d", modelPath, n, net.InputShape(), set.Source, set.X.Cols)
	}
	return nil
}

func runClassify(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "classify", "predict the class of every sample with a neural network (harmonium nn train); with labels (MNIST's, or --labels FILE) print the accuracy, error rate and confusion matrix (rows: true class, columns: predicted). "+
		"MNIST folders are read from the test split unless --split train.",
		"harmonium classify --model mlp.safetensors --data ../shared/data/mnist --json\n  harmonium classify --model net.safetensors --data x.npy --out predictions.csv")
	var data dataFlags
	data.register(fs, "test")
	model := fs.String("model", "", "neural-network model file (required)")
	labelsPath := fs.String("labels", "", "true labels, one integer per sample: a .csv (one per line) or .npy file (MNIST folders have their own)")
	out := fs.String("out", "", "write, per sample, the predicted class and the class probabilities to this .csv or .npy file")
	jsonOut := fs.Bool("json", false, `print one JSON object: {"accuracy":..,"error_rate":..,"n":..,"confusion":[[..]]} with labels, else {"n":..,"predictions":[..]}`)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out != "" && !npyOrCSV(*out) {
		return usageError{fmt.Errorf("--out must name a .npy or .csv file, got %q", *out)}
	}
	if err := checkOutputs(*out); err != nil {
		return err
	}
	net, set, err := loadToClassify(ctx, e, *model, &data, *labelsPath)
	if err != nil {
		return err
	}
	classes := net.OutputShape().Size()
	if err := memguard.Check("classifying", 4*float64(set.X.Rows)*float64(classes+1)); err != nil {
		return err
	}
	probs, pred := predictClasses(net, set.X, classes)
	if *out != "" {
		if err := writeMatrix(*out, probs); err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "wrote %s: %d samples x (predicted class, %d class probabilities)\n", *out, probs.Rows, classes)
	}
	if set.Labels == nil {
		return printPredictions(e, pred, *jsonOut, *out == "")
	}
	return writeClassification(e, set, pred, classes, *jsonOut)
}

// loadToClassify reads the network at modelPath and the data with their
// labels, if any, checking that the network takes the data's samples and
// has a class for every label.
func loadToClassify(ctx context.Context, e *env, modelPath string, data *dataFlags, labelsPath string) (*nn.Network, *dataset.Set, error) {
	net, _, err := loadNN(modelPath)
	if err != nil {
		return nil, nil, err
	}
	set, labelSource, err := loadLabelled(ctx, e, data, labelsPath, false)
	if err != nil {
		return nil, nil, err
	}
	if err := fitsNet(net, modelPath, set); err != nil {
		return nil, nil, err
	}
	if set.Labels != nil {
		classes := net.OutputShape().Size()
		if err := checkLabels(set.Labels, classes, labelSource, fmt.Sprintf("%s has %d classes", modelPath, classes)); err != nil {
			return nil, nil, err
		}
	}
	return net, set, nil
}

// predictClasses returns, for every sample of x, the class net predicts
// and the classes' probabilities: one row per sample of the predicted
// class then the probabilities, and the predicted classes alone.
func predictClasses(net *nn.Network, x *mat32.Dense, classes int) (*mat32.Dense, []int) {
	logits := net.Outputs(x)
	probs := mat32.New(logits.Rows, classes+1)
	pred := make([]int, logits.Rows)
	for i := range logits.Rows {
		row := logits.Row(i)
		best, m := 0, math.Inf(-1)
		for j, v := range row {
			if float64(v) > m {
				best, m = j, float64(v)
			}
		}
		var sum float64
		for _, v := range row {
			sum += math.Exp(float64(v) - m)
		}
		p := probs.Row(i)
		p[0] = float32(best)
		for j, v := range row {
			p[j+1] = float32(math.Exp(float64(v)-m) / sum)
		}
		pred[i] = best
	}
	return probs, pred
}

// printPredictions prints the predicted classes as JSON, or else one a
// line when list is set.
func printPredictions(e *env, pred []int, jsonOut, list bool) error {
	if jsonOut {
		return writeJSON(e.stdout, e.stderr, map[string]any{"n": len(pred), "predictions": pred})
	}
	if list {
		var b strings.Builder
		for _, p := range pred {
			b.WriteString(strconv.Itoa(p))
			b.WriteByte('\n')
		}
		fmt.Fprint(e.stdout, b.String())
	}
	return nil
}

// nnFeatures writes the activations of layer k of the network at
// modelPath for every sample (features --layer K on a neural network).
func nnFeatures(ctx context.Context, e *env, modelPath string, k int, data *dataFlags, out, labelsOut string) error {
	net, _, err := loadNN(modelPath)
	if err != nil {
		return err
	}
	layers := net.Layers()
	if k < 0 || k >= len(layers) {
		arch, _ := net.Arch()
		var names []string
		for i, l := range arch.Layers {
			names = append(names, fmt.Sprintf("%d %s", i, l.Kind))
		}
		what := fmt.Sprintf("--layer %d", k)
		if k == -1 {
			what = "--layer K is required for a neural network"
		}
		return usageError{fmt.Errorf("%s: %s has layers 0 to %d (%s)", what, modelPath, len(layers)-1, strings.Join(names, ", "))}
	}
	set, err := data.loadAny(ctx, e)
	if err != nil {
		return err
	}
	if err := fitsNet(net, modelPath, set); err != nil {
		return err
	}
	if labelsOut != "" && set.Labels == nil {
		return fmt.Errorf("--labels-out: %s has no labels", set.Source)
	}
	arch, _ := net.Arch()
	shape := arch.Input
	for _, l := range arch.Layers[:k+1] {
		shape, _, _ = l.OutputShape(shape)
	}
	if err := memguard.Check(fmt.Sprintf("layer %d's %d features of %d samples", k, shape.Size(), set.X.Rows), 4*float64(set.X.Rows)*float64(shape.Size())); err != nil {
		return err
	}
	feats := net.Features(set.X, k)
	if err := writeMatrix(out, feats); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "wrote %s: %d samples x %d features (layer %d, %s, shape %v)\n", out, feats.Rows, feats.Cols, k, arch.Layers[k].Kind, shape)
	if labelsOut != "" {
		if err := dataset.WriteLabels(labelsOut, set.Labels); err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "wrote %s: %d labels\n", labelsOut, len(set.Labels))
	}
	return nil
}

// benchNN times training epochs of an --arch with its recipe's settings on
// set (which must have labels), repeated or cut to rows samples, and
// returns the seconds of each epoch.
func benchNN(ctx context.Context, spec string, set *dataset.Set, epochs, batch, rows int) (secs []float64, params int, convs []string, err error) {
	if set.Labels == nil {
		return nil, 0, nil, fmt.Errorf("%s has no labels: bench --arch needs MNIST (a folder of its IDX files)", set.Source)
	}
	f := nnTrainFlags{arch: spec, seed: 1}
	if err := f.applyRecipe(flag.NewFlagSet("bench", flag.ContinueOnError)); err != nil {
		return nil, 0, nil, err
	}
	f.epochs, f.batch = epochs, batch
	cfg, err := f.config()
	if err != nil {
		return nil, 0, nil, err
	}
	shape, image, err := sampleShape(set, "")
	if err != nil {
		return nil, 0, nil, err
	}
	arch, err := buildArch(spec, shape, image, maxLabel(set.Labels)+1, f.dropout, f.inputDropout)
	if err != nil {
		return nil, 0, nil, err
	}
	net, err := initNet(arch, batch, 4*float64(rows)*float64(set.X.Cols), "benchmarking "+spec, 1)
	if err != nil {
		return nil, 0, nil, err
	}
	params = netParams(net)
	for _, l := range net.Layers() {
		if c, ok := l.(*nn.Conv2DLayer); ok {
			out, _ := c.OutputShape(c.InputShape())
			convs = append(convs, fmt.Sprintf("%v to %v: %s", c.InputShape(), out, c.Algorithm()))
		}
	}
	d := nn.Data{X: mat32.New(rows, set.X.Cols), Targets: nn.Targets{Labels: make([]int, rows)}}
	for i := range rows {
		copy(d.X.Row(i), set.X.Row(i%set.X.Rows))
		d.Labels[i] = set.Labels[i%set.X.Rows]
	}
	_, err = net.Fit(ctx, d, nn.Data{}, cfg, nn.Hooks{Epoch: func(s nn.EpochStats) error {
		secs = append(secs, s.Duration.Seconds())
		return nil
	}})
	return secs, params, convs, err
}

// writeClassification prints the accuracy, error rate and confusion matrix
// of the predictions pred against set's labels, as text or JSON.
func writeClassification(e *env, set *dataset.Set, pred []int, classes int, jsonOut bool) error {
	confusion := make([][]int, classes)
	for i := range confusion {
		confusion[i] = make([]int, classes)
	}
	right := 0
	for i, y := range set.Labels {
		confusion[y][pred[i]]++
		if y == pred[i] {
			right++
		}
	}
	acc := float64(right) / float64(max(len(pred), 1))
	if jsonOut {
		return writeJSON(e.stdout, e.stderr, map[string]any{"accuracy": acc, "error_rate": 1 - acc, "n": len(pred), "confusion": confusion})
	}
	fmt.Fprintf(e.stdout, "data:        %s, %s\n", set.Source, set.Shape())
	fmt.Fprintf(e.stdout, "accuracy:    %.2f%% (%d of %d)\n", 100*acc, right, len(pred))
	fmt.Fprintf(e.stdout, "error rate:  %.2f%%\n", 100*(1-acc))
	fmt.Fprintf(e.stdout, "confusion (rows: true class, columns: predicted):\n")
	w := len(strconv.Itoa(len(pred)))
	fmt.Fprintf(e.stdout, "%*s", w+1, "")
	for j := range classes {
		fmt.Fprintf(e.stdout, " %*d", w, j)
	}
	fmt.Fprintln(e.stdout)
	for i, row := range confusion {
		fmt.Fprintf(e.stdout, "%*d:", w, i)
		for _, c := range row {
			fmt.Fprintf(e.stdout, " %*d", w, c)
		}
		fmt.Fprintln(e.stdout)
	}
	return nil
}

// requireKind checks that --model names a model file of kind want (what
// describes it for the message), saying which commands apply otherwise.
func requireKind(path string, want modelfile.Kind, what string) error {
	if path == "" {
		return usageError{errors.New("--model is required")}
	}
	kind, _, err := modelfile.KindOf(path)
	if err != nil {
		return err
	}
	if kind != want {
		return modelfile.WrongKind(path, kind, what)
	}
	return nil
}
