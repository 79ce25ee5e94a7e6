package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/harmonium-ml/harmonium/dataset"
	"github.com/harmonium-ml/harmonium/modelfile"
	"github.com/harmonium-ml/harmonium/rbm"
)

// loadModelAndData reads a model and data, checking that they fit each other.
func loadModelAndData(ctx context.Context, e *env, modelPath string, data *dataFlags) (*rbm.RBM, *dataset.Set, error) {
	if modelPath == "" {
		return nil, nil, usageError{fmt.Errorf("--model is required")}
	}
	m, _, _, err := modelfile.LoadRBM(modelPath)
	if err != nil {
		return nil, nil, err
	}
	set, err := data.load(ctx, e)
	if err != nil {
		return nil, nil, err
	}
	if set.X.Cols != m.Visible() {
		return nil, nil, fmt.Errorf("%s has %d visible units but %s has %d values per sample", modelPath, m.Visible(), set.Source, set.X.Cols)
	}
	return m, set, nil
}

func runEval(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "eval", "measure a model on data: mean reconstruction error (sum over features of (v - p(v|h))^2, h sampled from p(h|v)) and mean free energy, on the data as given.",
		"harmonium eval --model mnist.safetensors --data mnist --json")
	var data dataFlags
	data.register(fs, "test")
	model := fs.String("model", "", "model file (required)")
	seed := fs.Uint64("seed", 1, "random seed for sampling the hidden units")
	jsonOut := fs.Bool("json", false, `print {"recon_error": ..., "free_energy": ..., "samples": N} on stdout`)
	if err := parse(fs, args); err != nil {
		return err
	}
	m, set, err := loadModelAndData(ctx, e, *model, &data)
	if err != nil {
		return err
	}
	recon := m.ReconstructionError(set.X, *seed)
	fe := m.MeanFreeEnergy(set.X)
	if *jsonOut {
		return json.NewEncoder(e.stdout).Encode(map[string]any{"recon_error": recon, "free_energy": fe, "samples": set.X.Rows})
	}
	fmt.Fprintf(e.stdout, "data:                 %s, %s\n", set.Source, set.Shape())
	fmt.Fprintf(e.stdout, "reconstruction error: %.4f (mean per sample of the summed squared error)\n", recon)
	fmt.Fprintf(e.stdout, "free energy:          %.4f (mean per sample)\n", fe)
	return nil
}

func runFeatures(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "features", "write p(h=1|v) for every sample, one row per sample: the hidden layer as features for other models.",
		"harmonium features --model mnist.safetensors --data mnist --split train --out train-features.npy")
	var data dataFlags
	data.register(fs, "test")
	model := fs.String("model", "", "model file (required)")
	out := fs.String("out", "", "output file, .npy (float32) or .csv (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	ext := strings.ToLower(filepath.Ext(*out))
	if *out == "" || (ext != ".npy" && ext != ".csv") {
		return usageError{fmt.Errorf("--out must name a .npy or .csv file, got %q", *out)}
	}
	m, set, err := loadModelAndData(ctx, e, *model, &data)
	if err != nil {
		return err
	}
	feats := m.Transform(set.X)
	if ext == ".npy" {
		err = dataset.WriteNPY(*out, feats)
	} else {
		err = dataset.WriteCSV(*out, feats)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "wrote %s: %d samples x %d features\n", *out, feats.Rows, feats.Cols)
	return nil
}
