// Package dbn implements deep belief networks (Hinton, Osindero & Teh 2006):
// stacks of restricted Boltzmann machines whose layer sizes chain, trained
// greedily one layer at a time, each on the hidden probabilities of the
// layer below. Optionally the top RBM, the undirected associative memory,
// also sees a softmax group of label units beside the penultimate layer, so
// that the network can classify generatively (the label whose clamped
// free energy is lowest) and dream (Gibbs sampling in the top RBM with a
// label clamped, then one pass down to the data).
//
// Levels are numbered from the data: level 0 is the data (the first RBM's
// visible layer) and level k the hidden layer of Layers[k-1], so a DBN with
// L layers has levels 0..L.
package dbn

import (
	"errors"
	"fmt"

	"github.com/harmonium-ml/harmonium/mat32"
	"github.com/harmonium-ml/harmonium/rbm"
)

// Errors that callers may need to tell apart.
var (
	// ErrShape is returned when layer sizes do not chain or a level is out
	// of range.
	ErrShape = errors.New("layer sizes do not chain")
	// ErrNoLabels is returned by operations that need a label group when
	// the DBN has none.
	ErrNoLabels = errors.New("the DBN was trained without labels")
	// ErrLabel is returned for a label outside [0, Labels) or a label list
	// whose length differs from the data's.
	ErrLabel = errors.New("bad label")
	// ErrUnsupported is returned for unit types a DBN does not support
	// where they were asked for.
	ErrUnsupported = errors.New("unit types not supported here")
)

// DBN is a deep belief network: a stack of RBMs in which the hidden layer
// of each is the visible layer of the next.
//
// With Labels = C > 0 the top RBM's visible layer is the penultimate level
// followed by a softmax group of C label units: Layers[L-1].Visible() is
// Layers[L-2].Hidden() + C (or the data's width + C for a single layer),
// and the last C rows of its weights and visible biases are the label
// weights and biases.
type DBN struct {
	Layers []*rbm.RBM
	Labels int
	// Gen, after up-down fine-tuning (UpDown), holds the generative
	// weights of the layers below the top, which Down and the dreams use;
	// Layers then hold the recognition weights that Transform uses. Nil
	// while the weights are tied.
	Gen []GenLayer
}

// New returns the DBN of the given layers (not copied) after checking that
// their sizes chain (see Validate).
func New(layers []*rbm.RBM, labels int) (*DBN, error) {
	d := &DBN{Layers: layers, Labels: labels}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return d, nil
}

// Validate checks that the DBN has at least one layer, that every layer is
// a valid RBM, that sizes chain (each layer's visible units are the hidden
// units of the layer below, plus the label group at the top), and the unit
// types: only the first layer may have Gaussian visible units and only the
// top layer hidden units other than Bernoulli; a label group needs
// Bernoulli units in the top RBM.
func (d *DBN) Validate() error {
	if len(d.Layers) == 0 {
		return fmt.Errorf("%w: a DBN needs at least one layer", ErrShape)
	}
	return d.ValidatePartial(len(d.Layers))
}

// ValidatePartial is Validate for a DBN in training, which has the first
// layers of a DBN of total layers: the label group, when there is one,
// belongs to the top layer only once it exists.
func (d *DBN) ValidatePartial(total int) error {
	if d.Labels < 0 || d.Labels == 1 {
		return fmt.Errorf("%w: %d label units", ErrShape, d.Labels)
	}
	if total < 1 || len(d.Layers) > total {
		return fmt.Errorf("%w: %d layers of a DBN of %d", ErrShape, len(d.Layers), total)
	}
	if len(d.Layers) == 0 {
		return nil
	}
	top := len(d.Layers) - 1
	labels := d.Labels
	if len(d.Layers) < total {
		labels = 0
	}
	for i, m := range d.Layers {
		if m == nil || m.W == nil {
			return fmt.Errorf("%w: layer %d is missing", ErrShape, i)
		}
		if err := m.Validate(); err != nil {
			return fmt.Errorf("layer %d: %w", i, err)
		}
		if i > 0 && m.VisUnits != rbm.Bernoulli {
			return fmt.Errorf("%w: layer %d has %v visible units; only the first layer may have other than Bernoulli", ErrUnsupported, i, m.VisUnits)
		}
		if i < total-1 && m.HidUnits != rbm.Bernoulli {
			return fmt.Errorf("%w: layer %d has %v hidden units; only the top layer may have other than Bernoulli", ErrUnsupported, i, m.HidUnits)
		}
		if i > 0 && i < top && m.Visible() != d.Layers[i-1].Hidden() {
			return fmt.Errorf("%w: layer %d has %d visible units but layer %d has %d hidden units", ErrShape, i, m.Visible(), i-1, d.Layers[i-1].Hidden())
		}
	}
	if err := d.validateGen(); err != nil {
		return err
	}
	if labels == 0 {
		if top > 0 && d.Layers[top].Visible() != d.Layers[top-1].Hidden() {
			return fmt.Errorf("%w: layer %d has %d visible units but layer %d has %d hidden units", ErrShape, top, d.Layers[top].Visible(), top-1, d.Layers[top-1].Hidden())
		}
		return nil
	}
	t := d.Layers[top]
	if t.VisUnits != rbm.Bernoulli || t.HidUnits != rbm.Bernoulli {
		return fmt.Errorf("%w: a label group needs Bernoulli units in the top RBM, which has %v visible and %v hidden units", ErrUnsupported, t.VisUnits, t.HidUnits)
	}
	if t.Visible() <= d.Labels {
		return fmt.Errorf("%w: the top RBM has %d visible units, not more than its %d labels", ErrShape, t.Visible(), d.Labels)
	}
	if top > 0 && t.Visible() != d.Layers[top-1].Hidden()+d.Labels {
		return fmt.Errorf("%w: the top RBM has %d visible units but layer %d has %d hidden units and there are %d labels", ErrShape, t.Visible(), top-1, d.Layers[top-1].Hidden(), d.Labels)
	}
	return nil
}

// validateGen checks the generative layers: none, or one per layer below
// the top, each shaped as its recognition layer.
func (d *DBN) validateGen() error {
	if d.Gen == nil {
		return nil
	}
	if len(d.Gen) != len(d.Layers)-1 {
		return fmt.Errorf("%w: %d generative layers for %d layers below the top", ErrShape, len(d.Gen), len(d.Layers)-1)
	}
	for i, g := range d.Gen {
		m := d.Layers[i]
		if g.W == nil || g.W.Rows != m.Visible() || g.W.Cols != m.Hidden() || len(g.VisBias) != m.Visible() {
			return fmt.Errorf("%w: generative layer %d is not %dx%d with %d biases", ErrShape, i, m.Visible(), m.Hidden(), m.Visible())
		}
	}
	return nil
}

// Visible returns the number of units at level 0: the data's width.
func (d *DBN) Visible() int {
	if len(d.Layers) == 1 {
		return d.Layers[0].Visible() - d.Labels
	}
	return d.Layers[0].Visible()
}

// Sizes returns the number of units at each level 0..L, without the label
// group: 784, 500, 500, 2000.
func (d *DBN) Sizes() []int {
	s := []int{d.Visible()}
	for _, m := range d.Layers {
		s = append(s, m.Hidden())
	}
	return s
}

// Scaler returns the standardisation the first layer was trained with (nil
// when none): data given to the DBN's methods must already be
// standardised with it.
func (d *DBN) Scaler() *rbm.Scaler { return d.Layers[0].Scaler }

// Clone returns a deep copy of d.
func (d *DBN) Clone() *DBN {
	c := &DBN{Labels: d.Labels}
	for _, m := range d.Layers {
		c.Layers = append(c.Layers, m.Clone())
	}
	for _, g := range d.Gen {
		c.Gen = append(c.Gen, GenLayer{W: g.W.Clone(), VisBias: append([]float32(nil), g.VisBias...)})
	}
	return c
}

// layerView returns layer i as it acts on the levels below: the top RBM
// without its label rows when the DBN has labels (sharing storage; a
// read-only view), else the layer itself.
func (d *DBN) layerView(i int) *rbm.RBM {
	m := d.Layers[i]
	if d.Labels == 0 || i != len(d.Layers)-1 {
		return m
	}
	n := m.Visible() - d.Labels
	v := *m
	v.W = m.W.Slice(0, n)
	v.VisBias = m.VisBias[:n]
	if m.VisMean != nil {
		v.VisMean = m.VisMean[:n]
	}
	return &v
}

func (d *DBN) checkLevel(level int) error {
	if level < 0 || level > len(d.Layers) {
		return fmt.Errorf("%w: level %d of a DBN with levels 0..%d", ErrShape, level, len(d.Layers))
	}
	return nil
}

// Transform returns the means of the units at the given level for every
// row of v (data at level 0): each layer's hidden means given the means
// below, the up pass a DBN is trained on. The label group, when there is
// one, takes no part (its inputs are zero), so the top level's means are
// those given the penultimate level alone.
func (d *DBN) Transform(v *mat32.Dense, level int) (*mat32.Dense, error) {
	if err := d.checkLevel(level); err != nil {
		return nil, err
	}
	if v.Cols != d.Visible() {
		return nil, fmt.Errorf("%w: data has %d columns, the DBN %d visible units", ErrShape, v.Cols, d.Visible())
	}
	x := v
	for i := 0; i < level; i++ {
		x = d.layerView(i).Transform(x)
	}
	return x, nil
}

// Down returns the data-level means given states h at the given level: a
// single pass down through the directed layers, each level's means given
// the level above. With rng not nil the levels between are sampled from
// their means (as the generative model does) and only the last step
// gives means; with rng nil every step passes means.
func (d *DBN) Down(h *mat32.Dense, level int, rng *mat32.RNG) (*mat32.Dense, error) {
	if err := d.checkLevel(level); err != nil {
		return nil, err
	}
	if level > 0 && h.Cols != d.Layers[level-1].Hidden() {
		return nil, fmt.Errorf("%w: states have %d columns, level %d has %d units", ErrShape, h.Cols, level, d.Layers[level-1].Hidden())
	}
	x := h
	for i := level - 1; i >= 0; i-- {
		m := d.layerView(i)
		p := mat32.New(x.Rows, m.Visible())
		if i < len(d.Gen) {
			g := d.Gen[i]
			mat32.Gemm(false, true, 1, x, g.W, 0, p)
			mat32.SigmoidBias(p, g.VisBias)
		} else {
			m.VisibleProbs(p, x)
		}
		if rng != nil && i > 0 {
			mat32.Bernoulli(p, p, rng)
		}
		x = p
	}
	return x, nil
}
