package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/png"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/harmonium-ml/harmonium/compare"
	"github.com/harmonium-ml/harmonium/dataset"
	"github.com/harmonium-ml/harmonium/mat32"
	"github.com/harmonium-ml/harmonium/modelfile"
	"github.com/harmonium-ml/harmonium/viz"
)

func init() {
	commands = append(commands, command{"compare", "measure RBMs, DBNs and autoencoders side by side: one table (and HTML page)", runCompare})
}

// modelList collects repeated --model flags.
type modelList []string

func (l *modelList) String() string     { return strings.Join(*l, ",") }
func (l *modelList) Set(s string) error { *l = append(*l, s); return nil }

func runCompare(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "compare", "measure several models on one data set and print one table: the test reconstruction error (mean summed squared error), "+
		"the test log-likelihood where the model defines one (AIS for RBMs with binary units, importance sampling for VAEs, both on one stochastic binarisation of the test set; n/a otherwise), "+
		"the test accuracy of a multinomial logistic regression trained on each model's features of the training split (standardised; Adam, 30 epochs), the training time from the model file and the parameters. "+
		"Models: RBMs (train), DBNs (dbn train) and autoencoders (ae train). MNIST folders give the training and test splits; for other data pass --test.",
		"harmonium compare --data ../shared/data/mnist --model rbm.safetensors --model ae.safetensors --model dae.safetensors --model vae.safetensors --html compare.html\n"+
			"  harmonium compare --data x.npy --test x-test.npy --model a.safetensors --model b.safetensors --json")
	var f compareFlags
	f.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := f.check(); err != nil {
		return err
	}
	if err := checkOutputs(f.html); err != nil {
		return err
	}
	subjects, err := loadSubjects(f.models, f.o, !f.noLL)
	if err != nil {
		return err
	}
	train, test, err := compareData(ctx, e, &f.data, f.testPath, f.labels, f.testLabels)
	if err != nil {
		return err
	}
	if err := checkCompareData(subjects, train, test); err != nil {
		return err
	}
	idx := pick(min(f.show, test.X.Rows), test.X.Rows, false, 0)
	rows, err := f.measure(ctx, e, subjects, train, test, idx)
	if err != nil {
		return err
	}
	return f.report(e, rows, subjects, train, test, idx)
}

// compareFlags are the settings of compare.
type compareFlags struct {
	data                         dataFlags
	models                       modelList
	testPath, labels, testLabels string
	html                         string
	o                            compare.Options
	show                         int
	binSeed                      uint64
	noLL, json, quiet            bool
}

// register defines the flags of compare.
func (f *compareFlags) register(fs *flag.FlagSet) {
	f.data.register(fs, "train")
	fs.Var(&f.models, "model", "a model file to compare, NAME=FILE to name it in the table (repeat the flag)")
	fs.StringVar(&f.testPath, "test", "", "the test data (default: the test split of an MNIST folder)")
	fs.StringVar(&f.labels, "labels", "", "labels of the training data, one integer per sample (.csv or .npy; MNIST folders have their own)")
	fs.StringVar(&f.testLabels, "test-labels", "", "labels of the test data")
	f.o = compare.DefaultOptions()
	o := &f.o
	fs.IntVar(&o.IWAESamples, "samples", o.IWAESamples, "VAE: importance samples per test sample for the log-likelihood")
	fs.IntVar(&o.AISRuns, "ais-runs", o.AISRuns, "RBM: AIS runs")
	fs.IntVar(&o.AISBetas, "ais-betas", o.AISBetas, "RBM: AIS temperatures")
	fs.IntVar(&o.LogisticEpochs, "logistic-epochs", o.LogisticEpochs, "passes of the logistic regression over the training features")
	fs.BoolVar(&f.noLL, "no-likelihood", false, "skip the log-likelihoods (the slow part)")
	fs.Uint64Var(&f.binSeed, "binarize-seed", 1, "the log-likelihoods use one stochastic binarisation of the test set with this seed (binary data are used as they are)")
	fs.Uint64Var(&o.Seed, "seed", 1, "random seed of the estimators and the logistic regression")
	fs.IntVar(&f.show, "n", 16, "test samples whose reconstructions the HTML page shows")
	fs.StringVar(&f.html, "html", "", "also write the table and the reconstructions side by side as an HTML page")
	fs.BoolVar(&f.json, "json", false, "print the table as one JSON object on stdout")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress lines")
}

// check validates the flags before any work is done.
func (f *compareFlags) check() error {
	switch {
	case len(f.models) == 0:
		return usageError{errors.New("give at least one --model")}
	case f.html != "" && strings.ToLower(filepath.Ext(f.html)) != ".html":
		return usageError{fmt.Errorf("--html must name a .html file, got %q", f.html)}
	case f.show < 1 || f.show > 400:
		return usageError{fmt.Errorf("--n must be in [1, 400], got %d", f.show)}
	}
	if err := positive(map[string]int{"samples": f.o.IWAESamples, "ais-runs": f.o.AISRuns, "logistic-epochs": f.o.LogisticEpochs}); err != nil {
		return err
	}
	if f.o.AISBetas < 3 {
		return usageError{fmt.Errorf("--ais-betas must be at least 3, got %d", f.o.AISBetas)}
	}
	return nil
}

// checkCompareData checks that the models take the test data and that the
// training and test data have as many values per sample.
func checkCompareData(subjects []compare.Subject, train, test *dataset.Set) error {
	if err := compare.Check(subjects, test.X.Cols); err != nil {
		return fmt.Errorf("%s: %w", test.Source, err)
	}
	if train.X.Cols != test.X.Cols {
		return fmt.Errorf("%s has %d values per sample, %s has %d", train.Source, train.X.Cols, test.Source, test.X.Cols)
	}
	return nil
}

// say prints to stderr unless --quiet.
func (f *compareFlags) say(e *env, format string, a ...any) {
	if !f.quiet {
		fmt.Fprintf(e.stderr, format, a...)
	}
}

// measure measures every model, reconstructing the test samples idx, with
// a progress line per step.
func (f *compareFlags) measure(ctx context.Context, e *env, subjects []compare.Subject, train, test *dataset.Set, idx []int) ([]compare.Row, error) {
	var binary *mat32.Dense
	if !f.noLL {
		binary, _ = binaryData(test, f.binSeed)
	}
	progress := func(subject, step string) { f.say(e, "%s: %s\n", subject, step) }
	start := time.Now()
	rows, err := compare.Run(ctx, subjects, compare.Data{X: train.X, Labels: train.Labels}, compare.Data{X: test.X, Labels: test.Labels}, binary, idx, f.o, progress)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return nil, fmt.Errorf("%w: nothing written", errInterrupted)
		}
		return nil, err
	}
	f.say(e, "measured %d models in %s\n", len(rows), fmtDuration(time.Since(start)))
	return rows, nil
}

// report writes the HTML page asked for and prints the table, as text with
// its notes or as JSON.
func (f *compareFlags) report(e *env, rows []compare.Row, subjects []compare.Subject, train, test *dataset.Set, idx []int) error {
	if f.html != "" {
		if err := writeCompareHTML(f.html, rows, subjects, train, test, idx, f.binSeed); err != nil {
			return err
		}
		f.say(e, "wrote %s\n", f.html)
	}
	if f.json {
		return writeJSON(e.stdout, e.stderr, compareJSON(rows, train, test))
	}
	w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, r := range compareTable(rows) {
		fmt.Fprintln(w, strings.Join(r, "\t")+"\t")
	}
	w.Flush()
	for _, n := range compareNotes(subjects, rows, train, test, f.binSeed) {
		fmt.Fprintln(e.stdout, n)
	}
	return nil
}

// loadSubjects reads every model file, refusing kinds with nothing to
// compare and, when the log-likelihoods are measured (ais), RBMs whose AIS
// would need more memory than the machine has.
func loadSubjects(models []string, o compare.Options, ais bool) ([]compare.Subject, error) {
	var out []compare.Subject
	for _, arg := range models {
		name, path, named := strings.Cut(arg, "=")
		if !named {
			name, path = strings.TrimSuffix(filepath.Base(arg), ".safetensors"), arg
		} else if name == "" || path == "" {
			return nil, usageError{fmt.Errorf("--model %q: want NAME=FILE or FILE", arg)}
		}
		kind, _, err := modelfile.KindOf(path)
		if err != nil {
			return nil, err
		}
		var s compare.Subject
		switch kind {
		case modelfile.KindRBM:
			m, meta, _, err := modelfile.LoadRBM(path)
			if err != nil {
				return nil, err
			}
			s = compare.FromRBM(name, m, trainSeconds(meta), o)
			if ais && s.LogLikelihood != nil {
				if err := checkAISMemory(m, o.AISRuns, o.AISBetas, "--ais-runs", "--ais-betas"); err != nil {
					return nil, fmt.Errorf("%s: %w", path, err)
				}
			}
		case modelfile.KindDBN:
			d, meta, total, _, err := modelfile.LoadDBN(path)
			if err != nil {
				return nil, err
			}
			if total != len(d.Layers) {
				return nil, fmt.Errorf("%s is an unfinished DBN checkpoint (%d of %d layers)", path, len(d.Layers), total)
			}
			s = compare.FromDBN(name, d, trainSeconds(meta))
		case modelfile.KindAE:
			m, meta, _, err := modelfile.LoadAE(path)
			if err != nil {
				return nil, err
			}
			s = compare.FromAE(name, m, trainSeconds(meta), o)
		default:
			return nil, modelfile.WrongKind(path, kind, "a model that learns a representation (an RBM, a DBN or an autoencoder)")
		}
		out = append(out, s)
	}
	return out, nil
}

// trainSeconds reads the training time a model file records (NaN if none).
func trainSeconds(meta map[string]string) float64 {
	s, err := strconv.ParseFloat(meta["train_seconds"], 64)
	if err != nil || s < 0 {
		return math.NaN()
	}
	return s
}

// compareData reads the training and the test data, with their labels
// when there are some.
func compareData(ctx context.Context, e *env, data *dataFlags, testPath, labels, testLabels string) (train, test *dataset.Set, err error) {
	if train, _, err = loadLabelled(ctx, e, data, labels, false); err != nil {
		return nil, nil, err
	}
	td := *data
	td.split, td.limit = "test", 0
	if testPath != "" {
		td.path = testPath
	}
	if test, _, err = loadLabelled(ctx, e, &td, testLabels, false); err != nil {
		return nil, nil, err
	}
	if test.Source == train.Source {
		return nil, nil, usageError{fmt.Errorf("%s has no test split: pass the test data with --test", train.Source)}
	}
	return train, test, nil
}

// compareTable returns the table's header and rows as text.
func compareTable(rows []compare.Row) [][]string {
	t := [][]string{{"model", "kind", "parameters", "train time", "recon error", "log-likelihood", "features", "logistic accuracy"}}
	for _, r := range rows {
		t = append(t, []string{r.Name, r.Kind, strconv.Itoa(r.Params), orNA(r.TrainSeconds, func(v float64) string { return fmtDuration(time.Duration(v * float64(time.Second))) }),
			fmt.Sprintf("%.2f", r.ReconError), orNA(r.LogLikelihood, func(v float64) string { return fmt.Sprintf("%.2f", v) }),
			strconv.Itoa(r.Features), orNA(r.Accuracy, func(v float64) string { return fmt.Sprintf("%.2f%%", 100*v) })})
	}
	return t
}

func orNA(v float64, f func(float64) string) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return f(v)
}

// compareNotes explains the table's columns.
func compareNotes(subjects []compare.Subject, rows []compare.Row, train, test *dataset.Set, binSeed uint64) []string {
	notes := []string{fmt.Sprintf("test data: %s (%d samples); logistic regression trained on %s (%d samples)", test.Source, test.X.Rows, train.Source, train.X.Rows)}
	for i, s := range subjects {
		n := fmt.Sprintf("%s: reconstruction %s", s.Name, s.ReconNote)
		if rows[i].LLMethod != "" {
			n += fmt.Sprintf("; log-likelihood by %s on a stochastic binarisation of the test set (seed %d), nats per sample", rows[i].LLMethod, binSeed)
		}
		notes = append(notes, n)
	}
	return notes
}

// compareJSON is the table as JSON; n/a figures are null.
func compareJSON(rows []compare.Row, train, test *dataset.Set) map[string]any {
	num := func(v float64) any {
		if math.IsNaN(v) {
			return nil
		}
		return v
	}
	var out []map[string]any
	for _, r := range rows {
		out = append(out, map[string]any{"model": r.Name, "kind": r.Kind, "parameters": r.Params, "train_seconds": num(r.TrainSeconds),
			"recon_error": r.ReconError, "log_likelihood": num(r.LogLikelihood), "log_likelihood_method": r.LLMethod,
			"features": r.Features, "logistic_accuracy": num(r.Accuracy)})
	}
	return map[string]any{"models": out, "test": test.Source, "test_samples": test.X.Rows, "train": train.Source, "train_samples": train.X.Rows}
}

// writeCompareHTML writes the table and the reconstructions side by side.
func writeCompareHTML(path string, rows []compare.Row, subjects []compare.Subject, train, test *dataset.Set, idx []int, binSeed uint64) error {
	var shape viz.Shape
	if test.Height > 0 {
		shape = viz.Shape{H: test.Height, W: test.Width}
	}
	shape, err := viz.ShapeFor(test.X.Cols, shape)
	if err != nil {
		return err
	}
	zoom := viz.Zoom(shape)
	cols := viz.GridCols(len(idx))
	imgs := []image.Image{viz.Caption(viz.GridOf(gather(test.X, idx), shape, cols, zoom), "test samples")}
	for _, r := range rows {
		imgs = append(imgs, viz.Caption(viz.GridOf(clamp01(r.Reconstructions), shape, cols, zoom), r.Name))
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, viz.Beside(16, imgs...)); err != nil {
		return err
	}
	rep := &viz.Report{
		Title:   "harmonium compare",
		Table:   compareTable(rows),
		Notes:   compareNotes(subjects, rows, train, test, binSeed),
		Figures: []viz.Figure{{Title: "Reconstructions", Caption: fmt.Sprintf("The first %d test samples and each model's reconstructions.", len(idx)), Data: buf.Bytes()}},
	}
	return viz.WriteReport(path, rep)
}
