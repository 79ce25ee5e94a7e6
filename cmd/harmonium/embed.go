package main

import (
	"context"
	"errors"
	"fmt"
	"image"
	"path/filepath"

	"github.com/harmonium-ml/harmonium/dataset"
	"github.com/harmonium-ml/harmonium/mat32"
	"github.com/harmonium-ml/harmonium/modelfile"
	"github.com/harmonium-ml/harmonium/rbm"
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
	var data dataFlags
	data.register(fs, "test")
	model := fs.String("model", "", "model file with a 2-value code: an autoencoder, DBN or RBM (required)")
	labels := fs.String("labels", "", "labels of the data, one integer per sample (.csv or .npy; MNIST folders have their own)")
	out := fs.String("out", "", "the PNG file to write (required)")
	pca := fs.Bool("pca", false, "draw the first two principal components of the data (as read, before any standardisation the model applies) beside the model's code")
	size := fs.Int("size", viz.DefaultScatterSize, fmt.Sprintf("width and height of each plot in pixels (%d to %d)", minEmbedSize, viz.MaxScatterSize))
	dot := fs.Int("dot", viz.DefaultDot, fmt.Sprintf("diameter of the dots in pixels (1 to %d)", viz.MaxDot))
	quiet := fs.Bool("quiet", false, "no message on stderr")
	if err := parse(fs, args); err != nil {
		return err
	}
	pic := pictureFlags{out: *out}
	if err := pic.check(); err != nil {
		return err
	}
	switch {
	case *model == "":
		return usageError{errors.New("--model is required")}
	case *size < minEmbedSize || *size > viz.MaxScatterSize:
		return usageError{fmt.Errorf("--size must be in [%d, %d], got %d", minEmbedSize, viz.MaxScatterSize, *size)}
	case *dot < 1 || *dot > viz.MaxDot:
		return usageError{fmt.Errorf("--dot must be in [1, %d], got %d", viz.MaxDot, *dot)}
	}
	enc, err := loadEncoder(*model)
	if err != nil {
		return err
	}
	set, _, err := loadLabelled(ctx, e, &data, *labels, false)
	if err != nil {
		return err
	}
	raw := set.X
	if *pca && enc.standardises {
		raw = mat32.FromSlice(set.X.Rows, set.X.Cols, append([]float32(nil), set.X.Data...))
	}
	if err := enc.check(set); err != nil {
		return err
	}
	codes, err := enc.encode(set.X)
	if err != nil {
		return err
	}
	opt := viz.ScatterOptions{Size: *size, Dot: *dot}
	opt.Title = fmt.Sprintf("%s: %s", enc.what, filepath.Base(*model))
	img, err := viz.Scatter(codes, set.Labels, opt)
	if err != nil {
		return fmt.Errorf("%s: %w", *model, err)
	}
	var picture image.Image = img
	what := fmt.Sprintf("the %s of %d samples of %s", enc.what, set.X.Rows, set.Source)
	if *pca {
		p, explained, err := viz.PCA2(raw)
		if err != nil {
			return fmt.Errorf("%s: %w", set.Source, err)
		}
		opt.NoLegend = true
		opt.Title = fmt.Sprintf("PCA (%.1f%% + %.1f%% of the variance)", 100*explained[0], 100*explained[1])
		left, err := viz.Scatter(p, set.Labels, opt)
		if err != nil {
			return fmt.Errorf("%s: %w", set.Source, err)
		}
		picture = viz.BesideRGBA(24, left, img)
		what = "the first two principal components beside " + what
	}
	if set.Labels != nil {
		what += ", coloured by label"
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%w: nothing written", errInterrupted)
	}
	return pic.write(e, picture, *quiet, what)
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
	case modelfile.KindDBN:
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
			check: func(set *dataset.Set) error {
				if set.X.Cols != d.Visible() {
					return fmt.Errorf("%s has %d visible units but %s has %d values per sample", path, d.Visible(), set.Source, set.X.Cols)
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
			},
			encode: func(x *mat32.Dense) (*mat32.Dense, error) { return d.Transform(x, top) },
		}, nil
	case modelfile.KindRBM:
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
	return nil, modelfile.WrongKind(path, kind, "a model with a 2-value code (an autoencoder, DBN or RBM)")
}
