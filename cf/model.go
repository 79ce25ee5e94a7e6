package cf

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/harmonium-ml/harmonium/fit"
	"github.com/harmonium-ml/harmonium/internal/memguard"
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

	// BaselineBlend, in [0, 1), is the weight of the baseline in the
	// predicted ratings: a prediction is (1-BaselineBlend) times the RBM's
	// expected rating plus BaselineBlend times Mean + the offsets. 0 is
	// the RBM alone.
	BaselineBlend float64

	// D, when not nil, makes the model a conditional RBM (the paper's
	// section 4): the binary vector r of which visibles a case rated adds
	// D'r to the hidden units' inputs (D is visibles x hidden). r holds
	// the case's training ratings and Implied[case], visibles the case is
	// known to have rated whose ratings are not used (for example the
	// pairs of a held-out set, as the paper does with Netflix's qualifying
	// set). Implied is nil or has one list per case.
	D       []float32
	Implied [][]int32

	// Implicit, when not nil, models which items users choose to rate;
	// the default ranking of Recommend and EvaluateTopN uses it.
	// ImplicitNote says why training fitted none, or is empty.
	Implicit     *Implicit
	ImplicitNote string

	// The id indices, built by newModel or, for a model built otherwise
	// (modelfile.LoadCF), on first use under indexOnce, so that concurrent
	// predictions are safe.
	indexOnce            sync.Once
	userIndex, itemIndex map[string]int

	// Each real user's training items (see userItems), built on first use.
	byUserOnce sync.Once
	byUser     [][]int32
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
	// BaselineBlend is the model's BaselineBlend.
	BaselineBlend float64
	// Conditional trains the conditional RBM (Model.D). Implied, when not
	// nil, lists (user, item) pairs known to be rated whose ratings are not
	// used: they join each case's indicator vector r (pairs already in the
	// training ratings, or of users or items the model does not know, are
	// left out). Passing a test set's pairs reproduces the paper's protocol;
	// it uses which items were rated, never the ratings.
	Conditional bool
	Implied     *Ratings
	// Implicit is the implicit-feedback RBM fitted beside the rating model
	// (Hidden 0: none), for ranking.
	Implicit ImplicitConfig
}

// UserBasedBlend is the BaselineBlend that harmonium cf train uses for a
// user-based model unless told otherwise: on MovieLens 100K's five folds
// it takes the user-based RBM from worse than the bias baseline to better
// than it on every fold.
const UserBasedBlend = 0.5

// DefaultConfig returns the settings used unless told otherwise.
func DefaultConfig() Config {
	return Config{Hidden: 100, Epochs: 35, BatchSize: 10, LearningRate: 0.02, Momentum: 0.5, WeightDecay: 0.005, Steps: []int{1, 3, 5, 9}, Seed: 1, ItemBased: true, Conditional: true, Implicit: DefaultImplicitConfig()}
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
	case !(c.LearningRate > 0) || math.IsInf(c.LearningRate, 1):
		return fmt.Errorf("learning rate must be positive and finite, got %g", c.LearningRate)
	case !(c.Momentum >= 0 && c.Momentum < 1): // NaN fails every comparison
		return fmt.Errorf("momentum must be in [0, 1), got %g", c.Momentum)
	case !(c.WeightDecay >= 0) || math.IsInf(c.WeightDecay, 1):
		return fmt.Errorf("weight decay must be finite and not negative, got %g", c.WeightDecay)
	case len(c.Steps) == 0:
		return errors.New("the CD schedule is empty")
	case !(c.BaselineBlend >= 0 && c.BaselineBlend < 1):
		return fmt.Errorf("baseline blend must be in [0, 1), got %g", c.BaselineBlend)
	}
	for _, t := range c.Steps {
		if t <= 0 {
			return fmt.Errorf("CD steps must be positive, got %d", t)
		}
	}
	return c.Implicit.Validate()
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

// newModel indexes the training ratings and fits the baseline. With
// transpose the ratings' users are the model's items and the other way
// round; with binary a rating is 1 (at least threshold) or 0. Both are
// applied on the fly, without a transformed copy of the ratings.
func newModel(train *Ratings, hidden int, transpose, binary bool, threshold float64) (*Model, error) {
	value := func(v float64) float64 {
		if binary {
			if v >= threshold {
				return 1
			}
			return 0
		}
		return v
	}
	levels, err := ratingLevels(train, value)
	if err != nil {
		if train.Source != "" { // a problem of the file's: name it
			err = fmt.Errorf("%s: %w", train.Source, err)
		}
		return nil, err
	}
	m := &Model{Levels: levels, Hidden: hidden}
	cases, vis := m.indexRatings(train, transpose)
	m.groupRatings(train, cases, vis, value)
	m.fitBaseline(train, cases, vis, value)
	return m, nil
}

// ratingLevels returns the distinct values of the training ratings (as
// value maps them), increasing: 2 to 255 of them.
func ratingLevels(train *Ratings, value func(float64) float64) ([]float64, error) {
	var levels []float64 // distinct values, at most 256 of them
	for i, r := range train.List {
		if math.IsNaN(r.Value) || math.IsInf(r.Value, 0) {
			return nil, fmt.Errorf("rating %d (user %q, item %q) is %v, not a number", i+1, r.User, r.Item, r.Value)
		}
		v := value(r.Value)
		if len(levels) <= 256 && !slices.Contains(levels, v) {
			levels = append(levels, v)
		}
	}
	slices.Sort(levels)
	if len(levels) < 2 {
		return nil, fmt.Errorf("the training ratings have a single level (%v); nothing to learn", levels)
	}
	if len(levels) > 255 {
		return nil, fmt.Errorf("%d rating levels or more; at most 255 are supported", len(levels))
	}
	return levels, nil
}

// indexRatings numbers the cases and visible items of the training
// ratings in order of first appearance (swapping users and items with
// transpose), and returns the case and visible indices of every rating,
// in list order.
func (m *Model) indexRatings(train *Ratings, transpose bool) (cases, vis []int32) {
	m.userIndex, m.itemIndex = map[string]int{}, map[string]int{}
	cases, vis = make([]int32, len(train.List)), make([]int32, len(train.List))
	for n, r := range train.List {
		user, item := r.User, r.Item
		if transpose {
			user, item = item, user
		}
		u, ok := m.userIndex[user]
		if !ok {
			u = len(m.Users)
			m.userIndex[user] = u
			m.Users = append(m.Users, user)
		}
		it, ok := m.itemIndex[item]
		if !ok {
			it = len(m.Items)
			m.itemIndex[item] = it
			m.Items = append(m.Items, item)
		}
		cases[n], vis[n] = int32(u), int32(it)
	}
	return cases, vis
}

// groupRatings sets UserItems and UserLevels: each case's ratings, in list
// order, in two shared slabs.
func (m *Model) groupRatings(train *Ratings, cases, vis []int32, value func(float64) float64) {
	off := make([]int, len(m.Users)+1)
	for _, u := range cases {
		off[u+1]++
	}
	for u := range m.Users {
		off[u+1] += off[u]
	}
	items, lv := make([]int32, len(cases)), make([]uint8, len(cases))
	m.UserItems, m.UserLevels = make([][]int32, len(m.Users)), make([][]uint8, len(m.Users))
	for u := range m.Users {
		m.UserItems[u] = items[off[u]:off[u]:off[u+1]]
		m.UserLevels[u] = lv[off[u]:off[u]:off[u+1]]
	}
	for n, r := range train.List {
		u := cases[n]
		m.UserItems[u] = append(m.UserItems[u], vis[n])
		m.UserLevels[u] = append(m.UserLevels[u], uint8(m.level(value(r.Value))))
	}
}

// fitBaseline sets Mean and the regularised user and item offsets, summing
// in the order of the ratings' list.
func (m *Model) fitBaseline(train *Ratings, cases, vis []int32, value func(float64) float64) {
	sum := 0.0
	for _, r := range train.List {
		sum += value(r.Value)
	}
	m.Mean = sum / float64(len(train.List))
	isum, icnt := make([]float64, len(m.Items)), make([]float64, len(m.Items))
	for n, r := range train.List {
		i := vis[n]
		isum[i] += value(r.Value) - m.Mean
		icnt[i]++
	}
	m.ItemOffset = make([]float32, len(m.Items))
	for i := range isum {
		m.ItemOffset[i] = float32(isum[i] / (icnt[i] + 25))
	}
	usum, ucnt := make([]float64, len(m.Users)), make([]float64, len(m.Users))
	for n, r := range train.List {
		u := cases[n]
		usum[u] += value(r.Value) - m.Mean - float64(m.ItemOffset[vis[n]])
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
	TrainRMSE float64 // of the predictions for the training ratings (a sample of them beyond TrainRMSESample)
	Duration  time.Duration
}

// ErrDiverged is wrapped by the error Train returns when the model's
// weights or training error stop being finite numbers.
var ErrDiverged = errors.New("training diverged")

// Train fits a model to the training ratings. epoch, when not nil, is
// called after every epoch; an error from it stops training.
//
// Memory is the model (weights and their velocities: 2*M*K*F floats for M
// visible items, K levels and F hidden units) plus about 10 bytes per
// training rating (18 while indexing) and 4*F per case; the gradient of a
// minibatch is kept per rating of the minibatch, not per item. The ratings
// are read, not copied, for item-based and binary models too. For a seed
// the result is always the same, whatever GOMAXPROCS (the number of
// workers).
func Train(ctx context.Context, train *Ratings, cfg Config, epoch func(*Model, EpochStats) error) (*Model, error) {
	m, err := initModel(train, cfg)
	if err != nil {
		return nil, err
	}
	t := newTrainer(m, cfg)
	t.start()
	defer t.stop()
	run := &epochRun{t: t, m: m, cfg: cfg, hook: epoch}
	if err := fit.Run(ctx, fit.Config{Epochs: cfg.Epochs, BatchSize: cfg.BatchSize, Seed: cfg.Seed}, len(m.Users), 0, run); err != nil {
		if run.hookErr {
			return m, err
		}
		return nil, err
	}
	if err := m.trainImplicit(ctx, cfg.Implicit, cfg.Seed); err != nil {
		return nil, err
	}
	return m, nil
}

// initModel returns the untrained model of the training ratings for cfg:
// indexed, with its baseline, settings and initial parameters.
func initModel(train *Ratings, cfg Config) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	threshold := cfg.LikeThreshold
	if cfg.Binary && threshold == 0 {
		threshold = 3
	}
	m, err := newModel(train, cfg.Hidden, cfg.ItemBased, cfg.Binary, threshold)
	if err != nil {
		return nil, err
	}
	m.ItemBased = cfg.ItemBased
	m.Binary, m.LikeThreshold = cfg.Binary, threshold
	m.BaselineBlend = cfg.BaselineBlend
	M, K, F := len(m.Items), m.K(), cfg.Hidden
	if err := checkTrainMemory(M, K, F, cfg.Conditional); err != nil {
		return nil, err
	}
	if err := m.checkImplicitMemory(cfg.Implicit); err != nil {
		return nil, err
	}
	m.initWeights(cfg.Seed)
	m.initVisBias()
	m.HidBias = make([]float32, F)
	if cfg.Conditional {
		m.D = make([]float32, M*F)
		if cfg.Implied != nil {
			m.Implied = m.impliedPairs(cfg.Implied)
		}
	}
	return m, nil
}

// checkTrainMemory checks that the machine has the memory for the weights
// of a model of M visible items, K levels and F hidden units and their
// velocities.
func checkTrainMemory(M, K, F int, conditional bool) error {
	// Weights and their velocities are dense: M*K*F floats each (and M*F
	// each for a conditional model's D).
	what := fmt.Sprintf("training a recommender with %d visible units x %d levels x %d hidden units", M, K, F)
	need := 8 * float64(M) * float64(K) * float64(F)
	if conditional {
		need += 8 * float64(M) * float64(F)
	}
	return memguard.Check(what, need)
}

// initWeights sets W to small random weights drawn from seed.
func (m *Model) initWeights(seed uint64) {
	r := rand.New(rand.NewPCG(seed, 0xCF))
	m.W = make([]float32, len(m.Items)*m.K()*m.Hidden)
	for i := range m.W {
		m.W[i] = float32(0.01 * r.NormFloat64())
	}
}

// initVisBias sets the visible biases to the log of each item's level
// frequencies in the training ratings (smoothed).
func (m *Model) initVisBias() {
	M, K := len(m.Items), m.K()
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
}

// epochRun is one call of Train as the epoch driver sees it.
type epochRun struct {
	t       *trainer
	m       *Model
	cfg     Config
	hook    func(*Model, EpochStats) error
	hookErr bool // the epoch hook stopped training
	epoch   int
	steps   int // Gibbs steps of CD-T in this epoch
}

// BeginEpoch sets the number of Gibbs steps of the epoch.
func (r *epochRun) BeginEpoch(e int) error {
	r.epoch, r.steps = e, r.cfg.steps(e)
	return nil
}

// Step trains on one minibatch of cases; the epoch's error is measured
// at its end.
func (r *epochRun) Step(idx []int) (float64, error) {
	r.t.minibatch(idx, r.epoch, r.steps)
	return 0, nil
}

// EndEpoch checks for divergence and calls the epoch hook.
func (r *epochRun) EndEpoch(e fit.Epoch) error {
	st := EpochStats{Epoch: e.Epoch + 1, Steps: r.steps, TrainRMSE: r.t.trainRMSE(), Duration: e.Duration}
	if what := diverged(r.m, st.TrainRMSE); what != "" {
		return fmt.Errorf("epoch %d: %w (%s); lower the learning rate (--lr, now %g)", st.Epoch, ErrDiverged, what, r.cfg.LearningRate)
	}
	if r.hook != nil {
		if err := r.hook(r.m, st); err != nil {
			r.hookErr = true
			return err
		}
	}
	return nil
}

// diverged says what is not finite, or "".
func diverged(m *Model, rmse float64) string {
	if math.IsNaN(rmse) || math.IsInf(rmse, 0) {
		return fmt.Sprintf("train RMSE %v", rmse)
	}
	for _, p := range []struct {
		name string
		x    []float32
	}{{"weights", m.W}, {"visible biases", m.VisBias}, {"hidden biases", m.HidBias}, {"conditional weights D", m.D}} {
		for _, x := range p.x {
			if math.Float32bits(x)&0x7f800000 == 0x7f800000 {
				return p.name + " not finite"
			}
		}
	}
	return ""
}

// gradStripes is how many stripes of a minibatch's cases the gradient sums
// separately before adding them (see trainer).
const gradStripes = 2

// trainer holds what training needs besides the model, allocated once and
// reused by every minibatch.
//
// The gradient of a minibatch is not accumulated into dense M*K*F buffers:
// cdUser leaves, per case of the minibatch, its positive and negative
// hidden probabilities (F each) and the negative visible probabilities of
// its ratings (K per rating), and apply builds each touched item's
// gradient from them in a K*F scratch row. So the memory beyond the model
// grows with the ratings of a minibatch, not with the number of items.
//
// The sums are grouped in gradStripes stripes, stripe s summing the cases
// s, s+gradStripes, ... of the minibatch and the stripes' sums added in
// order: the grouping of two workers each accumulating a dense buffer of
// their own, as earlier versions did, so that models are bit-identical to
// theirs on two cores, and on any number of cores now.
type trainer struct {
	m       *Model
	cfg     Config
	workers int

	velW, velV, velH []float32

	// The velocity of a conditional model's D.
	velD []float32

	// Per position j of the minibatch.
	batch  []int
	bySize []int     // positions by decreasing number of ratings
	h0, hp []float32 // F each: positive and final hidden probabilities
	pOff   []int     // offsets of each case's K*n visible probabilities
	probs  []float32
	e, T   int // epoch and CD steps

	// Per position of the minibatch: whether its CD pass is done, and a
	// lock held until it is, for the updates that wait for it.
	caseDone []atomic.Bool
	caseMu   []sync.Mutex

	// Big cases (see bigCase): the number of them in the minibatch (they
	// come first in bySize), and for the one being run its position, the
	// step of CD-T, the hidden units on, its random stream, its hidden
	// inputs and biases, and the sums of its segments.
	firstCD     int
	bigJ        int
	bigStep     int
	bigAct      []int32
	bigSrc      *rand.PCG
	bigR        *rand.Rand
	bigX        []float32
	bigBias     []float32
	segX, segCB []float32

	// The workers: work[0] is the goroutine that calls run, the others
	// wait on their wake channel. A job hands out indices [0, n) chunk at
	// a time.
	work          []*scratch
	wake          []chan struct{}
	done          sync.WaitGroup
	job, n, chunk int
	next          atomic.Int64
	lr, mom, wd   float32 // of the minibatch

	// apply: the items touched by the minibatch and their ratings in it.
	slot     []int32 // item -> index in touched, or -1
	touched  []int32
	occStart []int32 // touched[i]'s ratings are occStart[i] to occStart[i+1]-1 in:
	occPos   []int32 // the position of the case in the minibatch
	occIdx   []int32 // and the index of the rating among the case's
	fill     []int32
	hidSum   []float32 // F
	hidPart  []float32 // F

	// trainRMSE goes through the ratings by item, so that each item's
	// weights are read once: the cases and levels of each item's ratings,
	// the cases' hidden means and each item's squared error. It measures
	// the ratings of rmseCases (all cases when nil).
	rmseCases []int32
	visOff    []int
	visCase   []int32
	visLevel  []uint8
	hidden    []float32 // cases*F
	itemSE    []float64
}

// scratch is one worker's buffers.
type scratch struct {
	src     *rand.PCG
	r       *rand.Rand
	x       []float32 // F: hidden inputs
	cb      []float32 // F: the case's hidden biases plus D'r
	act     []int32   // indices of the hidden units on
	logits  []float32 // K
	nz      []kp      // nonzero visible probabilities of one rating
	sink    float32   // of prefetch
	hi      int       // end of the chunk of indices being worked on
	end     int       // end of the chunk of touched visibles being updated
	s, part []float32 // K*F: an item's gradient, and one stripe's share
	sv, pv  []float32 // K: the same for the visible biases
	dg      []float32 // F: the gradient of a row of D
}

type kp struct {
	k int
	p float32
}

func newTrainer(m *Model, cfg Config) *trainer {
	M, K, F := len(m.Items), m.K(), m.Hidden
	t := &trainer{m: m, cfg: cfg, workers: runtime.GOMAXPROCS(0),
		velW: make([]float32, M*K*F), velV: make([]float32, M*K), velH: make([]float32, F),
		slot: make([]int32, M), hidSum: make([]float32, F), hidPart: make([]float32, F),
		hidden: make([]float32, len(m.Users)*F), itemSE: make([]float64, M), visOff: make([]int, M+1)}
	for i := range t.slot {
		t.slot[i] = -1
	}
	t.bigSrc = rand.NewPCG(0, 0)
	t.bigR = rand.New(t.bigSrc)
	t.bigX, t.bigBias, t.bigAct = make([]float32, F), make([]float32, F), make([]int32, 0, F)
	if m.D != nil {
		t.velD = make([]float32, M*F)
	}
	t.rmseCases = rmseSample(m.UserItems, cfg.Seed, TrainRMSESample)
	for i := range t.rmseCount() {
		for _, it := range m.UserItems[t.rmseCase(i)] {
			t.visOff[it+1]++
		}
	}
	for it := range M {
		t.visOff[it+1] += t.visOff[it]
	}
	t.visCase, t.visLevel = make([]int32, t.visOff[M]), make([]uint8, t.visOff[M])
	fill := slices.Clone(t.visOff[:M])
	for i := range t.rmseCount() {
		u := t.rmseCase(i)
		for k, it := range m.UserItems[u] {
			t.visCase[fill[it]], t.visLevel[fill[it]] = int32(u), m.UserLevels[u][k]
			fill[it]++
		}
	}
	for range t.workers {
		src := rand.NewPCG(0, 0)
		t.work = append(t.work, &scratch{src: src, r: rand.New(src), x: make([]float32, F), cb: make([]float32, F), act: make([]int32, 0, F),
			logits: make([]float32, K), s: make([]float32, K*F), part: make([]float32, K*F),
			sv: make([]float32, K), pv: make([]float32, K), dg: make([]float32, F)})
	}
	return t
}

// The jobs of the workers.
const (
	jobStep   = iota // cdUser for each case of the minibatch, then the update of each touched item
	jobSegPos        // a big case's positive phase, a segment of its ratings at a time
	jobSegNeg        // a big case's negative phase, the same way
	jobHidden        // the hidden means of each case, for trainRMSE
	jobRMSE          // the training error of each item's ratings
)

// start starts the workers other than the caller's; stop ends them.
func (t *trainer) start() {
	for w := 1; w < len(t.work); w++ {
		c := make(chan struct{})
		t.wake = append(t.wake, c)
		go func() {
			for range c {
				t.do(t.work[w])
				t.done.Done()
			}
		}()
	}
}

func (t *trainer) stop() {
	for _, c := range t.wake {
		close(c)
	}
}

// run does job for the indices [0, n) on all workers, chunk at a time,
// and returns when they are done. It allocates nothing.
func (t *trainer) run(job, n, chunk int) {
	if n == 0 {
		return
	}
	t.job, t.n, t.chunk = job, n, chunk
	t.next.Store(0)
	wake := t.wake[:min(len(t.wake), (n+chunk-1)/chunk-1)]
	t.done.Add(len(wake))
	for _, c := range wake {
		c <- struct{}{}
	}
	t.do(t.work[0])
	t.done.Wait()
}

func (t *trainer) do(w *scratch) {
	for {
		lo := int(t.next.Add(int64(t.chunk))) - t.chunk
		if lo >= t.n {
			return
		}
		w.hi = min(lo+t.chunk, t.n)
		for i := lo; i < w.hi; i++ {
			switch t.job {
			case jobStep:
				t.stepPart(w, i)
			case jobSegPos:
				t.segPos(w, i)
			case jobSegNeg:
				t.segNeg(w, i)
			case jobHidden:
				t.hiddenCase(w, i)
			case jobRMSE:
				t.rmseItem(w, i)
			}
		}
	}
}

// minibatch takes a CD-T step on the cases in batch.
func (t *trainer) minibatch(batch []int, e, T int) {
	m, K, F := t.m, t.m.K(), t.m.Hidden
	t.batch = batch
	t.h0 = slices.Grow(t.h0[:0], len(batch)*F)[:len(batch)*F]
	t.hp = slices.Grow(t.hp[:0], len(batch)*F)[:len(batch)*F]
	t.pOff = append(t.pOff[:0], 0)
	for _, u := range batch {
		t.pOff = append(t.pOff, t.pOff[len(t.pOff)-1]+len(m.UserItems[u])*K)
	}
	t.probs = slices.Grow(t.probs[:0], t.pOff[len(batch)])[:t.pOff[len(batch)]]
	t.e, t.T = e, T
	// Largest cases first, so that the workers finish together more often.
	t.bySize = t.bySize[:0]
	for j := range batch {
		t.bySize = append(t.bySize, j)
	}
	slices.SortStableFunc(t.bySize, func(a, b int) int { return len(m.UserItems[batch[b]]) - len(m.UserItems[batch[a]]) })
	t.firstCD = 0
	for t.firstCD < len(batch) && len(m.UserItems[batch[t.bySize[t.firstCD]]]) >= bigCase {
		t.firstCD++
	}
	t.occurrences()
	if len(t.caseMu) < len(batch) {
		t.caseMu = make([]sync.Mutex, len(batch))
		t.caseDone = make([]atomic.Bool, len(batch))
	}
	for i, j := range t.bySize {
		if i < t.firstCD {
			t.cdBig(j)
			t.caseDone[j].Store(true)
			continue
		}
		t.caseMu[j].Lock()
		t.caseDone[j].Store(false)
	}
	t.run(jobStep, len(batch)-t.firstCD+(len(t.touched)+applyChunk-1)/applyChunk, 1)
	t.apply()
}

// Cases with at least bigCase ratings (items that many users rated, in an
// item-based model) are not one worker's job: each is run in turn by all
// the workers, its ratings cut into segments of segment ratings whose
// sums are added in order, so that one large case does not leave the
// other workers idle. Smaller cases (all of MovieLens 100K's) keep one
// worker each and the summation order of one.
const (
	bigCase = 4096
	segment = 1024
)

// cdBig runs CD-T for the case at position j of the minibatch, as cdUser
// does, with its sums over ratings split into segments (segPos, segNeg).
// Its hidden units are sampled from the case's own stream; a segment's
// sampled levels (CD-T with T > 1) from the segment's.
func (t *trainer) cdBig(j int) {
	m, F := t.m, t.m.Hidden
	u, T := t.batch[j], t.T
	t.bigJ = j
	nseg := (len(m.UserItems[u]) + segment - 1) / segment
	t.segX = slices.Grow(t.segX[:0], nseg*F)[:nseg*F]
	if m.D != nil {
		t.segCB = slices.Grow(t.segCB[:0], nseg*F)[:nseg*F]
	}
	t.bigSrc.Seed(t.cfg.Seed^uint64(t.e+1)<<32, uint64(u))
	x, bias := t.bigX, t.bigBias
	t.run(jobSegPos, nseg, 1)
	copy(bias, m.HidBias)
	if m.D != nil {
		for sg := range nseg {
			addTo(bias, t.segCB[sg*F:][:F])
		}
		if m.Implied != nil {
			m.addD(bias, m.Implied[u])
		}
	}
	t.sumSegments(x, bias, nseg)
	h0, hp := t.h0[j*F:][:F], t.hp[j*F:][:F]
	positiveStates(x, h0, hp, t.bigR)
	for step := 1; step <= T; step++ {
		t.bigAct = activeUnits(hp, t.bigAct[:0])
		t.bigStep = step
		t.run(jobSegNeg, nseg, 1)
		t.sumSegments(x, bias, nseg)
		hiddenStates(x, hp, step < T, t.bigR)
	}
}

// sumSegments sets x to bias plus the segments' sums, in order.
func (t *trainer) sumSegments(x, bias []float32, nseg int) {
	F := t.m.Hidden
	copy(x, bias)
	for sg := range nseg {
		addTo(x, t.segX[sg*F:][:F])
	}
}

// segPos sums the weight rows (and the rows of D) of segment sg of the
// big case's ratings.
func (t *trainer) segPos(w *scratch, sg int) {
	m, F := t.m, t.m.Hidden
	u := t.batch[t.bigJ]
	lo, hi := sg*segment, min((sg+1)*segment, len(m.UserItems[u]))
	x := t.segX[sg*F:][:F]
	clear(x)
	w.sink += m.ratingRows(x, u, lo, hi)
	if m.D != nil {
		cb := t.segCB[sg*F:][:F]
		clear(cb)
		m.addD(cb, m.UserItems[u][lo:hi])
	}
}

// segNeg runs the negative phase of step t.bigStep over segment sg of the
// big case's ratings.
func (t *trainer) segNeg(w *scratch, sg int) {
	m, K, F := t.m, t.m.K(), t.m.Hidden
	j := t.bigJ
	u := t.batch[j]
	lo, hi := sg*segment, min((sg+1)*segment, len(m.UserItems[u]))
	x := t.segX[sg*F:][:F]
	clear(x)
	sample := t.bigStep < t.T
	if sample {
		w.src.Seed(t.cfg.Seed^uint64(t.e+1)<<32, uint64(u)|uint64(sg+1)<<32|uint64(t.bigStep)<<48)
	}
	w.sink += m.negative(w, u, lo, hi, t.bigAct, x, t.probs[t.pOff[j]+lo*K:t.pOff[j]+hi*K], sample, w.r)
}

// applyChunk is how many touched visibles a worker updates at a time.
const applyChunk = 16

// stepPart does part i of a minibatch's step. The first parts are the
// CD passes of the cases that are not big (see bigCase), largest first; the others update the touched
// visibles applyChunk at a time, from the last chunk of t.touched to the
// first, so that the visibles of the largest case (numbered first) come
// last: a worker that has run out of cases updates the visibles of the
// cases already done while another worker is still on a large case, and
// waits only for a visible of a case that is not done.
func (t *trainer) stepPart(w *scratch, i int) {
	B := len(t.batch)
	if i += t.firstCD; i < B {
		t.cdCase(w, i)
		j := t.bySize[i]
		t.caseDone[j].Store(true)
		t.caseMu[j].Unlock()
		return
	}
	c := (len(t.touched)+applyChunk-1)/applyChunk - 1 - (i - B)
	lo := c * applyChunk
	w.end = min(lo+applyChunk, len(t.touched))
	for sl := lo; sl < w.end; sl++ {
		for o := t.occStart[sl]; o < t.occStart[sl+1]; o++ {
			if j := t.occPos[o]; !t.caseDone[j].Load() {
				t.caseMu[j].Lock() // wait for case j's CD pass
				t.caseMu[j].Unlock()
			}
		}
		t.applyItem(w, sl)
	}
}

// cdCase runs cdUser for the i-th largest case of the minibatch.
func (t *trainer) cdCase(w *scratch, i int) {
	j := t.bySize[i]
	u, F := t.batch[j], t.m.Hidden
	w.src.Seed(t.cfg.Seed^uint64(t.e+1)<<32, uint64(u))
	t.m.cdUser(w, u, t.T, w.r, t.h0[j*F:][:F], t.hp[j*F:][:F], t.probs[t.pOff[j]:t.pOff[j+1]])
}

// hiddenInput sets x to the hidden units' inputs from case u's training
// ratings, the hidden biases plus the weights of the rated (item, level)
// units, reading rows ahead (see prefetch); it returns prefetch's sink.
//
// When cb is not nil, case u's hidden biases (see caseBias) are left in it
// too, so that a conditional model sums its rows of D once per case.
func (m *Model) hiddenInput(x, cb []float32, u int) float32 {
	items := m.UserItems[u]
	if cb != nil {
		m.caseBias(cb, u)
		copy(x, cb)
	} else {
		m.caseBias(x, u)
	}
	return m.ratingRows(x, u, 0, len(items))
}

// ratingRows adds to x the weight rows of ratings lo to hi-1 of case u
// (the rated level's row of each item), reading rows ahead, and returns
// prefetch's sink.
func (m *Model) ratingRows(x []float32, u, lo, hi int) float32 {
	K, F := m.K(), m.Hidden
	items, levels := m.UserItems[u], m.UserLevels[u]
	var pf float32
	for i := lo; i < hi; i++ {
		if i+4 < hi {
			pf += prefetch(m.W[(int(items[i+4])*K+int(levels[i+4]))*F:][:F])
		}
		row := m.W[(int(items[i])*K+int(levels[i]))*F:][:F]
		for f, w := range row {
			x[f] += w
		}
	}
	return pf
}

// negative adds to x the (mean, or sampled when sample is set) visible
// states of ratings lo to hi-1 of case u given the hidden units on (act),
// item by item while its rows are in cache: for each hidden unit the terms
// come in item then level order. It leaves the ratings' visible
// probabilities (or sampled levels, one-hot) in probs, K per rating from
// rating lo, and returns prefetch's sink.
func (m *Model) negative(s *scratch, u, lo, hi int, act []int32, x, probs []float32, sample bool, r *rand.Rand) float32 {
	K, F := m.K(), m.Hidden
	items := m.UserItems[u]
	var pf float32
	for i := lo; i < hi; i++ {
		it := items[i]
		if i+2 < hi {
			next := int(items[i+2]) * K
			pf += prefetch(m.W[next*F:][:K*F]) + prefetch(m.VisBias[next:][:K])
		}
		base := int(it) * K
		logits := s.logits[:K]
		m.visibleLogits(logits, base, act)
		pr := probs[(i-lo)*K:][:K]
		softmax32(pr, logits)
		if sample {
			// Sample a level for the next step.
			sampleLevel(pr, r)
		}
		m.addVisible(s, x, base, pr)
	}
	return pf
}

// visibleLogits sets logits to the inputs of the K visible units from
// base on (an item's levels) given the hidden units on (act).
func (m *Model) visibleLogits(logits []float32, base int, act []int32) {
	K, F := len(logits), m.Hidden
	k := 0
	for ; k+4 <= K; k += 4 {
		r0 := m.W[(base+k)*F:][:F]
		r1 := m.W[(base+k+1)*F:][:F]
		r2 := m.W[(base+k+2)*F:][:F]
		r3 := m.W[(base+k+3)*F:][:F]
		s0, s1, s2, s3 := m.VisBias[base+k], m.VisBias[base+k+1], m.VisBias[base+k+2], m.VisBias[base+k+3]
		for _, f := range act {
			s0 += r0[f]
			s1 += r1[f]
			s2 += r2[f]
			s3 += r3[f]
		}
		logits[k], logits[k+1], logits[k+2], logits[k+3] = s0, s1, s2, s3
	}
	for ; k+2 <= K; k += 2 {
		r0 := m.W[(base+k)*F:][:F]
		r1 := m.W[(base+k+1)*F:][:F]
		s0, s1 := m.VisBias[base+k], m.VisBias[base+k+1]
		for _, f := range act {
			s0 += r0[f]
			s1 += r1[f]
		}
		logits[k], logits[k+1] = s0, s1
	}
	if k < K {
		r0 := m.W[(base+k)*F:][:F]
		s0 := m.VisBias[base+k]
		for _, f := range act {
			s0 += r0[f]
		}
		logits[k] = s0
	}
}

// softmax32 sets pr to the softmax of logits.
func softmax32(pr, logits []float32) {
	mx := float32(math.Inf(-1))
	for _, l := range logits {
		mx = max(mx, l)
	}
	sum := float32(0)
	for k, l := range logits {
		e := float32(math.Exp(float64(l - mx)))
		pr[k] = e
		sum += e
	}
	for k := range pr {
		pr[k] /= sum
	}
}

// sampleLevel replaces the level probabilities pr by a level drawn from
// them, one-hot.
func sampleLevel(pr []float32, r *rand.Rand) {
	u := r.Float32()
	pick := len(pr) - 1
	for k, p := range pr {
		if u < p {
			pick = k
			break
		}
		u -= p
	}
	clear(pr)
	pr[pick] = 1
}

// addVisible adds to x the weight rows of the K visible units from base
// on (an item's levels), each times its state in pr, skipping the zeros.
func (m *Model) addVisible(s *scratch, x []float32, base int, pr []float32) {
	F := m.Hidden
	nz := s.nz[:0]
	for k, p := range pr {
		if p != 0 {
			nz = append(nz, kp{k, p})
		}
	}
	s.nz = nz
	for len(nz) >= 4 {
		p0, p1, p2, p3 := nz[0].p, nz[1].p, nz[2].p, nz[3].p
		r0 := m.W[(base+nz[0].k)*F:][:F]
		r1 := m.W[(base+nz[1].k)*F:][:F]
		r2 := m.W[(base+nz[2].k)*F:][:F]
		r3 := m.W[(base+nz[3].k)*F:][:F]
		for f := range x {
			v := x[f]
			v += p0 * r0[f]
			v += p1 * r1[f]
			v += p2 * r2[f]
			v += p3 * r3[f]
			x[f] = v
		}
		nz = nz[4:]
	}
	for len(nz) >= 2 {
		p0, p1 := nz[0].p, nz[1].p
		r0 := m.W[(base+nz[0].k)*F:][:F]
		r1 := m.W[(base+nz[1].k)*F:][:F]
		for f := range x {
			v := x[f]
			v += p0 * r0[f]
			v += p1 * r1[f]
			x[f] = v
		}
		nz = nz[2:]
	}
	if len(nz) == 1 {
		p0 := nz[0].p
		r0 := m.W[(base+nz[0].k)*F:][:F]
		for f, w := range r0 {
			x[f] += p0 * w
		}
	}
}

// cdUser runs CD-T for case u, leaving in h0 the positive hidden
// probabilities, in hp the final (mean-field) ones and in probs the final
// visible probabilities of u's ratings (K each).
func (m *Model) cdUser(s *scratch, u, T int, r *rand.Rand, h0, hp, probs []float32) {
	F := m.Hidden
	x := s.x[:F]
	bias := m.HidBias
	var cb []float32
	if m.D != nil {
		bias = s.cb[:F]
		cb = bias
	}
	pf := m.hiddenInput(x, cb, u)
	positiveStates(x, h0, hp, r)
	for t := 1; t <= T; t++ {
		// Visible softmax for each rated item given the binary hidden
		// states in hp: a logit sums the weights of the units that are on.
		act := activeUnits(hp, s.act[:0])
		copy(x, bias)
		pf += m.negative(s, u, 0, len(m.UserItems[u]), act, x, probs, t < T, r)
		hiddenStates(x, hp, t < T, r)
	}
	s.sink += pf
}

// positiveStates sets h0 to the hidden probabilities for inputs x and hp
// to a sample of them.
func positiveStates(x, h0, hp []float32, r *rand.Rand) {
	for f, v := range x {
		p := sigmoid(v)
		h0[f] = p
		if r.Float32() < p {
			hp[f] = 1
		} else {
			hp[f] = 0
		}
	}
}

// hiddenStates sets hp to the hidden probabilities for inputs x, or to a
// sample of them when sample is set.
func hiddenStates(x, hp []float32, sample bool, r *rand.Rand) {
	for f, v := range x {
		p := sigmoid(v)
		if sample {
			if r.Float32() < p {
				p = 1
			} else {
				p = 0
			}
		}
		hp[f] = p
	}
}

// activeUnits appends to act the indices of the units on in hp.
func activeUnits(hp []float32, act []int32) []int32 {
	for f, h := range hp {
		if h != 0 {
			act = append(act, int32(f))
		}
	}
	return act
}

// apply takes the step of the hidden biases, once the visibles' are taken
// (stepPart): only the items rated in the minibatch are touched (their
// velocities wait while they are not), so an epoch costs in proportion to
// the ratings, not to the number of items.
func (t *trainer) apply() {
	m, B, S, F := t.m, len(t.batch), gradStripes, t.m.Hidden
	lr, mom := t.lr, t.mom
	// Hidden biases, summed per stripe the same way.
	hs, hpart := t.hidSum, t.hidPart
	clear(hs)
	for st := 0; st < min(S, B); st++ {
		clear(hpart)
		for j := st; j < B; j += S {
			h0, hp := t.h0[j*F:][:F], t.hp[j*F:][:F]
			for f := range hpart {
				hpart[f] += h0[f] - hp[f]
			}
		}
		for f, x := range hpart {
			hs[f] += x
		}
	}
	for f, g := range hs {
		t.velH[f] = mom*t.velH[f] + lr*g
		m.HidBias[f] += t.velH[f]
	}
	for _, it := range t.touched {
		t.slot[it] = -1
	}
}

// occurrences sets the step sizes of the minibatch and lists the visibles
// it touches (t.touched, t.slot) and their ratings, ordered by stripe,
// position in the stripe and index among the case's ratings. A
// conditional model's implied visibles of a case come after its ratings,
// with index -1: they move only D.
func (t *trainer) occurrences() {
	m, cfg := t.m, t.cfg
	B, S := len(t.batch), gradStripes
	t.lr = float32(cfg.LearningRate / float64(B))
	t.mom, t.wd = float32(cfg.Momentum), float32(cfg.LearningRate*cfg.WeightDecay)
	t.touched, t.fill = t.touched[:0], t.fill[:0]
	number := func(it int32) int32 {
		sl := t.slot[it]
		if sl < 0 {
			sl = int32(len(t.touched))
			t.slot[it] = sl
			t.touched = append(t.touched, it)
			t.fill = append(t.fill, 0)
		}
		return sl
	}
	count := func(it int32) { t.fill[number(it)]++ }
	// The largest case's visibles first (see stepPart).
	if t.firstCD < B {
		big := t.bySize[t.firstCD]
		for _, it := range m.UserItems[t.batch[big]] {
			number(it)
		}
		for _, it := range t.implied(big) {
			number(it)
		}
	}
	for st := 0; st < S; st++ {
		for j := st; j < B; j += S {
			for _, it := range m.UserItems[t.batch[j]] {
				count(it)
			}
			for _, it := range t.implied(j) {
				count(it)
			}
		}
	}
	t.occStart = append(t.occStart[:0], 0)
	for i, n := range t.fill {
		t.occStart = append(t.occStart, t.occStart[i]+n)
		t.fill[i] = t.occStart[i]
	}
	n := int(t.occStart[len(t.touched)])
	t.occPos = slices.Grow(t.occPos[:0], n)[:n]
	t.occIdx = slices.Grow(t.occIdx[:0], n)[:n]
	place := func(it int32, j, i int) {
		o := t.fill[t.slot[it]]
		t.fill[t.slot[it]]++
		t.occPos[o], t.occIdx[o] = int32(j), int32(i)
	}
	for st := 0; st < S; st++ {
		for j := st; j < B; j += S {
			for i, it := range m.UserItems[t.batch[j]] {
				place(it, j, i)
			}
			for _, it := range t.implied(j) {
				place(it, j, -1)
			}
		}
	}
}

// implied returns the implied visibles of the case at position j of the
// minibatch (none unless the model was given Config.Implied).
func (t *trainer) implied(j int) []int32 {
	if t.m.Implied == nil {
		return nil
	}
	return t.m.Implied[t.batch[j]]
}

// applyItem sums the minibatch's gradient of touched item t.touched[sl]
// and takes its momentum step.
func (t *trainer) applyItem(w *scratch, sl int) {
	m := t.m
	o0, o1 := int(t.occStart[sl]), int(t.occStart[sl+1])
	if sl+2 < w.end { // (past the chunk, another worker may be writing)
		t.prefetchItem(w, int(t.touched[sl+2]))
	}
	it := int(t.touched[sl])
	if m.D != nil {
		t.stepD(w, it, o0, o1)
	}
	rated, first := t.ratedOccurrences(o0, o1)
	switch rated {
	case 0:
		return // only implied: W and the visible biases wait
	case 1:
		t.stepRating(int(t.occPos[first]), int(t.occIdx[first]), it)
		return
	}
	s, sv := t.sumStripes(w, o0, o1)
	t.stepItem(it, s, sv)
}

// prefetchItem reads ahead the weights, visible biases (and row of D) of
// item it and their velocities.
func (t *trainer) prefetchItem(w *scratch, it int) {
	m, K, F := t.m, t.m.K(), t.m.Hidden
	w.sink += prefetch(m.W[it*K*F:][:K*F]) + prefetch(t.velW[it*K*F:][:K*F]) + prefetch(m.VisBias[it*K:][:K]) + prefetch(t.velV[it*K:][:K])
	if m.D != nil {
		w.sink += prefetch(m.D[it*F:][:F]) + prefetch(t.velD[it*F:][:F])
	}
}

// ratedOccurrences returns how many of occurrences o0 to o1-1 are ratings
// (not implied visibles) and the first of them.
func (t *trainer) ratedOccurrences(o0, o1 int) (rated, first int) {
	rated, first = o1-o0, o0
	if t.m.Implied != nil {
		rated = 0
		for o := o1 - 1; o >= o0; o-- {
			if t.occIdx[o] >= 0 {
				rated, first = rated+1, o
			}
		}
	}
	return rated, first
}

// sumStripes returns, in w.s and w.sv, the gradient of an item's weights
// and visible biases from its ratings, occurrences o0 to o1-1: each
// stripe's ratings summed in order into w.part and w.pv (the first
// stripe's straight into w.s and w.sv, as 0 + x is x: a share is never
// -0), and the stripes' shares added.
func (t *trainer) sumStripes(w *scratch, o0, o1 int) (s, sv []float32) {
	S, K, F := gradStripes, t.m.K(), t.m.Hidden
	s, part, sv, pv := w.s[:K*F], w.part[:K*F], w.sv[:K], w.pv[:K]
	acc, accv := s, sv
	cur := -1
	for o := o0; o < o1; o++ {
		j, i := int(t.occPos[o]), int(t.occIdx[o])
		if i < 0 {
			continue
		}
		if st := j % S; st != cur {
			if cur >= 0 {
				if &acc[0] == &part[0] {
					addTo(s, part)
					addTo(sv, pv)
				}
				acc, accv = part, pv
			}
			cur = st
			clear(acc)
			clear(accv)
		}
		t.addRatingGradient(acc, accv, j, i)
	}
	if &acc[0] == &part[0] {
		addTo(s, part)
		addTo(sv, pv)
	}
	return s, sv
}

// addRatingGradient adds to acc and accv (an item's K*F weights and K
// visible biases) the gradient of the i-th rating of the case at position
// j of the minibatch.
func (t *trainer) addRatingGradient(acc, accv []float32, j, i int) {
	m, K, F := t.m, t.m.K(), t.m.Hidden
	l := int(m.UserLevels[t.batch[j]][i])
	h0, hp := t.h0[j*F:][:F], t.hp[j*F:][:F]
	accv[l]++
	row := acc[l*F:][:F]
	for f, h := range h0 {
		row[f] += h
	}
	for k, p := range t.probs[t.pOff[j]+i*K:][:K] {
		accv[k] -= p
		if p == 0 {
			continue
		}
		row := acc[k*F:][:F]
		for f, h := range hp {
			row[f] -= p * h
		}
	}
}

// stepItem takes the momentum step of item it's weights and visible
// biases for gradients s (K*F) and sv (K).
func (t *trainer) stepItem(it int, s, sv []float32) {
	lr, mom, wd := t.lr, t.mom, t.wd
	W, vel, vb, vv := t.itemRows(it)
	for i, g := range s {
		v := mom*vel[i] + lr*g - wd*W[i]
		vel[i] = v
		W[i] += v
	}
	for k, g := range sv {
		vv[k] = mom*vv[k] + lr*g
		vb[k] += vv[k]
	}
}

// itemRows returns item it's weights and visible biases and their
// velocities.
func (t *trainer) itemRows(it int) (W, vel, vb, vv []float32) {
	m, K, F := t.m, t.m.K(), t.m.Hidden
	return m.W[it*K*F:][:K*F], t.velW[it*K*F:][:K*F], m.VisBias[it*K:][:K], t.velV[it*K:][:K]
}

// stepRating takes the momentum step of visible it's weights and biases
// for a gradient that is that of its one rating, the i-th of the case at
// position j of the minibatch: built on the fly, each element as a sum from
// 0 would give it.
func (t *trainer) stepRating(j, i, it int) {
	m, K, F := t.m, t.m.K(), t.m.Hidden
	lr, mom, wd := t.lr, t.mom, t.wd
	W, vel, vb, vv := t.itemRows(it)
	l := int(m.UserLevels[t.batch[j]][i])
	h0, hp := t.h0[j*F:][:F], t.hp[j*F:][:F]
	for k, p := range t.probs[t.pOff[j]+i*K:][:K] {
		gv := float32(0)
		if k == l {
			gv++
		}
		gv -= p
		vv[k] = mom*vv[k] + lr*gv
		vb[k] += vv[k]
		momentumRow(W[k*F:][:F], vel[k*F:][:F], h0, hp, k == l, p, mom, lr, wd)
	}
}

// addTo adds x to s.
func addTo(s, x []float32) {
	x = x[:len(s)]
	for i, v := range x {
		s[i] += v
	}
}

// momentumRow takes the momentum step of weight row w (velocities vel) for
// the gradient of one rating: h0 if on (the rated level) minus p*hp, each
// element computed as a sum from 0 would give it.
func momentumRow(w, vel, h0, hp []float32, on bool, p, mom, lr, wd float32) {
	w, vel, h0, hp = w[:len(w)], vel[:len(w)], h0[:len(w)], hp[:len(w)]
	switch {
	case on && p != 0:
		for f := range w {
			g := h0[f] - p*hp[f]
			v := mom*vel[f] + lr*g - wd*w[f]
			vel[f] = v
			w[f] += v
		}
	case on:
		for f := range w {
			v := mom*vel[f] + lr*h0[f] - wd*w[f]
			vel[f] = v
			w[f] += v
		}
	case p != 0:
		zero := float32(0)
		for f := range w {
			g := zero - p*hp[f]
			v := mom*vel[f] + lr*g - wd*w[f]
			vel[f] = v
			w[f] += v
		}
	default:
		zero := float32(0)
		for f := range w {
			v := mom*vel[f] + lr*zero - wd*w[f]
			vel[f] = v
			w[f] += v
		}
	}
}

// sigmoid is 1/(1+e^-x) through float64 math.Exp, rounded to float32. cf
// keeps it rather than mat32.Sigmoid (a float32 polynomial exp, clamped at
// +-85), measured on this code (BenchmarkSigmoid, BenchmarkCDUser,
// TestSigmoidAccuracy): mat32's is about 2 ns a call faster (11 against
// 13), but cdUser calls it 2F times per case for CD-1 against ~800 ns of
// other work per rating, under 1% of a case of 100 ratings; this one is a
// little more accurate (largest relative error on [-20, 20] 1.3e-7 against
// 1.4e-7); and switching would change every trained model, and the
// predictions of saved ones, in the last bits.
func sigmoid(x float32) float32 { return 1 / (1 + float32(math.Exp(float64(-x)))) }
