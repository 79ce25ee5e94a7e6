package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/harmonium-ml/harmonium/ae"
	"github.com/harmonium-ml/harmonium/dataset"
	"github.com/harmonium-ml/harmonium/mat32"
	"github.com/harmonium-ml/harmonium/modelfile"
	"github.com/harmonium-ml/harmonium/viz"
)

// modelArg returns the value of --model (or -model, --model=...) in args,
// or "" if absent.
func modelArg(args []string) string {
	for i, a := range args {
		if a == "--" {
			break
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "model" {
			continue
		}
		if hasVal {
			return val
		}
		if i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// isAE reports whether args name an autoencoder model file: commands that
// take several kinds hand those to the autoencoder's version.
func isAE(args []string) bool {
	p := modelArg(args)
	if p == "" {
		return false
	}
	k, _, err := modelfile.KindOf(p)
	return err == nil && k == modelfile.KindAE
}

// loadAEModel reads an autoencoder, saying clearly when the file holds
// another kind of model.
func loadAEModel(path string) (*ae.Model, map[string]string, error) {
	if err := requireKind(path, modelfile.KindAE, "an autoencoder"); err != nil {
		return nil, nil, err
	}
	m, meta, _, err := modelfile.LoadAE(path)
	return m, meta, err
}

// aeData reads the data and checks that it suits the autoencoder.
func aeData(ctx context.Context, e *env, m *ae.Model, path string, data *dataFlags) (*dataset.Set, error) {
	set, err := data.loadAny(ctx, e)
	if err != nil {
		return nil, err
	}
	if set.X.Cols != m.Inputs() {
		return nil, fmt.Errorf("%s takes %d values per sample but %s has %d", path, m.Inputs(), set.Source, set.X.Cols)
	}
	if err := m.CheckData(set.X); err != nil {
		return nil, fmt.Errorf("%s: %w", set.Source, err)
	}
	return set, nil
}

func runAEEval(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "ae eval", "measure an autoencoder on data: the mean reconstruction error (sum over values of (x - reconstruction)^2, without corruption, a VAE decoding its mean code); "+
		"for a VAE also the ELBO (one code sampled per sample) and the log-likelihood estimated by importance sampling with --samples codes per sample (the IWAE bound of Burda et al. 2016; 0 skips it), in nats per sample, on the data as given (MNIST grey levels as Bernoulli means, as PyTorch's VAE example) or, with --binarize-seed, on a stochastic binarisation such as harmonium eval --ais uses. "+
		"The importance sampling decodes samples x codes: 10,000 MNIST images at 5,000 codes take some minutes.",
		"harmonium ae eval --model vae.safetensors --data ../shared/data/mnist --json\n  harmonium eval --model vae.safetensors --data ../shared/data/mnist --samples 1000 --binarize-seed 1")
	var data dataFlags
	data.register(fs, "test")
	model := fs.String("model", "", "autoencoder model file (required)")
	k := fs.Int("samples", 5000, "VAE: codes per sample for the importance-sampled log-likelihood (0: skip it)")
	seed := fs.Uint64("seed", 1, "random seed for the codes sampled")
	binSeed := fs.Int64("binarize-seed", -1, "VAE: measure the ELBO and log-likelihood on a stochastic binarisation of the data with this seed (off when negative)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	jsonOut := fs.Bool("json", false, `print one JSON object on stdout: {"recon_error": .., "samples": N, and for a VAE "elbo", "log_likelihood", "importance_samples"}`)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *k < 0 {
		return usageError{fmt.Errorf("--samples must not be negative, got %d", *k)}
	}
	m, _, err := loadAEModel(*model)
	if err != nil {
		return err
	}
	set, err := aeData(ctx, e, m, *model, &data)
	if err != nil {
		return err
	}
	res, lines, err := evalAE(ctx, e, m, set, *k, *seed, *binSeed, *quiet)
	if err != nil {
		return err
	}
	if *jsonOut {
		return writeJSON(e.stdout, e.stderr, res)
	}
	fmt.Fprintln(e.stdout, strings.Join(lines, "\n"))
	return nil
}

// evalAE measures the model on set: the JSON result and the lines to print.
func evalAE(ctx context.Context, e *env, m *ae.Model, set *dataset.Set, k int, seed uint64, binSeed int64, quiet bool) (map[string]any, []string, error) {
	res := map[string]any{"kind": m.Kind, "samples": set.X.Rows, "parameters": m.Params(), "code": m.CodeSize()}
	res["recon_error"] = m.ReconError(set.X)
	lines := []string{
		fmt.Sprintf("model:                 %s", m),
		fmt.Sprintf("data:                  %s, %s", set.Source, set.Shape()),
		fmt.Sprintf("reconstruction error:  %.4f (mean per sample of the summed squared error)", res["recon_error"]),
	}
	if m.Kind != ae.VAE {
		return res, lines, nil
	}
	x, note := set.X, "on the data as given"
	if binSeed >= 0 {
		x, note = binaryData(set, uint64(binSeed))
		if note == "" {
			note = "on the data as given (binary)"
		}
		res["binarized"], res["binarize_seed"] = true, binSeed
	}
	elbo, err := m.ELBO(x, seed)
	if err != nil {
		return nil, nil, err
	}
	res["elbo"] = elbo
	lines = append(lines, fmt.Sprintf("ELBO:                  %.4f nats per sample, %s (negative ELBO %.4f)", elbo, note, -elbo))
	if k == 0 {
		return res, lines, nil
	}
	bar := newBar(e, "log-likelihood", quiet)
	start := time.Now()
	ll, err := m.LogLikelihood(ctx, x, k, seed, func(done int) { bar.update(done, x.Rows, "samples") })
	bar.done()
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return nil, nil, fmt.Errorf("%w during the log-likelihood", errInterrupted)
		}
		return nil, nil, err
	}
	res["log_likelihood"], res["importance_samples"], res["log_likelihood_seconds"] = ll, k, time.Since(start).Seconds()
	lines = append(lines, fmt.Sprintf("log-likelihood:        %.4f nats per sample (importance sampling, %d codes each, %s)", ll, k, fmtDuration(time.Since(start))))
	return res, lines, nil
}

// aeFeatures writes the autoencoder's code of every sample.
func aeFeatures(ctx context.Context, e *env, modelPath string, data *dataFlags, out, labelsOut string) error {
	m, _, err := loadAEModel(modelPath)
	if err != nil {
		return err
	}
	set, err := aeData(ctx, e, m, modelPath, data)
	if err != nil {
		return err
	}
	if labelsOut != "" && set.Labels == nil {
		return fmt.Errorf("--labels-out: %s has no labels", set.Source)
	}
	feats := m.Features(set.X)
	if strings.ToLower(filepath.Ext(out)) == ".npy" {
		err = dataset.WriteNPY(out, feats)
	} else {
		err = dataset.WriteCSV(out, feats)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "wrote %s: %d samples x %d features (the %s's code)\n", out, feats.Rows, feats.Cols, m.Kind)
	if labelsOut != "" {
		if err := dataset.WriteLabels(labelsOut, set.Labels); err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "wrote %s: %d labels\n", labelsOut, len(set.Labels))
	}
	return nil
}

// aeReconstruct draws samples beside the autoencoder's reconstructions.
func aeReconstruct(ctx context.Context, e *env, pic *pictureFlags, data *dataFlags, n int, random bool, seed uint64) error {
	m, meta, err := loadAEModel(pic.model)
	if err != nil {
		return err
	}
	set, err := aeData(ctx, e, m, pic.model, data)
	if err != nil {
		return err
	}
	if n > set.X.Rows {
		return usageError{fmt.Errorf("--n %d is more than the %d samples in %s", n, set.X.Rows, set.Source)}
	}
	shape, zoom, err := pic.resolve(m.Inputs(), set, meta)
	if err != nil {
		return err
	}
	if err := viz.CheckGrid(n, shape, viz.GridCols(n), zoom, 2); err != nil {
		return err
	}
	orig := gather(set.X, pick(n, set.X.Rows, random, seed))
	img := viz.ReconstructionsAs(orig, clamp01(m.Reconstruct(orig)), shape, zoom, m.Kind+" reconstructions")
	return pic.write(e, img, false, fmt.Sprintf("%d samples and their reconstructions", n))
}

// clamp01 clips values to [0, 1] for drawing (Gaussian outputs may leave it).
func clamp01(x *mat32.Dense) *mat32.Dense {
	for i, v := range x.Data {
		x.Data[i] = min(max(v, 0), 1)
	}
	return x
}

// aeSample draws a VAE's samples from the prior, or with a 2-D code the
// manifold grid.
func aeSample(e *env, pic *pictureFlags, n int, seed uint64, quiet bool) error {
	m, meta, err := loadAEModel(pic.model)
	if err != nil {
		return err
	}
	if m.Kind != ae.VAE {
		return fmt.Errorf("%s is a %s autoencoder, which has no prior to sample from; a vae has (harmonium ae train --kind vae)", pic.model, m.Kind)
	}
	shape, zoom, err := pic.resolve(m.Inputs(), nil, meta)
	if err != nil {
		return err
	}
	side := viz.GridCols(n)
	grid := m.CodeSize() == 2
	if grid {
		n = side * side
	}
	if err := viz.CheckGrid(n, shape, side, zoom, 1); err != nil {
		return err
	}
	var x *mat32.Dense
	what := fmt.Sprintf("%d samples from the prior", n)
	if grid {
		x, err = m.Grid(side)
		what = fmt.Sprintf("the %dx%d manifold of the 2-D code", side, side)
	} else {
		x, err = m.Sample(n, seed)
	}
	if err != nil {
		return err
	}
	img := viz.GridOf(clamp01(x), shape, side, zoom)
	return pic.write(e, img, quiet, what)
}
