package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/harmonium-ml/harmonium/dataset"
	"github.com/harmonium-ml/harmonium/dbn"
	"github.com/harmonium-ml/harmonium/mat32"
	"github.com/harmonium-ml/harmonium/modelfile"
	"github.com/harmonium-ml/harmonium/nn"
	"github.com/harmonium-ml/harmonium/viz"
)

// kindOfArg returns the kind of the model file that --model names in args
// ("" when there is none or it cannot be read; the command's own loader
// then reports the problem).
func kindOfArg(args []string) modelfile.Kind {
	p := modelArg(args)
	if p == "" {
		return ""
	}
	k, _, err := modelfile.KindOf(p)
	if err != nil {
		return ""
	}
	return k
}

// dbnUpDown returns the DBN's mean-field reconstruction of every row of x
// (standardised data): means up to the top level and down again.
func dbnUpDown(d *dbn.DBN, x *mat32.Dense) (*mat32.Dense, error) {
	top := len(d.Layers)
	h, err := d.Transform(x, top)
	if err != nil {
		return nil, err
	}
	return d.Down(h, top, nil)
}

// runDBNEval measures a DBN: the mean reconstruction error of one
// mean-field pass up to the top and down.
func runDBNEval(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "eval", "measure a DBN on data: the mean reconstruction error (sum over values of (x - reconstruction)^2), the reconstruction being the means of one pass up to the top level and one down. (harmonium dbn classify measures a DBN trained with --labels as a classifier.)",
		"harmonium eval --model dbn.safetensors --data ../shared/data/mnist --json")
	var data dataFlags
	data.register(fs, "test")
	model := fs.String("model", "", "DBN model file (required)")
	jsonOut := fs.Bool("json", false, `print one JSON object on stdout: {"recon_error": .., "samples": N, "layers": [...]}`)
	if err := parse(fs, args); err != nil {
		return err
	}
	d, _, err := loadDBN(*model)
	if err != nil {
		return err
	}
	set, err := dbnData(ctx, e, &data, d, *model)
	if err != nil {
		return err
	}
	rec, err := dbnUpDown(d, set.X)
	if err != nil {
		return err
	}
	re := mat32.DiffStats(set.X, rec, make([]float32, set.X.Cols), 0) / float64(max(set.X.Rows, 1))
	if *jsonOut {
		return writeJSON(e.stdout, e.stderr, map[string]any{"kind": "dbn", "recon_error": re, "samples": set.X.Rows, "layers": d.Sizes()})
	}
	fmt.Fprintf(e.stdout, "model:                 DBN %s\ndata:                  %s, %s\nreconstruction error:  %.4f (mean per sample of the summed squared error; means up to the top and down)\n",
		levelsText(d.Sizes()), set.Source, set.Shape(), re)
	return nil
}

// levelsText joins level sizes: 784-500-500-2000.
func levelsText(s []int) string {
	var parts []string
	for _, n := range s {
		parts = append(parts, fmt.Sprint(n))
	}
	return strings.Join(parts, "-")
}

// dbnFeatures writes a DBN's means at a level (the top when level < 1).
func dbnFeatures(ctx context.Context, e *env, modelPath string, level int, data *dataFlags, out, labelsOut string) error {
	d, _, err := loadDBN(modelPath)
	if err != nil {
		return err
	}
	if level < 1 {
		level = len(d.Layers)
	}
	if level > len(d.Layers) {
		return usageError{fmt.Errorf("--layer %d: %s has levels 1 to %d", level, modelPath, len(d.Layers))}
	}
	set, err := dbnData(ctx, e, data, d, modelPath)
	if err != nil {
		return err
	}
	if labelsOut != "" && set.Labels == nil {
		return fmt.Errorf("--labels-out: %s has no labels", set.Source)
	}
	feats, err := d.Transform(set.X, level)
	if err != nil {
		return err
	}
	if err := writeMatrix(out, feats); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "wrote %s: %d samples x %d features (level %d of the DBN)\n", out, feats.Rows, feats.Cols, level)
	if labelsOut != "" {
		if err := dataset.WriteLabels(labelsOut, set.Labels); err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "wrote %s: %d labels\n", labelsOut, len(set.Labels))
	}
	return nil
}

// writeMatrix writes m to a .npy or .csv file.
func writeMatrix(path string, m *mat32.Dense) error {
	if strings.ToLower(filepath.Ext(path)) == ".npy" {
		return dataset.WriteNPY(path, m)
	}
	return dataset.WriteCSV(path, m)
}

// dbnReconstruct draws samples beside the DBN's up-down reconstructions.
func dbnReconstruct(ctx context.Context, e *env, pic *pictureFlags, data *dataFlags, n int, random bool, seed uint64) error {
	d, meta, err := loadDBN(pic.model)
	if err != nil {
		return err
	}
	set, err := dbnData(ctx, e, data, d, pic.model)
	if err != nil {
		return err
	}
	if n > set.X.Rows {
		return usageError{fmt.Errorf("--n %d is more than the %d samples in %s", n, set.X.Rows, set.Source)}
	}
	shape, zoom, err := pic.resolve(d.Visible(), set, meta)
	if err != nil {
		return err
	}
	if err := viz.CheckGrid(n, shape, viz.GridCols(n), zoom, 2); err != nil {
		return err
	}
	orig := gather(set.X, pick(n, set.X.Rows, random, seed))
	rec, err := dbnUpDown(d, orig)
	if err != nil {
		return err
	}
	img := viz.ReconstructionsAs(clamp01(orig), clamp01(rec), shape, zoom, "DBN reconstructions (up and down)")
	return pic.write(e, img, false, fmt.Sprintf("%d samples and their reconstructions", n))
}

// firstWeights returns the incoming weights of a model's first layer of
// units, visible x units (an RBM's W, a DBN's first RBM's, an
// autoencoder's first dense layer's), and the model's metadata.
func firstWeights(path string) (*mat32.Dense, map[string]string, error) {
	kind, _, err := modelfile.KindOf(path)
	if err != nil {
		return nil, nil, err
	}
	switch kind {
	case modelfile.KindDBN:
		d, meta, err := loadDBN(path)
		if err != nil {
			return nil, nil, err
		}
		w := d.Layers[0].W
		if d.Labels > 0 && len(d.Layers) == 1 {
			w = w.Slice(0, w.Rows-d.Labels)
		}
		return w, meta, nil
	case modelfile.KindAE:
		m, meta, err := loadAEModel(path)
		if err != nil {
			return nil, nil, err
		}
		for _, l := range m.Net.Layers() {
			if dl, ok := l.(*nn.DenseLayer); ok {
				return dl.W, meta, nil
			}
			if len(l.Params()) > 0 {
				break
			}
		}
		return nil, nil, fmt.Errorf("%s is a %s autoencoder whose first layer is not dense: filters draws dense weights", path, m.Kind)
	}
	m, meta, _, err := modelfile.LoadRBM(path)
	if err != nil {
		return nil, nil, err
	}
	return m.W, meta, nil
}
