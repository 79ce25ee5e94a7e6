package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"time"

	"github.com/harmonium-ml/harmonium/mat32"

	"github.com/harmonium-ml/harmonium/dataset"
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
	var data dataFlags
	data.register(fs, "test")
	model := fs.String("model", "", "model file (required)")
	seed := fs.Uint64("seed", 1, "random seed for sampling the hidden units, AIS and the PLL estimate")
	ais := fs.Bool("ais", false, "estimate log Z by annealed importance sampling, and the mean log-likelihood -F(v) - log Z")
	runs := fs.Int("runs", 100, "AIS: independent runs")
	betas := fs.Int("betas", 14500, "AIS: number of inverse temperatures from 0 to 1")
	exact := fs.Bool("exact", false, "compute log Z exactly by enumeration (models whose smaller layer has at most 25 units)")
	pll := fs.Bool("pll", false, "pseudo-log-likelihood per feature: exact (all features) and the one-random-feature estimate")
	binSeed := fs.Uint64("binarize-seed", 1, "likelihoods are defined on binary data: grey levels are replaced by a stochastic binarisation with this seed")
	quiet := fs.Bool("quiet", false, "no progress bar")
	jsonOut := fs.Bool("json", false, `print one JSON object on stdout: {"recon_error": ..., "free_energy": ..., "samples": N, ...}`)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := positive(map[string]int{"runs": *runs, "betas": *betas}); err != nil {
		return err
	}
	if *betas < 3 {
		return usageError{fmt.Errorf("--betas must be at least 3, got %d", *betas)}
	}
	m, _, set, err := loadModelAndData(ctx, e, *model, &data)
	if err != nil {
		return err
	}
	if err := checkEstimators(m, *model, *exact, *ais, *pll); err != nil {
		return err
	}
	res := map[string]any{"samples": set.X.Rows}
	res["recon_error"] = m.ReconstructionError(set.X, *seed)
	res["free_energy"] = m.MeanFreeEnergy(set.X)
	var lines []string
	add := func(format string, a ...any) { lines = append(lines, fmt.Sprintf(format, a...)) }
	add("data:                  %s, %s", set.Source, set.Shape())
	add("reconstruction error:  %.4f (mean per sample of the summed squared error)", res["recon_error"])
	add("free energy:           %.4f (mean per sample)", res["free_energy"])

	if *ais || *exact || *pll {
		binary, note := set.X, ""
		if m.VisUnits == rbm.Bernoulli {
			binary, note = binaryData(set, *binSeed)
		} else if m.Scaler != nil {
			res["standardized"] = true
			add("likelihoods below:     densities of the standardised data (the space the model sees)")
		}
		if note != "" {
			res["binarized"], res["binarize_seed"] = true, *binSeed
			add("likelihoods below:     %s", note)
		}
		meanNegF := -m.MeanFreeEnergy(binary)
		if note != "" {
			res["binarized_free_energy"] = -meanNegF
			add("free energy (binary):  %.4f (mean per sample of the binarised data the likelihoods use)", -meanNegF)
		}
		if *exact {
			start := time.Now()
			logZ, err := m.LogPartitionFast()
			if err != nil {
				return err
			}
			res["exact_log_z"], res["exact_log_likelihood"] = logZ, meanNegF-logZ
			if !*ais {
				res["log_likelihood"] = meanNegF - logZ
			}
			add("exact log Z:           %.4f (%.1f s)", logZ, time.Since(start).Seconds())
			add("exact log-likelihood:  %.4f nats per sample", meanNegF-logZ)
		}
		if *ais {
			acfg, from := m.DefaultAISBase(binary)
			acfg.Runs, acfg.Betas, acfg.Seed = *runs, rbm.DefaultBetas(*betas), *seed
			b := newBar(e, "AIS", *quiet)
			start := time.Now()
			r, err := m.AIS(ctx, acfg,
				func(done, total int) { b.update(done, total, "") })
			b.done()
			if err != nil {
				if errors.Is(err, context.Canceled) {
					return fmt.Errorf("%w: AIS stopped", errInterrupted)
				}
				return err
			}
			secs := time.Since(start).Seconds()
			res["log_z"], res["log_z_high"], res["log_likelihood"] = r.LogZ, r.LogZHigh, meanNegF-r.LogZ
			res["log_z_low"] = nil // the interval reaches 0: no lower bound
			low := "-inf"
			if !math.IsInf(r.LogZLow, -1) {
				res["log_z_low"], low = r.LogZLow, fmt.Sprintf("%.4f", r.LogZLow)
			}
			res["ais_runs"], res["ais_betas"], res["ais_seconds"] = *runs, *betas, secs
			add("log Z (AIS):           %.4f, interval [%s, %.4f] (mean weight -/+ 3 standard errors; %d runs, %d temperatures, %.1f s; base model from %s)",
				r.LogZ, low, r.LogZHigh, *runs, *betas, secs, from)
			add("log-likelihood (AIS):  %.4f nats per sample (interval [%.4f, %s])", meanNegF-r.LogZ, meanNegF-r.LogZHigh, negOrInf(meanNegF, r.LogZLow))
		}
		if *pll {
			p, err := m.PseudoLogLikelihood(binary, *seed)
			if err != nil {
				return err
			}
			res["pseudo_log_likelihood"], res["pseudo_log_likelihood_estimate"] = p.Exact, p.Estimate
			add("pseudo-log-likelihood: %.5f per feature (%.3f per sample); one-random-feature estimate %.5f", p.Exact, p.Exact*float64(m.Visible()), p.Estimate)
		}
	}
	if *jsonOut {
		return json.NewEncoder(e.stdout).Encode(res)
	}
	fmt.Fprintln(e.stdout, strings.Join(lines, "\n"))
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
