package cf

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sort"
	"sync"
	"time"
)

// Model is a collaborative-filtering RBM: for an item m rated at level k,
// visible unit (m, k) connects to hidden unit f with weight W[(m*K+k)*F+f].
//
// In an item-based model (ItemBased) the roles are swapped: each item is a
// training case and the users who rated it are its visible units; Users
// then holds item ids and Items user ids. Evaluate, Predict and Recommend
// take ordinary (user, item) ratings either way.
type Model struct {
	ItemBased bool
	// Binary models predict like (1) or dislike (0): ratings at or above
	// LikeThreshold are likes. Their predictions are P(like).
	Binary        bool
	LikeThreshold float64

	Levels  []float64 // the K rating values, increasing
	Items   []string  // item ids (M)
	Users   []string  // user ids seen in training
	Hidden  int       // F
	W       []float32 // M*K*F
	VisBias []float32 // M*K
	HidBias []float32 // F

	// Baseline for users or items the RBM cannot predict for: Mean +
	// UserOffset + ItemOffset (each 0 when unknown).
	Mean       float64
	UserOffset []float32
	ItemOffset []float32

	// Each user's training ratings, as item and level indices.
	UserItems  [][]int32
	UserLevels [][]uint8

	userIndex, itemIndex map[string]int
}

// Config holds the training settings.
type Config struct {
	Hidden       int
	Epochs       int
	BatchSize    int     // users per minibatch
	LearningRate float64 // for weights and biases
	Momentum     float64
	WeightDecay  float64
	// Steps is the CD-T schedule: T for each of len(Steps) equal parts of
	// the epochs, e.g. {1, 3, 5, 9}.
	Steps []int
	Seed  uint64
	// ItemBased trains the item-based RBM: items are the cases.
	ItemBased bool
	// Binary trains the like/dislike RBM of the seeds: a rating of at least
	// LikeThreshold (3 when 0) is a like, lower a dislike.
	Binary        bool
	LikeThreshold float64
}

// DefaultConfig returns the settings used unless told otherwise.
func DefaultConfig() Config {
	return Config{Hidden: 100, Epochs: 35, BatchSize: 10, LearningRate: 0.02, Momentum: 0.5, WeightDecay: 0.005, Steps: []int{1, 3, 5, 9}, Seed: 1}
}

// Validate reports the first setting out of range.
func (c Config) Validate() error {
	switch {
	case c.Hidden <= 0:
		return fmt.Errorf("hidden units must be positive, got %d", c.Hidden)
	case c.Epochs <= 0:
		return fmt.Errorf("epochs must be positive, got %d", c.Epochs)
	case c.BatchSize <= 0:
		return fmt.Errorf("batch size must be positive, got %d", c.BatchSize)
	case !(c.LearningRate > 0):
		return fmt.Errorf("learning rate must be positive, got %g", c.LearningRate)
	case c.Momentum < 0 || c.Momentum >= 1:
		return fmt.Errorf("momentum must be in [0, 1), got %g", c.Momentum)
	case c.WeightDecay < 0:
		return fmt.Errorf("weight decay must not be negative, got %g", c.WeightDecay)
	case len(c.Steps) == 0:
		return errors.New("the CD schedule is empty")
	}
	for _, t := range c.Steps {
		if t <= 0 {
			return fmt.Errorf("CD steps must be positive, got %d", t)
		}
	}
	return nil
}

// steps returns T for an epoch (0-based).
func (c Config) steps(epoch int) int {
	return c.Steps[min(len(c.Steps)-1, epoch*len(c.Steps)/c.Epochs)]
}

// K is the number of rating levels.
func (m *Model) K() int { return len(m.Levels) }

func (m *Model) index() {
	m.userIndex = make(map[string]int, len(m.Users))
	for i, u := range m.Users {
		m.userIndex[u] = i
	}
	m.itemIndex = make(map[string]int, len(m.Items))
	for i, it := range m.Items {
		m.itemIndex[it] = i
	}
}

// level returns the index of a rating value among the levels, or -1.
func (m *Model) level(v float64) int {
	i := sort.SearchFloat64s(m.Levels, v)
	if i < len(m.Levels) && m.Levels[i] == v {
		return i
	}
	return -1
}

// newModel indexes the training ratings and fits the baseline.
func newModel(train *Ratings, hidden int) *Model {
	m := &Model{Levels: train.Levels(), Hidden: hidden}
	users, items := map[string]int{}, map[string]int{}
	for _, r := range train.List {
		if _, ok := users[r.User]; !ok {
			users[r.User] = len(m.Users)
			m.Users = append(m.Users, r.User)
		}
		if _, ok := items[r.Item]; !ok {
			items[r.Item] = len(m.Items)
			m.Items = append(m.Items, r.Item)
		}
	}
	m.index()
	m.UserItems = make([][]int32, len(m.Users))
	m.UserLevels = make([][]uint8, len(m.Users))
	for _, r := range train.List {
		u := m.userIndex[r.User]
		m.UserItems[u] = append(m.UserItems[u], int32(m.itemIndex[r.Item]))
		m.UserLevels[u] = append(m.UserLevels[u], uint8(m.level(r.Value)))
	}
	m.fitBaseline(train)
	return m
}

// fitBaseline sets Mean and the regularised user and item offsets.
func (m *Model) fitBaseline(train *Ratings) {
	sum := 0.0
	for _, r := range train.List {
		sum += r.Value
	}
	m.Mean = sum / float64(len(train.List))
	isum, icnt := make([]float64, len(m.Items)), make([]float64, len(m.Items))
	for _, r := range train.List {
		i := m.itemIndex[r.Item]
		isum[i] += r.Value - m.Mean
		icnt[i]++
	}
	m.ItemOffset = make([]float32, len(m.Items))
	for i := range isum {
		m.ItemOffset[i] = float32(isum[i] / (icnt[i] + 25))
	}
	usum, ucnt := make([]float64, len(m.Users)), make([]float64, len(m.Users))
	for _, r := range train.List {
		u := m.userIndex[r.User]
		usum[u] += r.Value - m.Mean - float64(m.ItemOffset[m.itemIndex[r.Item]])
		ucnt[u]++
	}
	m.UserOffset = make([]float32, len(m.Users))
	for u := range usum {
		m.UserOffset[u] = float32(usum[u] / (ucnt[u] + 10))
	}
}

// EpochStats reports one epoch of training.
type EpochStats struct {
	Epoch     int
	Steps     int     // T of CD-T
	TrainRMSE float64 // of the predictions for the training ratings
	Duration  time.Duration
}

// Train fits a model to the training ratings. epoch, when not nil, is
// called after every epoch; an error from it stops training.
func Train(ctx context.Context, train *Ratings, cfg Config, epoch func(*Model, EpochStats) error) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	threshold := cfg.LikeThreshold
	if cfg.Binary {
		if threshold == 0 {
			threshold = 3
		}
		train = train.Likes(threshold)
	}
	if cfg.ItemBased {
		train = train.Transposed()
	}
	m := newModel(train, cfg.Hidden)
	m.ItemBased = cfg.ItemBased
	m.Binary, m.LikeThreshold = cfg.Binary, threshold
	if len(m.Levels) < 2 {
		return nil, fmt.Errorf("the training ratings have a single level (%v); nothing to learn", m.Levels)
	}
	M, K, F := len(m.Items), m.K(), cfg.Hidden
	if K > 255 {
		return nil, fmt.Errorf("%d rating levels; at most 255 are supported", K)
	}
	r := rand.New(rand.NewPCG(cfg.Seed, 0xCF))
	m.W = make([]float32, M*K*F)
	for i := range m.W {
		m.W[i] = float32(0.01 * r.NormFloat64())
	}
	// Visible biases: log of each item's level frequencies (smoothed).
	m.VisBias = make([]float32, M*K)
	counts := make([]float64, M*K)
	for u := range m.UserItems {
		for i, it := range m.UserItems[u] {
			counts[int(it)*K+int(m.UserLevels[u][i])]++
		}
	}
	for it := 0; it < M; it++ {
		tot := 0.0
		for k := 0; k < K; k++ {
			tot += counts[it*K+k] + 1
		}
		for k := 0; k < K; k++ {
			m.VisBias[it*K+k] = float32(math.Log((counts[it*K+k] + 1) / tot))
		}
	}
	m.HidBias = make([]float32, F)

	workers := runtime.GOMAXPROCS(0)
	grads := make([]*grad, workers)
	for w := range grads {
		grads[w] = newGrad(M, K, F)
	}
	velW, velV, velH := make([]float32, M*K*F), make([]float32, M*K), make([]float32, F)
	order := make([]int, len(m.Users))
	for e := 0; e < cfg.Epochs; e++ {
		start := time.Now()
		T := cfg.steps(e)
		for i := range order {
			order[i] = i
		}
		rand.New(rand.NewPCG(cfg.Seed, uint64(e))).Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for b := 0; b < len(order); b += cfg.BatchSize {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			batch := order[b:min(b+cfg.BatchSize, len(order))]
			var wg sync.WaitGroup
			for w := 0; w < workers; w++ {
				wg.Go(func() {
					g := grads[w]
					for i := w; i < len(batch); i += workers {
						u := batch[i]
						m.cdUser(g, u, T, rand.New(rand.NewPCG(cfg.Seed^uint64(e+1)<<32, uint64(u))))
					}
				})
			}
			wg.Wait()
			m.apply(grads, velW, velV, velH, cfg, len(batch))
		}
		st := EpochStats{Epoch: e + 1, Steps: T, TrainRMSE: m.trainRMSE(), Duration: time.Since(start)}
		if math.IsNaN(st.TrainRMSE) {
			return nil, fmt.Errorf("epoch %d: training diverged (NaN); lower the learning rate", e+1)
		}
		if epoch != nil {
			if err := epoch(m, st); err != nil {
				return m, err
			}
		}
	}
	return m, nil
}

// grad accumulates the gradient of a minibatch on one worker.
type grad struct {
	w, v, h []float32 // M*K*F, M*K, F
	items   []int32   // items whose rows this worker touched in the minibatch
	seen    []bool    // scratch of apply (on the first worker's grad)
	x, hp   []float32 // scratch: hidden inputs and probabilities
	h0      []float32
	probs   []float32 // n*K negative visible probabilities
	logits  []float32
}

func newGrad(m, k, f int) *grad {
	return &grad{w: make([]float32, m*k*f), v: make([]float32, m*k), h: make([]float32, f), seen: make([]bool, m),
		x: make([]float32, f), hp: make([]float32, f), h0: make([]float32, f)}
}

func sigmoid(x float32) float32 { return 1 / (1 + float32(math.Exp(float64(-x)))) }

// cdUser adds the CD-T gradient of user u to g.
func (m *Model) cdUser(g *grad, u, T int, r *rand.Rand) {
	K, F := m.K(), m.Hidden
	items, levels := m.UserItems[u], m.UserLevels[u]
	n := len(items)
	if cap(g.probs) < n*K {
		g.probs = make([]float32, n*K)
		g.logits = make([]float32, K)
	}
	probs := g.probs[:n*K]
	// Positive phase.
	copy(g.x, m.HidBias)
	for i, it := range items {
		row := m.W[(int(it)*K+int(levels[i]))*F:][:F]
		for f, w := range row {
			g.x[f] += w
		}
	}
	for f, x := range g.x {
		p := sigmoid(x)
		g.h0[f] = p
		if r.Float32() < p {
			g.hp[f] = 1
		} else {
			g.hp[f] = 0
		}
	}
	for t := 1; t <= T; t++ {
		// Visible softmax for the rated items given the hidden states in hp.
		for i, it := range items {
			base := int(it) * K
			mx := float32(math.Inf(-1))
			for k := 0; k < K; k++ {
				s := m.VisBias[base+k]
				row := m.W[(base+k)*F:][:F]
				for f, h := range g.hp {
					if h != 0 {
						s += h * row[f]
					}
				}
				g.logits[k] = s
				mx = max(mx, s)
			}
			sum := float32(0)
			for k := 0; k < K; k++ {
				e := float32(math.Exp(float64(g.logits[k] - mx)))
				probs[i*K+k] = e
				sum += e
			}
			for k := 0; k < K; k++ {
				probs[i*K+k] /= sum
			}
			if t < T {
				// Sample a level for the next step.
				u := r.Float32()
				pick := K - 1
				for k := 0; k < K; k++ {
					if u < probs[i*K+k] {
						pick = k
						break
					}
					u -= probs[i*K+k]
				}
				for k := 0; k < K; k++ {
					probs[i*K+k] = 0
				}
				probs[i*K+pick] = 1
			}
		}
		// Hidden given the (sampled or mean) visible states.
		copy(g.x, m.HidBias)
		for i, it := range items {
			for k := 0; k < K; k++ {
				p := probs[i*K+k]
				if p == 0 {
					continue
				}
				row := m.W[(int(it)*K+k)*F:][:F]
				for f, w := range row {
					g.x[f] += p * w
				}
			}
		}
		for f, x := range g.x {
			p := sigmoid(x)
			if t < T {
				if r.Float32() < p {
					p = 1
				} else {
					p = 0
				}
			}
			g.hp[f] = p
		}
	}
	// Statistics: data minus reconstruction.
	g.items = append(g.items, items...)
	for f := range g.h {
		g.h[f] += g.h0[f] - g.hp[f]
	}
	for i, it := range items {
		base := int(it) * K
		pos := base + int(levels[i])
		g.v[pos]++
		row := g.w[pos*F:][:F]
		for f, h := range g.h0 {
			row[f] += h
		}
		for k := 0; k < K; k++ {
			p := probs[i*K+k]
			g.v[base+k] -= p
			if p == 0 {
				continue
			}
			row := g.w[(base+k)*F:][:F]
			for f, h := range g.hp {
				row[f] -= p * h
			}
		}
	}
}

// apply sums the workers' gradients into the parameters with momentum and
// weight decay, and clears them. Only the items rated in the minibatch are
// touched (their velocities wait while they are not), so an epoch costs in
// proportion to the ratings, not to the number of items.
func (m *Model) apply(grads []*grad, velW, velV, velH []float32, cfg Config, users int) {
	lr := float32(cfg.LearningRate / float64(users))
	mom, wd := float32(cfg.Momentum), float32(cfg.LearningRate*cfg.WeightDecay)
	K, F := m.K(), m.Hidden
	touched := grads[0].items[:0:0]
	for _, g := range grads {
		for _, it := range g.items {
			if !grads[0].seen[it] {
				grads[0].seen[it] = true
				touched = append(touched, it)
			}
		}
	}
	var wg sync.WaitGroup
	parts := len(grads)
	for p := 0; p < parts; p++ {
		wg.Go(func() {
			for _, it := range touched[len(touched)*p/parts : len(touched)*(p+1)/parts] {
				lo, hi := int(it)*K*F, (int(it)+1)*K*F
				for i := lo; i < hi; i++ {
					s := float32(0)
					for _, g := range grads {
						s += g.w[i]
						g.w[i] = 0
					}
					v := mom*velW[i] + lr*s - wd*m.W[i]
					velW[i] = v
					m.W[i] += v
				}
				biasStep(m.VisBias, velV, int(it)*K, (int(it)+1)*K, grads, func(g *grad) []float32 { return g.v }, mom, lr)
			}
		})
	}
	wg.Wait()
	biasStep(m.HidBias, velH, 0, len(m.HidBias), grads, func(g *grad) []float32 { return g.h }, mom, lr)
	for _, it := range touched {
		grads[0].seen[it] = false
	}
	for _, g := range grads {
		g.items = g.items[:0]
	}
}

// biasStep sums the workers' gradients of bias[lo:hi] (the slice pick
// returns), clears them, and takes a momentum step.
func biasStep(bias, vel []float32, lo, hi int, grads []*grad, pick func(*grad) []float32, mom, lr float32) {
	for i := lo; i < hi; i++ {
		s := float32(0)
		for _, g := range grads {
			gv := pick(g)
			s += gv[i]
			gv[i] = 0
		}
		vel[i] = mom*vel[i] + lr*s
		bias[i] += vel[i]
	}
}
