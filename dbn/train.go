package dbn

import (
	"context"
	"fmt"

	"github.com/harmonium-ml/harmonium/mat32"
	"github.com/harmonium-ml/harmonium/rbm"
)

// DefaultEpochs is the number of epochs each Bernoulli layer trains for by
// default (Hinton & Salakhutdinov's recipe).
const DefaultEpochs = 50

// LayerConfig is the shape and training recipe of one layer.
type LayerConfig struct {
	Hidden   int        // hidden units (> 0)
	HidUnits rbm.Units  // Bernoulli, or for the top layer also Gaussian or ReLU
	Train    rbm.Config // how the layer is trained; Train.Seed also seeds its initial weights
}

// Config describes a DBN to train greedily.
type Config struct {
	Visible  int           // units of the data (level 0)
	VisUnits rbm.Units     // the first layer's visible units: Bernoulli or Gaussian
	Scaler   *rbm.Scaler   // the standardisation of the data, kept by the first layer (may be nil)
	Labels   int           // size of the label group of the top RBM (0: no labels)
	Layers   []LayerConfig // bottom to top
}

// Shape is what DefaultConfig needs to choose the recipes.
type Shape struct {
	Visible  int       // units of the data
	VisUnits rbm.Units // the first layer's visible units
	Hidden   []int     // hidden units per layer, bottom to top
	TopUnits rbm.Units // the top layer's hidden units
	Labels   int       // label group (0: none)
}

// DefaultConfig returns the recipes harmonium trains a DBN of the given
// shape with, for a training set of the given number of samples. Each
// layer takes rbm.DefaultConfigFor its unit types (CD-1, batch 100,
// learning rate 0.1, or 0.01 for Gaussian and ReLU hidden units, momentum
// 0.5 for 5 epochs then 0.9, weight decay 0.0002); Bernoulli visible
// layers train for DefaultEpochs epochs and a Gaussian first layer for
// the number rbm's recipe gives. A top RBM with a label group trains by
// PCD-1 at a learning rate of 0.01 instead: on MNIST its dreams are digits
// where CD-1's are blanks and blobs (generative test error 3.97% against
// CD-1's 3.28%). Layer i is seeded with seed + i.
func DefaultConfig(s Shape, samples int, seed uint64) Config {
	c := Config{Visible: s.Visible, VisUnits: s.VisUnits, Labels: s.Labels}
	nv := s.Visible
	for i, h := range s.Hidden {
		vis, hid := rbm.Bernoulli, rbm.Bernoulli
		if i == 0 {
			vis = s.VisUnits
		} else {
			nv = s.Hidden[i-1]
		}
		if i == len(s.Hidden)-1 {
			hid = s.TopUnits
		}
		t := rbm.DefaultConfigFor(vis, hid, nv, h, samples)
		if vis == rbm.Bernoulli {
			t.Epochs = DefaultEpochs
		}
		if s.Labels > 0 && i == len(s.Hidden)-1 {
			t.Persistent, t.LearningRate = true, 0.01
		}
		t.Seed = seed + uint64(i)
		c.Layers = append(c.Layers, LayerConfig{Hidden: h, HidUnits: hid, Train: t})
	}
	return c
}

// layerUnits returns the visible units of layer i, its visible size
// (with the label group at the top) and whether it has the label group.
func (c Config) layerShape(i int) (vis rbm.Units, nv int, labels bool) {
	vis, nv = rbm.Bernoulli, c.Visible
	if i == 0 {
		vis = c.VisUnits
	} else {
		nv = c.Layers[i-1].Hidden
	}
	if i == len(c.Layers)-1 && c.Labels > 0 {
		return vis, nv + c.Labels, true
	}
	return vis, nv, false
}

// Validate reports the first setting that is out of range, or a shape a
// DBN cannot have (see DBN.Validate).
func (c Config) Validate() error {
	if c.Visible < 1 || len(c.Layers) == 0 {
		return fmt.Errorf("%w: a DBN needs visible units and at least one layer", ErrShape)
	}
	if c.Labels < 0 || c.Labels == 1 {
		return fmt.Errorf("%w: a label group needs at least 2 classes, got %d", ErrShape, c.Labels)
	}
	if c.VisUnits != rbm.Bernoulli && c.VisUnits != rbm.Gaussian {
		return fmt.Errorf("%w: %v visible units", ErrUnsupported, c.VisUnits)
	}
	top := len(c.Layers) - 1
	for i, l := range c.Layers {
		vis, _, labels := c.layerShape(i)
		switch {
		case l.Hidden < 1:
			return fmt.Errorf("%w: layer %d has %d hidden units", ErrShape, i, l.Hidden)
		case i < top && l.HidUnits != rbm.Bernoulli:
			return fmt.Errorf("%w: layer %d has %v hidden units; only the top layer may have other than Bernoulli", ErrUnsupported, i, l.HidUnits)
		case vis == rbm.Gaussian && l.HidUnits == rbm.Gaussian:
			return fmt.Errorf("%w: Gaussian units in both layers of layer %d", ErrUnsupported, i)
		case labels && (vis != rbm.Bernoulli || l.HidUnits != rbm.Bernoulli):
			return fmt.Errorf("%w: a label group needs Bernoulli units in the top RBM", ErrUnsupported)
		}
		check := l.Train.Validate
		if labels {
			check = func() error { return checkLabelConfig(l.Train) }
		}
		if err := check(); err != nil {
			return fmt.Errorf("layer %d: %w", i, err)
		}
	}
	return nil
}

// Hooks are optional callbacks during training; an error from one stops
// training and is returned.
type Hooks struct {
	// Epoch is called after each epoch of layer (0-based).
	Epoch func(layer int, s rbm.EpochStats) error
	// Batch is called after each minibatch with the counts so far in the
	// epoch.
	Batch func(layer, epoch, done, total int)
	// Layer is called after each finished layer (0-based): the place for
	// a checkpoint.
	Layer func(layer int) error
}

// State is where greedy training is: enough, with the DBN, to resume
// exactly.
type State struct {
	Done  int       // layers finished
	Layer rbm.State // the training state of layer Done (Epoch 0 when not started)
}

// Trainer trains a DBN greedily, one layer at a time.
type Trainer struct {
	Config Config
	// DBN holds the finished layers and the one in training; it is not
	// valid as a whole (Validate) until every layer is done.
	DBN   *DBN
	State State
}

// NewTrainer checks cfg and returns a trainer with no layers done.
func NewTrainer(cfg Config) (*Trainer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Trainer{Config: cfg, DBN: &DBN{Labels: cfg.Labels}}, nil
}

// Resume returns a trainer that continues from a checkpoint: d holds the
// finished layers and possibly the one in training, st where training is.
// The layers must match cfg (sizes and unit types) layer by layer.
func Resume(cfg Config, d *DBN, st State) (*Trainer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d.Labels != cfg.Labels {
		return nil, fmt.Errorf("%w: the checkpoint has %d labels, this run %d", ErrShape, d.Labels, cfg.Labels)
	}
	if n := len(d.Layers); n > len(cfg.Layers) || st.Done > n || st.Done < n-1 || st.Done < 0 {
		return nil, fmt.Errorf("%w: the checkpoint has %d layers (%d done), this run %d", ErrShape, n, st.Done, len(cfg.Layers))
	}
	for i, m := range d.Layers {
		vis, nv, _ := cfg.layerShape(i)
		l := cfg.Layers[i]
		if m.Visible() != nv || m.Hidden() != l.Hidden {
			return nil, fmt.Errorf("%w: layer %d of the checkpoint is %dx%d, this run asks for %dx%d", ErrShape, i, m.Visible(), m.Hidden(), nv, l.Hidden)
		}
		if m.VisUnits != vis || m.HidUnits != l.HidUnits {
			return nil, fmt.Errorf("%w: layer %d of the checkpoint has %v visible and %v hidden units, this run asks for %v and %v", ErrShape, i, m.VisUnits, m.HidUnits, vis, l.HidUnits)
		}
	}
	return &Trainer{Config: cfg, DBN: d, State: st}, nil
}

// Train trains a DBN with cfg on data (rows of level 0, standardised
// already when cfg.Scaler is set); labels (one per row, in [0,
// cfg.Labels)) are needed when cfg.Labels > 0.
func Train(ctx context.Context, data *mat32.Dense, labels []int, cfg Config, hooks Hooks) (*DBN, error) {
	t, err := NewTrainer(cfg)
	if err != nil {
		return nil, err
	}
	return t.Fit(ctx, data, labels, hooks)
}

// Fit trains the layers not yet done, bottom to top, and returns the DBN.
// Layer i is trained on the hidden means of layer i-1 given its input
// (Transform), the top one with the one-hot labels appended when there
// is a label group. It stops between minibatches when ctx is cancelled,
// returning ctx's error; the trainer then holds what was done (DBN and
// State), which a checkpoint can keep.
func (t *Trainer) Fit(ctx context.Context, data *mat32.Dense, labels []int, hooks Hooks) (*DBN, error) {
	cfg := t.Config
	if data.Cols != cfg.Visible {
		return nil, fmt.Errorf("%w: data has %d columns, the DBN %d visible units", ErrShape, data.Cols, cfg.Visible)
	}
	if cfg.Labels > 0 && labels == nil {
		return nil, fmt.Errorf("%w: a DBN with %d labels needs a label per sample", ErrLabel, cfg.Labels)
	}
	x := data
	for i := range cfg.Layers {
		in, err := t.layerInput(x, labels, i)
		if err != nil {
			return nil, err
		}
		if i >= t.State.Done {
			if err := t.fitLayer(ctx, in, i, hooks); err != nil {
				return nil, err
			}
		}
		if i < len(cfg.Layers)-1 {
			x = t.DBN.Layers[i].Transform(x)
		}
	}
	if err := t.DBN.Validate(); err != nil {
		return nil, err
	}
	return t.DBN, nil
}

// layerInput returns the training data of layer i given x, the means of
// level i: x itself, or x with one-hot labels at the top.
func (t *Trainer) layerInput(x *mat32.Dense, labels []int, i int) (*mat32.Dense, error) {
	if _, _, lab := t.Config.layerShape(i); lab {
		return joinLabels(x, labels, t.Config.Labels)
	}
	return x, nil
}

// fitLayer trains layer i on in, creating it when it does not exist yet,
// from where State says.
func (t *Trainer) fitLayer(ctx context.Context, in *mat32.Dense, i int, hooks Hooks) error {
	cfg, l := t.Config, t.Config.Layers[i]
	vis, nv, labels := cfg.layerShape(i)
	if len(t.DBN.Layers) == i {
		m := rbm.NewInitUnits(nv, l.Hidden, vis, l.HidUnits, l.Train.LearnSigma, in, l.Train.Seed)
		if i == 0 {
			m.Scaler = cfg.Scaler
		}
		t.DBN.Layers = append(t.DBN.Layers, m)
		t.State.Layer = rbm.State{}
	}
	m := t.DBN.Layers[i]
	rh := rbm.Hooks{Epoch: func(s rbm.EpochStats) error {
		if hooks.Epoch != nil {
			return hooks.Epoch(i, s)
		}
		return nil
	}}
	if hooks.Batch != nil {
		rh.Batch = func(epoch, done, total int) { hooks.Batch(i, epoch, done, total) }
	}
	var err error
	if labels {
		err = fitLabels(ctx, m, cfg.Labels, in, l.Train, &t.State.Layer, rh)
	} else {
		err = t.fitRBM(ctx, m, in, l.Train, rh)
	}
	if err != nil {
		return fmt.Errorf("layer %d: %w", i, err)
	}
	t.State = State{Done: i + 1}
	if hooks.Layer != nil {
		return hooks.Layer(i)
	}
	return nil
}

// fitRBM trains a layer without labels with rbm's trainer, keeping its
// state in t.State.Layer after every epoch.
func (t *Trainer) fitRBM(ctx context.Context, m *rbm.RBM, in *mat32.Dense, c rbm.Config, h rbm.Hooks) error {
	tr, err := rbm.NewTrainer(m, c)
	if err != nil {
		return err
	}
	if t.State.Layer.VelW != nil {
		tr.State = t.State.Layer
	}
	t.State.Layer = tr.State
	epoch := h.Epoch
	h.Epoch = func(s rbm.EpochStats) error {
		t.State.Layer = tr.State
		return epoch(s)
	}
	_, err = tr.Fit(ctx, in, h)
	t.State.Layer = tr.State
	return err
}
