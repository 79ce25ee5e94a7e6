package main

import (
	"context"
	"flag"
	"fmt"
	"image"
	"path/filepath"

	"github.com/harmonium-ml/harmonium/dataset"
	"github.com/harmonium-ml/harmonium/mat32"
	"github.com/harmonium-ml/harmonium/modelfile"
	"github.com/harmonium-ml/harmonium/viz"
)

func init() {
	commands = append(commands, command{"embed", "draw a model's 2-D codes of the data as a scatter plot coloured by label (PNG)", runEmbed})
}

// minEmbedSize is the smallest --size of embed.
const minEmbedSize = 100

func runEmbed(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "embed", "draw a model's 2-value code of every sample as a dot in a scatter plot, coloured by the sample's label, "+
		"as Hinton & Salakhutdinov (2006, Science, Fig. 3) show the codes a 784-1000-500-250-2 deep autoencoder gives the MNIST test digits beside the first two principal components (--pca). "+
		"Models with a 2-value code: autoencoders (ae train --kind vae --code 2, whose mean code is drawn; or a deep one from dbn train --layers 1000,500,250,2 --top-units gaussian and finetune --task autoencode), "+
		"DBNs whose top level has 2 units (the means of the up pass) and RBMs with 2 hidden units (p(h|v)). "+
		"MNIST folders are read from the test split unless --split train; samples without labels are drawn in one colour.",
		"harmonium embed --model vae2d.safetensors --data ../shared/data/mnist --pca --out embed.png")
	var f embedFlags
	f.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := f.check(); err != nil {
		return err
	}
	enc, err := loadEncoder(f.pic.model)
	if err != nil {
		return err
	}
	set, _, err := loadLabelled(ctx, e, &f.data, f.labels, false)
	if err != nil {
		return err
	}
	raw := set.X
	if f.pca && enc.standardises {
		raw = mat32.FromSlice(set.X.Rows, set.X.Cols, append([]float32(nil), set.X.Data...))
	}
	if err := enc.check(set); err != nil {
		return err
	}
	codes, err := enc.encode(set.X)
	if err != nil {
		return err
	}
	picture, what, err := f.draw(enc, set, codes, raw)
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%w: nothing written", errInterrupted)
	}
	return f.pic.write(e, picture, f.quiet, what)
}

// embedFlags are the settings of embed.
type embedFlags struct {
	data       dataFlags
	pic        pictureFlags // --out and --model
	labels     string
	size, dot  int
	pca, quiet bool
}

// register defines the flags of embed.
func (f *embedFlags) register(fs *flag.FlagSet) {
	f.data.register(fs, "test")
	fs.StringVar(&f.pic.model, "model", "", "model file with a 2-value code: an autoencoder, DBN or RBM (required)")
	fs.StringVar(&f.labels, "labels", "", "labels of the data, one integer per sample (.csv or .npy; MNIST folders have their own)")
	fs.StringVar(&f.pic.out, "out", "", "the PNG file to write (required)")
	fs.BoolVar(&f.pca, "pca", false, "draw the first two principal components of the data (as read, before any standardisation the model applies) beside the model's code")
	fs.IntVar(&f.size, "size", viz.DefaultScatterSize, fmt.Sprintf("width and height of each plot in pixels (%d to %d)", minEmbedSize, viz.MaxScatterSize))
	fs.IntVar(&f.dot, "dot", viz.DefaultDot, fmt.Sprintf("diameter of the dots in pixels (1 to %d)", viz.MaxDot))
	fs.BoolVar(&f.quiet, "quiet", false, "no message on stderr")
}

// check validates the flags before any work is done.
func (f *embedFlags) check() error {
	if err := f.pic.checkWithModel(); err != nil {
		return err
	}
	switch {
	case f.size < minEmbedSize || f.size > viz.MaxScatterSize:
		return usageError{fmt.Errorf("--size must be in [%d, %d], got %d", minEmbedSize, viz.MaxScatterSize, f.size)}
	case f.dot < 1 || f.dot > viz.MaxDot:
		return usageError{fmt.Errorf("--dot must be in [1, %d], got %d", viz.MaxDot, f.dot)}
	}
	return checkOutputs(f.pic.out)
}

// draw returns the scatter plot of the codes, with --pca beside the plot
// of the first two principal components of raw, and what it shows.
func (f *embedFlags) draw(enc *encoder, set *dataset.Set, codes, raw *mat32.Dense) (image.Image, string, error) {
	opt := viz.ScatterOptions{Size: f.size, Dot: f.dot}
	opt.Title = fmt.Sprintf("%s: %s", enc.what, filepath.Base(f.pic.model))
	img, err := viz.Scatter(codes, set.Labels, opt)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", f.pic.model, err)
	}
	var picture image.Image = img
	what := fmt.Sprintf("the %s of %d samples of %s", enc.what, set.X.Rows, set.Source)
	if f.pca {
		left, err := pcaScatter(raw, set, opt)
		if err != nil {
			return nil, "", err
		}
		picture = viz.BesideRGBA(24, left, img)
		what = "the first two principal components beside " + what
	}
	if set.Labels != nil {
		what += ", coloured by label"
	}
	return picture, what, nil
}

// pcaScatter returns the scatter plot of the first two principal
// components of x (the data of set), titled with the variance they explain.
func pcaScatter(x *mat32.Dense, set *dataset.Set, opt viz.ScatterOptions) (*image.RGBA, error) {
	p, explained, err := viz.PCA2(x)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", set.Source, err)
	}
	opt.NoLegend = true
	opt.Title = fmt.Sprintf("PCA (%.1f%% + %.1f%% of the variance)", 100*explained[0], 100*explained[1])
	left, err := viz.Scatter(p, set.Labels, opt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", set.Source, err)
	}
	return left, nil
}

// encoder is a model that gives every sample a code of 2 values.
type encoder struct {
	what         string                                   // what the code is, for titles: "vae code"
	standardises bool                                     // check changes the data in place
	check        func(set *dataset.Set) error             // checks (and standardises) the data for the model
	encode       func(*mat32.Dense) (*mat32.Dense, error) // the codes of the rows
}

// loadEncoder reads a model with a 2-value code, refusing other models in
// one line that says how to train one.
func loadEncoder(path string) (*encoder, error) {
	kind, _, err := modelfile.KindOf(path)
	if err != nil {
		return nil, err
	}
	switch kind {
	case modelfile.KindAE:
		return aeEncoder(path)
	case modelfile.KindDBN:
		return dbnEncoder(path)
	case modelfile.KindRBM:
		return rbmEncoder(path)
	}
	return nil, modelfile.WrongKind(path, kind, "a model with a 2-value code (an autoencoder, DBN or RBM)")
}

// aeEncoder reads an autoencoder with a 2-value code: the mean code of a
// VAE, the code of the others.
func aeEncoder(path string) (*encoder, error) {
	m, _, _, err := modelfile.LoadAE(path)
	if err != nil {
		return nil, err
	}
	if n := m.CodeSize(); n != 2 {
		return nil, fmt.Errorf("%s is a %s autoencoder with a %d-value code; embed draws 2-value codes: train one with harmonium ae train --kind vae --code 2, "+
			"or dbn train --layers 1000,500,250,2 --top-units gaussian then finetune --task autoencode", path, m.Kind, n)
	}
	what := m.Kind + " code"
	if m.Kind == "vae" {
		what = "vae mean code"
	}
	return &encoder{
		what: what,
		check: func(set *dataset.Set) error {
			if set.X.Cols != m.Inputs() {
				return fmt.Errorf("%s takes %d values per sample but %s has %d", path, m.Inputs(), set.Source, set.X.Cols)
			}
			if err := m.CheckData(set.X); err != nil {
				return fmt.Errorf("%s: %w", set.Source, err)
			}
			return nil
		},
		encode: func(x *mat32.Dense) (*mat32.Dense, error) { return m.Features(x), nil },
	}, nil
}

// dbnEncoder reads a DBN whose top level has 2 units: the means of the up
// pass.
func dbnEncoder(path string) (*encoder, error) {
	d, _, err := loadDBN(path)
	if err != nil {
		return nil, err
	}
	top := len(d.Layers)
	if n := d.Sizes()[top]; n != 2 {
		return nil, fmt.Errorf("%s is a DBN whose top level has %d units; embed draws 2-value codes: train one with harmonium dbn train --layers 1000,500,250,2 --top-units gaussian "+
			"(and finetune --task autoencode for a deep autoencoder), or ae train --kind vae --code 2", path, n)
	}
	return &encoder{
		what:         "DBN top-level means",
		standardises: d.Scaler() != nil,
		check:        func(set *dataset.Set) error { return fitDBNData(d, path, set) },
		encode:       func(x *mat32.Dense) (*mat32.Dense, error) { return d.Transform(x, top) },
	}, nil
}

// rbmEncoder reads an RBM with 2 hidden units: p(h|v).
func rbmEncoder(path string) (*encoder, error) {
	m, _, _, err := modelfile.LoadRBM(path)
	if err != nil {
		return nil, err
	}
	if n := m.Hidden(); n != 2 {
		return nil, fmt.Errorf("%s is an RBM with %d hidden units; embed draws 2-value codes: train one with harmonium train --hidden 2, or an autoencoder with ae train --kind vae --code 2", path, n)
	}
	return &encoder{
		what:         "RBM hidden means",
		standardises: m.Scaler != nil,
		check:        func(set *dataset.Set) error { return forModel(m, path, set) },
		encode:       func(x *mat32.Dense) (*mat32.Dense, error) { return m.Transform(x), nil },
	}, nil
}
