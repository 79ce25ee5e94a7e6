package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/harmonium-ml/harmonium/dataset"
	"github.com/harmonium-ml/harmonium/internal/atomicfile"
	"github.com/harmonium-ml/harmonium/rbm"
)

// dataFlags are the flags that say what data to read and how to prepare it.
type dataFlags struct {
	path, split string
	scale       bool
	binarize    float64
	limit       int
}

func (d *dataFlags) register(fs *flag.FlagSet, split string) {
	fs.StringVar(&d.path, "data", "", "data: a folder of MNIST IDX files, a .csv/.csv.gz or .npy file (one sample per row), or 'mnist' to download MNIST into the cache; empty means the built-in MNIST test set (10,000 images)")
	fs.StringVar(&d.split, "split", split, "for MNIST: which split to read, train or test")
	fs.BoolVar(&d.scale, "scale", false, "scale the data linearly from its [min, max] to [0, 1]")
	fs.Float64Var(&d.binarize, "binarize", -1, "set values above this threshold to 1 and the rest to 0 (off when negative)")
	fs.IntVar(&d.limit, "limit", 0, "use only the first N samples (0: all)")
}

// load reads the data and checks it suits Bernoulli visible units.
func (d *dataFlags) load(ctx context.Context, e *env) (*dataset.Set, error) {
	set, err := d.loadAny(ctx, e)
	if err != nil {
		return nil, err
	}
	if err := set.CheckUnitInterval(); err != nil {
		return nil, err
	}
	return set, nil
}

// loadAny reads the data and prepares it as the flags say, without checking
// its values: the model's unit types decide which values are allowed.
func (d *dataFlags) loadAny(ctx context.Context, e *env) (*dataset.Set, error) {
	if d.split != "train" && d.split != "test" {
		return nil, usageError{fmt.Errorf("--split must be train or test, got %q", d.split)}
	}
	if d.limit < 0 {
		return nil, usageError{fmt.Errorf("--limit must not be negative, got %d", d.limit)}
	}
	if math.IsNaN(d.binarize) { // it would pass for off, the data left grey
		return nil, usageError{fmt.Errorf("--binarize must be a threshold (negative: off), got %g", d.binarize)}
	}
	var set *dataset.Set
	var err error
	switch d.path {
	case "":
		set, err = dataset.Embedded()
	case "mnist":
		set, err = loadDownloaded(ctx, e, d.split)
	default:
		set, err = cancellable(ctx, d.path, func() (*dataset.Set, error) { return dataset.Load(d.path, d.split) })
	}
	if err != nil {
		return nil, err
	}
	set = set.Head(d.limit)
	if d.scale {
		set.Scale()
	}
	if d.binarize >= 0 {
		set.Binarize(float32(d.binarize))
	}
	return set, nil
}

// cancellable returns load's result; when path is a named pipe or device,
// whose opening can block where no check of ctx reaches (a pipe nothing
// writes to), it returns errInterrupted as soon as ctx ends, and the
// abandoned load goes on until it returns or the process ends.
func cancellable[T any](ctx context.Context, path string, load func() (T, error)) (T, error) {
	if fi, err := os.Stat(path); err != nil || fi.Mode().IsRegular() || fi.IsDir() {
		return load()
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := load()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, fmt.Errorf("%w while reading %s", errInterrupted, path)
	}
}

// forModel standardises set with the model's scaler, when it has one, and
// checks that the values suit the model's visible units.
func forModel(m *rbm.RBM, modelPath string, set *dataset.Set) error {
	if set.X.Cols != m.Visible() {
		return fmt.Errorf("%s has %d visible units but %s has %d values per sample", modelPath, m.Visible(), set.Source, set.X.Cols)
	}
	if m.Scaler != nil {
		m.Scaler.Apply(set.X)
	}
	if m.VisUnits == rbm.Bernoulli {
		return set.CheckUnitInterval()
	}
	if err := rbm.CheckData(m, set.X); err != nil {
		return fmt.Errorf("%s: %w", set.Source, err)
	}
	return nil
}

// loadDownloaded reads MNIST from the cache, downloading it first if needed.
func loadDownloaded(ctx context.Context, e *env, split string) (*dataset.Set, error) {
	cache, err := dataset.CacheDir()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(cache, "mnist")
	bar := newBar(e, "download MNIST", false)
	err = dataset.DownloadMNIST(ctx, dataset.MNISTURL(), dir, func(file string, done, total int64) {
		bar.bytes(file, done, total)
	})
	bar.done()
	if err != nil {
		return nil, fmt.Errorf("%w (or pass --data with a folder holding MNIST)", err)
	}
	return dataset.LoadMNIST(dir, split)
}

// checkOutputs fails, with the error writing would give, when one of the
// output paths (empty ones are skipped) cannot be written: a missing or
// read-only folder, or a folder at the path. Commands call it before their
// work, so that a mistyped path neither wastes a training run nor lets a
// run that then fails replace another of its outputs.
func checkOutputs(paths ...string) error {
	for _, p := range paths {
		if p == "" {
			continue
		}
		if err := atomicfile.Check(p); err != nil {
			return err
		}
	}
	return nil
}
