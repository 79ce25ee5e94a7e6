package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"

	"github.com/harmonium-ml/harmonium/dataset"
	"github.com/harmonium-ml/harmonium/mat32"
	"github.com/harmonium-ml/harmonium/modelfile"
	"github.com/harmonium-ml/harmonium/rbm"
	"github.com/harmonium-ml/harmonium/viz"
)

// pictureFlags are the flags of commands that draw images.
type pictureFlags struct {
	shape string
	zoom  int
	out   string
	model string
}

// registerModelData adds --model and the data flags (test split by
// default) to the picture flags.
func (p *pictureFlags) registerModelData(fs *flag.FlagSet, data *dataFlags) {
	data.register(fs, "test")
	p.register(fs)
	fs.StringVar(&p.model, "model", "", "model file (required)")
}

func (p *pictureFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&p.shape, "image-shape", "", "image height x width, e.g. 28x28 (default: from the MNIST files, the model, or a square)")
	fs.IntVar(&p.zoom, "zoom", 0, "magnify each pixel this many times (0: choose so that images are about 84 pixels tall)")
	fs.StringVar(&p.out, "out", "", "the PNG file to write (required)")
}

// check validates the flags before any work is done.
func (p *pictureFlags) check() error {
	if p.out == "" || strings.ToLower(filepath.Ext(p.out)) != ".png" {
		return usageError{fmt.Errorf("--out must name a .png file, got %q", p.out)}
	}
	if p.zoom < 0 {
		return usageError{fmt.Errorf("--zoom must not be negative, got %d", p.zoom)}
	}
	return nil
}

// checkWithModel validates the flags, --model among them, before any work
// is done.
func (p *pictureFlags) checkWithModel() error {
	if err := p.check(); err != nil {
		return err
	}
	if p.model == "" {
		return usageError{errors.New("--model is required")}
	}
	return nil
}

// write saves img to --out and, unless quiet, says so and what it shows.
func (p *pictureFlags) write(e *env, img image.Image, quiet bool, what string) error {
	if err := viz.WritePNG(p.out, img); err != nil {
		return err
	}
	if !quiet {
		fmt.Fprintf(e.stderr, "wrote %s (%dx%d pixels): %s\n", p.out, img.Bounds().Dx(), img.Bounds().Dy(), what)
	}
	return nil
}

// resolve returns the image shape and zoom for rows of n values: --image-shape,
// else the data's image size, else the model's, else a square.
func (p *pictureFlags) resolve(n int, set *dataset.Set, meta map[string]string) (viz.Shape, int, error) {
	var s viz.Shape
	var err error
	switch {
	case p.shape != "":
		if s, err = viz.ParseShape(p.shape); err != nil {
			return s, 0, usageError{err}
		}
	case set != nil && set.Height > 0:
		s = viz.Shape{H: set.Height, W: set.Width}
	case meta["image_shape"] != "":
		if s, err = viz.ParseShape(meta["image_shape"]); err == nil {
			s, err = viz.ShapeFor(n, s)
		}
		if err != nil {
			return s, 0, fmt.Errorf("the model's image_shape: %w (--image-shape HxW overrides it)", err)
		}
	}
	if s, err = viz.ShapeFor(n, s); err != nil {
		return s, 0, err
	}
	zoom := p.zoom
	if zoom == 0 {
		zoom = viz.Zoom(s)
	}
	return s, zoom, nil
}

// pick returns n row indices of a set of size rows: the first n, or a
// seeded random choice.
func pick(n, rows int, random bool, seed uint64) []int {
	if random {
		return rand.New(rand.NewPCG(seed, 7)).Perm(rows)[:n]
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}

// gather copies the rows idx of x into a new matrix.
func gather(x *mat32.Dense, idx []int) *mat32.Dense {
	out := mat32.New(len(idx), x.Cols)
	for i, r := range idx {
		copy(out.Row(i), x.Row(r))
	}
	return out
}

func runReconstruct(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "reconstruct", "draw samples beside their reconstructions p(v|h), h sampled from p(h|v), as one PNG.",
		"harmonium reconstruct --model mnist.safetensors --data mnist --n 64 --out reconstructions.png")
	var data dataFlags
	var pic pictureFlags
	pic.registerModelData(fs, &data)
	model := &pic.model
	n := fs.Int("n", 64, "number of samples to show")
	random := fs.Bool("random", false, "show a random choice of samples (by --seed) instead of the first n")
	seed := fs.Uint64("seed", 1, "random seed for the choice of samples and the hidden states")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := positive(map[string]int{"n": *n}); err != nil {
		return err
	}
	if err := pic.check(); err != nil {
		return err
	}
	if err := checkOutputs(pic.out); err != nil {
		return err
	}
	switch kindOfArg(args) {
	case modelfile.KindAE:
		return aeReconstruct(ctx, e, &pic, &data, *n, *random, *seed)
	case modelfile.KindDBN:
		return dbnReconstruct(ctx, e, &pic, &data, *n, *random, *seed)
	}
	m, meta, set, err := loadModelAndData(ctx, e, *model, &data)
	if err != nil {
		return err
	}
	if *n > set.X.Rows {
		return usageError{fmt.Errorf("--n %d is more than the %d samples in %s", *n, set.X.Rows, set.Source)}
	}
	shape, zoom, err := pic.resolve(m.Visible(), set, meta)
	if err != nil {
		return err
	}
	if err := viz.CheckGrid(*n, shape, viz.GridCols(*n), zoom, 2); err != nil {
		return err
	}
	orig := gather(set.X, pick(*n, set.X.Rows, *random, *seed))
	rec := m.Reconstruct(orig, mat32.NewRNG(*seed, 1))
	g := greys(m, orig, rec)
	img := viz.Reconstructions(g[0], g[1], shape, zoom)
	return pic.write(e, img, false, fmt.Sprintf("%d samples and their reconstructions", *n))
}

func runFilters(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "filters", "draw each hidden unit's incoming weights as an image tile, each scaled to its own range: an RBM's, a DBN's first layer's, or an autoencoder's first dense layer's.",
		"harmonium filters --model mnist.safetensors --n 100 --out filters.png")
	var pic pictureFlags
	pic.register(fs)
	model := fs.String("model", "", "model file (required)")
	n := fs.Int("n", 100, "number of hidden units to show (the first n)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := positive(map[string]int{"n": *n}); err != nil {
		return err
	}
	if err := pic.check(); err != nil {
		return err
	}
	if *model == "" {
		return usageError{fmt.Errorf("--model is required")}
	}
	if err := checkOutputs(pic.out); err != nil {
		return err
	}
	w, meta, err := firstWeights(*model)
	if err != nil {
		return err
	}
	if *n > w.Cols {
		return usageError{fmt.Errorf("--n %d is more than the %d hidden units of %s (its first layer)", *n, w.Cols, *model)}
	}
	shape, zoom, err := pic.resolve(w.Rows, nil, meta)
	if err != nil {
		return err
	}
	if err := viz.CheckGrid(*n, shape, viz.GridCols(*n), zoom, 1); err != nil {
		return err
	}
	img := viz.Filters(w, *n, shape, zoom)
	return pic.write(e, img, false, fmt.Sprintf("filters of %d hidden units", *n))
}

func runSample(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "sample", "run Gibbs chains from the model and draw where they end (or, with --every, how they evolve, one row per chain).",
		"harmonium sample --model mnist.safetensors --n 16 --steps 1000 --every 100 --out chains.png")
	var f sampleFlags
	f.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := f.check(); err != nil {
		return err
	}
	if isAE(args) {
		return aeSample(e, &f.pic, f.n, f.seed, f.quiet)
	}
	m, meta, _, err := modelfile.LoadRBM(f.pic.model)
	if err != nil {
		return err
	}
	set, err := f.startData(ctx, e)
	if err != nil {
		return err
	}
	shape, zoom, err := f.layout(m, set, meta)
	if err != nil {
		return err
	}
	rng := mat32.NewRNG(f.seed, 2)
	var start *mat32.Dense
	if set != nil {
		start = gather(set.X, pick(f.n, set.X.Rows, true, f.seed))
	}
	frames, at, err := f.chains(ctx, e, m, m.InitChains(f.n, start, rng), rng)
	if err != nil {
		return err
	}
	img := viz.Samples(greys(m, frames...), at, shape, zoom)
	return f.pic.write(e, img, f.quiet, fmt.Sprintf("%d chains, %d Gibbs steps", f.n, f.steps))
}

// sampleFlags are the settings of sample.
type sampleFlags struct {
	data            dataFlags
	pic             pictureFlags
	n, steps, every int
	init            string
	seed            uint64
	quiet           bool
}

// register defines the flags of sample.
func (f *sampleFlags) register(fs *flag.FlagSet) {
	f.pic.registerModelData(fs, &f.data)
	fs.IntVar(&f.n, "n", 64, "number of chains")
	fs.IntVar(&f.steps, "steps", 1000, "Gibbs steps per chain")
	fs.IntVar(&f.every, "every", 0, "also draw each chain every this many steps (0: only the end)")
	fs.StringVar(&f.init, "init", "random", "where chains start: random (each pixel on with probability 1/2; Gaussian units drawn around the training data's mean) or data (random samples of --data)")
	fs.Uint64Var(&f.seed, "seed", 1, "random seed")
	fs.BoolVar(&f.quiet, "quiet", false, "print nothing but errors")
}

// check validates the flags before any work is done.
func (f *sampleFlags) check() error {
	if err := positive(map[string]int{"n": f.n, "steps": f.steps}); err != nil {
		return err
	}
	if f.every < 0 {
		return usageError{fmt.Errorf("--every must not be negative, got %d", f.every)}
	}
	if f.init != "random" && f.init != "data" {
		return usageError{fmt.Errorf("--init must be random or data, got %q", f.init)}
	}
	if f.every > 0 && f.steps/f.every > 100 {
		return usageError{fmt.Errorf("--steps %d / --every %d gives more than 100 snapshots per chain", f.steps, f.every)}
	}
	if err := f.pic.checkWithModel(); err != nil {
		return err
	}
	return checkOutputs(f.pic.out)
}

// startData reads the data the chains start at with --init data (nil
// otherwise), checking that it holds --n samples.
func (f *sampleFlags) startData(ctx context.Context, e *env) (*dataset.Set, error) {
	if f.init != "data" {
		return nil, nil
	}
	_, _, set, err := loadModelAndData(ctx, e, f.pic.model, &f.data)
	if err != nil {
		return nil, err
	}
	if f.n > set.X.Rows {
		return nil, usageError{fmt.Errorf("--n %d is more than the %d samples in %s", f.n, set.X.Rows, set.Source)}
	}
	return set, nil
}

// layout returns the image shape and zoom of the picture, checking that
// the picture of every chain and snapshot is not too large.
func (f *sampleFlags) layout(m *rbm.RBM, set *dataset.Set, meta map[string]string) (viz.Shape, int, error) {
	shape, zoom, err := f.pic.resolve(m.Visible(), set, meta)
	if err != nil {
		return shape, zoom, err
	}
	// The picture bounds the chains' memory too: n x frames x visible values.
	if f.n > viz.MaxPixels {
		return shape, zoom, fmt.Errorf("%w: %d chains cannot be drawn", viz.ErrTooLarge, f.n)
	}
	if f.every > 0 {
		frames := (f.steps+f.every-1)/f.every + 1
		err = viz.CheckGrid(f.n*frames, shape, frames, zoom, 1)
	} else {
		err = viz.CheckGrid(f.n, shape, viz.GridCols(f.n), zoom, 1)
	}
	return shape, zoom, err
}

// chains runs the Gibbs chains v for --steps, showing progress, and
// returns the snapshots to draw and the steps they were taken at: the
// start and every --every steps (and the end), or only the end.
func (f *sampleFlags) chains(ctx context.Context, e *env, m *rbm.RBM, v *mat32.Dense, rng *mat32.RNG) ([]*mat32.Dense, []int, error) {
	var frames []*mat32.Dense
	var at []int
	if f.every > 0 {
		frames, at = append(frames, v.Clone()), append(at, 0)
	}
	b := newBar(e, "sampling", f.quiet)
	for done := 0; done < f.steps; {
		if err := ctx.Err(); err != nil {
			b.done()
			return nil, nil, fmt.Errorf("%w: nothing written", errInterrupted)
		}
		next := f.steps
		if f.every > 0 {
			next = min(next, (done/f.every+1)*f.every)
		}
		k := min(next-done, 50) // at most 50 steps between progress updates
		probs := m.Gibbs(v, k, rng)
		done += k
		b.update(done, f.steps, "")
		if done == next && (f.every > 0 || done == f.steps) {
			frames, at = append(frames, probs), append(at, done)
		}
	}
	b.done()
	return frames, at, nil
}

// greys returns the matrices as grey levels in [0, 1] for drawing. Bernoulli
// values already are; Gaussian values are mapped back through the model's
// standardisation and then linearly from their common [min, max] to [0, 1],
// so that every picture of one command shares a scale.
func greys(m *rbm.RBM, xs ...*mat32.Dense) []*mat32.Dense {
	if m.VisUnits == rbm.Bernoulli {
		return xs
	}
	out := make([]*mat32.Dense, len(xs))
	lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
	for k, x := range xs {
		out[k] = x.Clone()
		if m.Scaler != nil {
			m.Scaler.Invert(out[k])
		}
		for _, v := range out[k].Data {
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	span := hi - lo
	if !(span > 0) {
		span = 1
	}
	for _, x := range out {
		for i, v := range x.Data {
			x.Data[i] = (v - lo) / span
		}
	}
	return out
}
