package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"time"

	"github.com/harmonium-ml/harmonium/mat32"

	"github.com/harmonium-ml/harmonium/dataset"
	"github.com/harmonium-ml/harmonium/internal/memguard"
	"github.com/harmonium-ml/harmonium/modelfile"
	"github.com/harmonium-ml/harmonium/rbm"
)

// loadModelAndData reads a model (with its metadata) and data, checking
// that they fit each other.
func loadModelAndData(ctx context.Context, e *env, modelPath string, data *dataFlags) (*rbm.RBM, map[string]string, *dataset.Set, error) {
	if modelPath == "" {
		return nil, nil, nil, usageError{fmt.Errorf("--model is required")}
	}
	m, meta, _, err := modelfile.LoadRBM(modelPath)
	if err != nil {
		return nil, nil, nil, err
	}
	set, err := data.loadAny(ctx, e)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := forModel(m, modelPath, set); err != nil {
		return nil, nil, nil, err
	}
	return m, meta, set, nil
}

func runEval(ctx context.Context, e *env, args []string) error {
	switch kindOfArg(args) {
	case modelfile.KindAE:
		return runAEEval(ctx, e, args)
	case modelfile.KindDBN:
		return runDBNEval(ctx, e, args)
	}
	fs := newFlags(e, "eval", "measure a model on data: mean reconstruction error (sum over features of (v - p(v|h))^2, h sampled from p(h|v)) and mean free energy on the data as given; with --ais, --exact or --pll also the log-likelihood and pseudo-log-likelihood.",
		"harmonium eval --model mnist.safetensors --data mnist --ais --json")
	var f rbmEvalFlags
	f.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := positive(map[string]int{"runs": f.runs, "betas": f.betas}); err != nil {
		return err
	}
	if f.betas < 3 {
		return usageError{fmt.Errorf("--betas must be at least 3, got %d", f.betas)}
	}
	m, _, set, err := loadModelAndData(ctx, e, f.model, &f.data)
	if err != nil {
		return err
	}
	if err := checkEstimators(m, f.model, f.exact, f.ais, f.pll); err != nil {
		return err
	}
	if f.ais {
		if err := checkAISMemory(m, f.runs, f.betas, "--runs", "--betas"); err != nil {
			return err
		}
	}
	r := newRBMEvalResult(m, set, f.seed)
	if f.ais || f.exact || f.pll {
		if err := f.likelihoods(ctx, e, m, set, r); err != nil {
			return err
		}
	}
	if f.json {
		return writeJSON(e.stdout, e.stderr, r.res)
	}
	fmt.Fprintln(e.stdout, strings.Join(r.lines, "\n"))
	return nil
}

// rbmEvalFlags are the settings of eval for an RBM.
type rbmEvalFlags struct {
	data                         dataFlags
	model                        string
	seed, binSeed                uint64
	ais, exact, pll, quiet, json bool
	runs, betas                  int
}

// register defines the flags of eval for an RBM.
func (f *rbmEvalFlags) register(fs *flag.FlagSet) {
	f.data.register(fs, "test")
	fs.StringVar(&f.model, "model", "", "model file (required)")
	fs.Uint64Var(&f.seed, "seed", 1, "random seed for sampling the hidden units, AIS and the PLL estimate")
	fs.BoolVar(&f.ais, "ais", false, "estimate log Z by annealed importance sampling, and the mean log-likelihood -F(v) - log Z")
	fs.IntVar(&f.runs, "runs", 100, "AIS: independent runs")
	fs.IntVar(&f.betas, "betas", 14500, "AIS: number of inverse temperatures from 0 to 1")
	fs.BoolVar(&f.exact, "exact", false, "compute log Z exactly by enumeration (models whose smaller layer has at most 25 units)")
	fs.BoolVar(&f.pll, "pll", false, "pseudo-log-likelihood per feature: exact (all features) and the one-random-feature estimate")
	fs.Uint64Var(&f.binSeed, "binarize-seed", 1, "likelihoods are defined on binary data: grey levels are replaced by a stochastic binarisation with this seed")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress bar")
	fs.BoolVar(&f.json, "json", false, `print one JSON object on stdout: {"recon_error": ..., "free_energy": ..., "samples": N, ...}`)
}

// rbmEvalResult is what eval reports of an RBM: the fields of the JSON
// object and the lines of the text.
type rbmEvalResult struct {
	res   map[string]any
	lines []string
}

// add appends a line of text.
func (r *rbmEvalResult) add(format string, a ...any) {
	r.lines = append(r.lines, fmt.Sprintf(format, a...))
}

// newRBMEvalResult measures the reconstruction error and free energy of m
// on set.
func newRBMEvalResult(m *rbm.RBM, set *dataset.Set, seed uint64) *rbmEvalResult {
	r := &rbmEvalResult{res: map[string]any{"samples": set.X.Rows}}
	r.res["recon_error"] = m.ReconstructionError(set.X, seed)
	r.res["free_energy"] = m.MeanFreeEnergy(set.X)
	r.add("data:                  %s, %s", set.Source, set.Shape())
	r.add("reconstruction error:  %.4f (mean per sample of the summed squared error)", r.res["recon_error"])
	r.add("free energy:           %.4f (mean per sample)", r.res["free_energy"])
	return r
}

// likelihoods adds to r the log-likelihoods and pseudo-log-likelihood the
// flags ask for, on the data binarised when the visible units are binary.
func (f *rbmEvalFlags) likelihoods(ctx context.Context, e *env, m *rbm.RBM, set *dataset.Set, r *rbmEvalResult) error {
	binary, meanNegF := f.likelihoodData(m, set, r)
	if f.exact {
		if err := r.addExact(m, meanNegF, f.ais); err != nil {
			return err
		}
	}
	if f.ais {
		if err := f.evalAIS(ctx, e, m, binary, meanNegF, r); err != nil {
			return err
		}
	}
	if f.pll {
		p, err := m.PseudoLogLikelihood(binary, f.seed)
		if err != nil {
			return err
		}
		r.res["pseudo_log_likelihood"], r.res["pseudo_log_likelihood_estimate"] = p.Exact, p.Estimate
		r.add("pseudo-log-likelihood: %.5f per feature (%.3f per sample); one-random-feature estimate %.5f", p.Exact, p.Exact*float64(m.Visible()), p.Estimate)
	}
	return nil
}

// likelihoodData returns the data the likelihoods are measured on and its
// mean negative free energy, noting in r how it differs from the data given.
func (f *rbmEvalFlags) likelihoodData(m *rbm.RBM, set *dataset.Set, r *rbmEvalResult) (*mat32.Dense, float64) {
	binary, note := set.X, ""
	if m.VisUnits == rbm.Bernoulli {
		binary, note = binaryData(set, f.binSeed)
	} else if m.Scaler != nil {
		r.res["standardized"] = true
		r.add("likelihoods below:     densities of the standardised data (the space the model sees)")
	}
	if note != "" {
		r.res["binarized"], r.res["binarize_seed"] = true, f.binSeed
		r.add("likelihoods below:     %s", note)
	}
	meanNegF := -m.MeanFreeEnergy(binary)
	if note != "" {
		r.res["binarized_free_energy"] = -meanNegF
		r.add("free energy (binary):  %.4f (mean per sample of the binarised data the likelihoods use)", -meanNegF)
	}
	return binary, meanNegF
}

// addExact adds log Z computed by enumeration and the exact log-likelihood;
// it is the JSON's log-likelihood unless AIS follows.
func (r *rbmEvalResult) addExact(m *rbm.RBM, meanNegF float64, ais bool) error {
	start := time.Now()
	logZ, err := m.LogPartitionFast()
	if err != nil {
		return err
	}
	r.res["exact_log_z"], r.res["exact_log_likelihood"] = logZ, meanNegF-logZ
	if !ais {
		r.res["log_likelihood"] = meanNegF - logZ
	}
	r.add("exact log Z:           %.4f (%.1f s)", logZ, time.Since(start).Seconds())
	r.add("exact log-likelihood:  %.4f nats per sample", meanNegF-logZ)
	return nil
}

// evalAIS adds to r log Z estimated by annealed importance sampling on
// binary, with its interval, and the log-likelihood it gives.
func (f *rbmEvalFlags) evalAIS(ctx context.Context, e *env, m *rbm.RBM, binary *mat32.Dense, meanNegF float64, r *rbmEvalResult) error {
	acfg, from := m.DefaultAISBase(binary)
	acfg.Runs, acfg.Betas, acfg.Seed = f.runs, rbm.DefaultBetas(f.betas), f.seed
	b := newBar(e, "AIS", f.quiet)
	start := time.Now()
	a, err := m.AIS(ctx, acfg,
		func(done, total int) { b.update(done, total, "") })
	b.done()
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("%w: AIS stopped", errInterrupted)
		}
		return err
	}
	secs := time.Since(start).Seconds()
	r.res["log_z"], r.res["log_z_high"], r.res["log_likelihood"] = a.LogZ, a.LogZHigh, meanNegF-a.LogZ
	r.res["log_z_low"] = nil // the interval reaches 0: no lower bound
	low := "-inf"
	if !math.IsInf(a.LogZLow, -1) {
		r.res["log_z_low"], low = a.LogZLow, fmt.Sprintf("%.4f", a.LogZLow)
	}
	r.res["ais_runs"], r.res["ais_betas"], r.res["ais_seconds"] = f.runs, f.betas, secs
	r.add("log Z (AIS):           %.4f, interval [%s, %.4f] (mean weight -/+ 3 standard errors; %d runs, %d temperatures, %.1f s; base model from %s)",
		a.LogZ, low, a.LogZHigh, f.runs, f.betas, secs, from)
	r.add("log-likelihood (AIS):  %.4f nats per sample (interval [%.4f, %s])", meanNegF-a.LogZ, meanNegF-a.LogZHigh, negOrInf(meanNegF, a.LogZLow))
	return nil
}

// negOrInf formats a - b, or +inf when b is -Inf.
func negOrInf(a, b float64) string {
	if math.IsInf(b, -1) {
		return "+inf"
	}
	return fmt.Sprintf("%.4f", a-b)
}

// binaryData returns the data as it is when it is binary; otherwise a
// stochastic binarisation (each value the probability of a 1) with the
// given seed, and a note saying so.
func binaryData(set *dataset.Set, seed uint64) (*mat32.Dense, string) {
	for _, x := range set.X.Data {
		if x != 0 && x != 1 {
			b := mat32.New(set.X.Rows, set.X.Cols)
			mat32.Bernoulli(b, set.X, mat32.NewRNG(seed, 0xB1))
			return b, fmt.Sprintf("on a stochastic binarisation of the grey levels (seed %d)", seed)
		}
	}
	return set.X, ""
}

func runFeatures(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "features", "write p(h=1|v) for every sample, one row per sample: the hidden layer as features for other models. MNIST folders are read from the training split, as train reads them; --split test for the test split.",
		"harmonium features --model mnist.safetensors --data mnist --out train-features.npy --labels-out train-labels.npy")
	var data dataFlags
	data.register(fs, "train")
	model := fs.String("model", "", "model file (required)")
	out := fs.String("out", "", "output file, .npy (float32) or .csv (required)")
	labelsOut := fs.String("labels-out", "", "also write the data's labels, one per sample, to this .npy (int64) or .csv file (MNIST has them)")
	layer := fs.Int("layer", -1, "for a neural network (harmonium nn train): the layer, 0-based, whose outputs to write (required for one); for a DBN: the level, 1 for the first hidden layer (default: the top); an RBM has one hidden layer")
	if err := parse(fs, args); err != nil {
		return err
	}
	if !npyOrCSV(*out) {
		return usageError{fmt.Errorf("--out must name a .npy or .csv file, got %q", *out)}
	}
	if *labelsOut != "" && !npyOrCSV(*labelsOut) {
		return usageError{fmt.Errorf("--labels-out must name a .npy or .csv file, got %q", *labelsOut)}
	}
	if err := checkOutputs(*out, *labelsOut); err != nil {
		return err
	}
	if *model != "" {
		kind, _, err := modelfile.KindOf(*model)
		if err != nil {
			return err
		}
		if kind == modelfile.KindNN {
			return nnFeatures(ctx, e, *model, *layer, &data, *out, *labelsOut)
		}
		if kind == modelfile.KindAE && *layer == -1 {
			return aeFeatures(ctx, e, *model, &data, *out, *labelsOut)
		}
		if kind == modelfile.KindDBN {
			return dbnFeatures(ctx, e, *model, *layer, &data, *out, *labelsOut)
		}
		if *layer != -1 {
			return usageError{fmt.Errorf("--layer applies to neural networks; %s is %s, whose features are p(h=1|v) of its one hidden layer (leave out --layer)", *model, kind.Describe())}
		}
	}
	m, _, set, err := loadModelAndData(ctx, e, *model, &data)
	if err != nil {
		return err
	}
	if *labelsOut != "" && set.Labels == nil {
		return fmt.Errorf("--labels-out: %s has no labels", set.Source)
	}
	feats := m.Transform(set.X)
	if strings.ToLower(filepath.Ext(*out)) == ".npy" {
		err = dataset.WriteNPY(*out, feats)
	} else {
		err = dataset.WriteCSV(*out, feats)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "wrote %s: %d samples x %d features\n", *out, feats.Rows, feats.Cols)
	if *labelsOut != "" {
		if err := dataset.WriteLabels(*labelsOut, set.Labels); err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "wrote %s: %d labels\n", *labelsOut, len(set.Labels))
	}
	return nil
}

func npyOrCSV(path string) bool {
	ext := strings.ToLower(filepath.Ext(path))
	return ext == ".npy" || ext == ".csv"
}

// checkAISMemory refuses, before anything is allocated, AIS whose runs and
// temperatures (set by the flags named runsFlag and betasFlag) would need
// more memory than the machine has.
func checkAISMemory(m *rbm.RBM, runs, betas int, runsFlag, betasFlag string) error {
	what := fmt.Sprintf("AIS with %s %d and %s %d on a %d-%d RBM", runsFlag, runs, betasFlag, betas, m.Visible(), m.Hidden())
	return memguard.Check(what, rbm.AISMemoryBytes(m.Visible(), m.Hidden(), runs, betas))
}

// checkEstimators reports, before any work, an estimator the model does not
// support.
func checkEstimators(m *rbm.RBM, path string, exact, ais, pll bool) error {
	if pll && (m.VisUnits != rbm.Bernoulli || m.HidUnits != rbm.Bernoulli) {
		return fmt.Errorf("--pll: %s has %v visible and %v hidden units; the pseudo-likelihood is defined for binary units only (use --exact or --ais for the log-likelihood)", path, m.VisUnits, m.HidUnits)
	}
	if ais && m.HidUnits != rbm.Bernoulli {
		return fmt.Errorf("--ais: %s has %v hidden units; AIS supports Bernoulli hidden units only (--exact works for up to %d visible units)", path, m.HidUnits, rbm.MaxExactUnits)
	}
	if !exact {
		return nil
	}
	if err := m.CanEnumerate(); err != nil {
		return fmt.Errorf("--exact: %s: %w (use --ais)", path, err)
	}
	return nil
}
