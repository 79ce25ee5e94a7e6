package cf

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/harmonium-ml/harmonium/internal/memguard"
	"github.com/harmonium-ml/harmonium/mat32"
	"github.com/harmonium-ml/harmonium/rbm"
)

// Implicit is a model of which items a user chooses to rate (implicit
// feedback): a Bernoulli RBM whose visible units are the items, one each,
// trained on each user's binary "rated in training" vector. Its item
// order is the model's item order (Model.Items in a user-based model,
// Model.Users in an item-based one); rows are item-major.
type Implicit struct {
	Hidden  int
	W       []float32 // items x Hidden
	VisBias []float32 // items
	HidBias []float32 // Hidden
}

// ImplicitConfig holds the settings of the implicit-feedback RBM that Train
// fits beside the rating model. Hidden 0 trains none.
type ImplicitConfig struct {
	Hidden       int
	Epochs       int
	BatchSize    int
	LearningRate float64
	WeightDecay  float64
	// MaxCells is the largest users x items matrix trained on (the RBM
	// reads a dense matrix of the indicators); above it Train fits no
	// implicit model and says so in Model.ImplicitNote. 0: no limit.
	MaxCells int64
}

// DefaultImplicitConfig returns the implicit-feedback settings of
// DefaultConfig.
func DefaultImplicitConfig() ImplicitConfig {
	return ImplicitConfig{Hidden: 100, Epochs: 30, BatchSize: 20, LearningRate: 0.01, WeightDecay: 0.001, MaxCells: 1 << 28}
}

// Validate reports the first setting out of range.
func (c ImplicitConfig) Validate() error {
	switch {
	case c.Hidden < 0:
		return fmt.Errorf("implicit hidden units must not be negative, got %d", c.Hidden)
	case c.Hidden == 0:
		return nil
	case c.Epochs <= 0:
		return fmt.Errorf("implicit epochs must be positive, got %d", c.Epochs)
	case c.BatchSize <= 0:
		return fmt.Errorf("implicit batch size must be positive, got %d", c.BatchSize)
	case !(c.LearningRate > 0) || math.IsInf(c.LearningRate, 0):
		return fmt.Errorf("implicit learning rate must be positive, got %g", c.LearningRate)
	case !(c.WeightDecay >= 0) || math.IsInf(c.WeightDecay, 1):
		return fmt.Errorf("implicit weight decay must be finite and not negative, got %g", c.WeightDecay)
	case c.MaxCells < 0:
		return fmt.Errorf("implicit cell limit must not be negative, got %d", c.MaxCells)
	}
	return nil
}

// Validate checks that the parameters have consistent sizes for items
// items and are finite.
func (im *Implicit) Validate(items int) error {
	switch {
	case im.Hidden <= 0:
		return fmt.Errorf("implicit model: %d hidden units", im.Hidden)
	case len(im.W) != items*im.Hidden || len(im.VisBias) != items || len(im.HidBias) != im.Hidden:
		return fmt.Errorf("implicit model: %d weights, %d visible and %d hidden biases for %d items x %d hidden units",
			len(im.W), len(im.VisBias), len(im.HidBias), items, im.Hidden)
	}
	for _, p := range [][]float32{im.W, im.VisBias, im.HidBias} {
		for _, x := range p {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return errors.New("implicit model: a parameter is not finite")
			}
		}
	}
	return nil
}

// userItems returns, for each real user (visible unit of an item-based
// model, case of a user-based one), the indices of the real items the
// user rated in training, built on first use.
func (m *Model) userItems() [][]int32 {
	m.byUserOnce.Do(func() {
		if !m.ItemBased {
			m.byUser = m.UserItems
			return
		}
		n := make([]int, len(m.Items))
		for _, vs := range m.UserItems {
			for _, v := range vs {
				n[v]++
			}
		}
		m.byUser = make([][]int32, len(m.Items))
		for v := range m.byUser {
			m.byUser[v] = make([]int32, 0, n[v])
		}
		for c, vs := range m.UserItems {
			for _, v := range vs {
				m.byUser[v] = append(m.byUser[v], int32(c))
			}
		}
	})
	return m.byUser
}

// realUsers is the number of real users: visible units of an item-based
// model, cases of a user-based one.
func (m *Model) realUsers() int {
	if m.ItemBased {
		return len(m.Items)
	}
	return len(m.Users)
}

// checkImplicitMemory checks that the machine has the memory for the
// implicit-feedback RBM that Train fits after the rating model: the dense
// users x items indicators and the RBM's training state (none when cfg
// trains no implicit model).
func (m *Model) checkImplicitMemory(cfg ImplicitConfig) error {
	U, I := m.realUsers(), m.numItems()
	if cfg.Hidden == 0 || cfg.MaxCells > 0 && int64(U)*int64(I) > cfg.MaxCells {
		return nil
	}
	rc := rbm.Config{BatchSize: max(1, min(cfg.BatchSize, U))}
	need := 4*float64(U)*float64(I) + rc.MemoryBytes(I, cfg.Hidden)
	return memguard.Check(fmt.Sprintf("training the implicit-feedback RBM of %d users x %d items with %d hidden units", U, I, cfg.Hidden), need)
}

// trainImplicit fits m.Implicit to the training indicators.
func (m *Model) trainImplicit(ctx context.Context, cfg ImplicitConfig, seed uint64) error {
	if cfg.Hidden == 0 {
		return nil
	}
	U, I := m.realUsers(), m.numItems()
	if cfg.MaxCells > 0 && int64(U)*int64(I) > cfg.MaxCells {
		m.ImplicitNote = fmt.Sprintf("no implicit-feedback model: %d users x %d items is more than its limit of %d cells; ranking by predicted rating", U, I, cfg.MaxCells)
		return nil
	}
	data := mat32.New(U, I)
	for u, items := range m.userItems() {
		row := data.Row(u)
		for _, it := range items {
			row[it] = 1
		}
	}
	r := rbm.NewInit(I, cfg.Hidden, data, seed^0x1a1f)
	// CD-1 with momentum 0.5 for 5 epochs then 0.9, every setting given
	// here rather than taken from rbm.DefaultConfig.
	rc := rbm.Config{Epochs: cfg.Epochs, BatchSize: cfg.BatchSize, LearningRate: cfg.LearningRate, Steps: 1,
		Momentum: 0.9, InitialMomentum: 0.5, MomentumWarmup: 5, WeightDecay: cfg.WeightDecay, Seed: seed ^ 0x1a1f}
	if _, err := r.Fit(ctx, data, rc, rbm.Hooks{}); err != nil {
		return fmt.Errorf("implicit-feedback RBM: %w", err)
	}
	m.Implicit = &Implicit{Hidden: cfg.Hidden, W: r.W.Data, VisBias: r.VisBias, HidBias: r.HidBias}
	return nil
}

// chosen sets p[i] to the implicit model's probability that a user who
// rated the items rated (indices into the model's items) rates item i:
// p(v_i = 1 | h) with h = p(h | the user's indicators), mean field.
func (im *Implicit) chosen(rated []int32, p []float64) {
	F := im.Hidden
	h := make([]float32, F)
	copy(h, im.HidBias)
	for _, it := range rated {
		for f, w := range im.W[int(it)*F:][:F] {
			h[f] += w
		}
	}
	for f, x := range h {
		h[f] = sigmoid(x)
	}
	for i := range p {
		s := float64(im.VisBias[i])
		for f, w := range im.W[i*F:][:F] {
			s += float64(w * h[f])
		}
		p[i] = 1 / (1 + math.Exp(-s))
	}
}
