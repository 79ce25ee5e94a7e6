package cf

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/harmonium-ml/harmonium/internal/memguard"
)

// plantedRatings: every user rates "star" (at 3, so that ranking by
// predicted rating has no reason to put it first) and 8 of 30 other items;
// for the first 20 users star is held out (rated 5 in the test set).
func plantedRatings() (train, test *Ratings) {
	r := rand.New(rand.NewPCG(5, 6))
	train, test = &Ratings{Source: "planted"}, &Ratings{Source: "planted test"}
	for u := range 80 {
		user := fmt.Sprint("u", u)
		if u < 20 {
			test.List = append(test.List, Rating{user, "star", 5})
		} else {
			train.List = append(train.List, Rating{user, "star", 3})
		}
		for _, it := range r.Perm(30)[:8] {
			train.List = append(train.List, Rating{user, fmt.Sprint("i", it), float64(1 + r.IntN(5))})
		}
	}
	return train, test
}

// The implicit-feedback model learns that (nearly) everyone rates star:
// the users who have not rated it get it first when ranking by p(rated);
// ranking by predicted rating does not find it.
func TestImplicitRanksPlantedItemFirst(t *testing.T) {
	train, test := plantedRatings()
	for _, itemBased := range []bool{false, true} {
		cfg := DefaultConfig()
		cfg.Hidden, cfg.Epochs, cfg.ItemBased = 5, 4, itemBased
		cfg.Implicit = ImplicitConfig{Hidden: 5, Epochs: 30, BatchSize: 10, LearningRate: 0.05}
		m, err := Train(context.Background(), train, cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		if m.Implicit == nil || m.Ranking(RankDefault) != RankRelevant {
			t.Fatalf("item-based=%v: implicit %v, default ranking %v", itemBased, m.Implicit != nil, m.Ranking(RankDefault))
		}
		for u := range 20 {
			user := fmt.Sprint("u", u)
			recs, err := m.RecommendBy(user, 1, RankChosen, 0)
			if err != nil || recs[0].Item != "star" || !(recs[0].Score > 0.5) {
				t.Fatalf("item-based=%v: %s by p(rated): %+v, %v", itemBased, user, recs, err)
			}
		}
		chosen, err := m.EvaluateTopNBy(test, 1, 4, RankChosen)
		if err != nil || chosen.Users != 20 || chosen.NDCG != 1 {
			t.Fatalf("item-based=%v: top-1 by p(rated) %+v, %v", itemBased, chosen, err)
		}
		byRating, _ := m.EvaluateTopNBy(test, 1, 4, RankRating)
		if byRating.NDCG > 0.5 {
			t.Fatalf("item-based=%v: ranking by rating found star for most users (%+v): the test shows nothing", itemBased, byRating)
		}
	}
}

func TestRankingNamesAndFallback(t *testing.T) {
	for _, r := range []Ranking{RankDefault, RankRating, RankChosen, RankRelevant} {
		if got, err := ParseRanking(r.String()); err != nil || got != r {
			t.Fatalf("%v: %v, %v", r, got, err)
		}
	}
	if _, err := ParseRanking("best"); err == nil || !strings.Contains(err.Error(), "rating") {
		t.Fatalf("ParseRanking(best): %v", err)
	}
	train, _ := plantedRatings()
	cfg := DefaultConfig()
	cfg.Hidden, cfg.Epochs, cfg.Implicit.Hidden = 3, 1, 0
	m, err := Train(context.Background(), train, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Implicit != nil || m.Ranking(RankDefault) != RankRating {
		t.Fatalf("no implicit model: %v, default %v", m.Implicit != nil, m.Ranking(RankDefault))
	}
	recs, err := m.Recommend("u1", 3)
	if err != nil || recs[0].Score != recs[0].Predicted {
		t.Fatalf("by rating: %+v, %v", recs, err)
	}
	if _, err := m.RecommendBy("u1", 3, RankRelevant, 0); err == nil || !strings.Contains(err.Error(), "implicit") {
		t.Fatalf("RankRelevant without the implicit model: %v", err)
	}
	cfg.Implicit = DefaultImplicitConfig()
	cfg.Implicit.MaxCells = 10
	if m, err = Train(context.Background(), train, cfg, nil); err != nil || m.Implicit != nil || !strings.Contains(m.ImplicitNote, "limit") {
		t.Fatalf("over the cell limit: %v, note %q", err, m.ImplicitNote)
	}
}

// tinyConditional is a conditional model with 2 levels, 4 visibles and 2
// hidden units whose case 0 rated visibles 0 and 1 and is known to have
// rated 2 (implied); visible 3 is not in its r.
func tinyConditional() *Model {
	r := rand.New(rand.NewPCG(7, 8))
	m := &Model{Levels: []float64{1, 2}, Items: []string{"a", "b", "c", "d"}, Users: []string{"u"}, Hidden: 2,
		UserItems: [][]int32{{0, 1}}, UserLevels: [][]uint8{{1, 0}}, Implied: [][]int32{{2}}}
	rnd := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		return x
	}
	m.W, m.VisBias, m.HidBias, m.D = rnd(4*2*2), rnd(4*2), rnd(2), rnd(4*2)
	return m
}

// The conditional term's gradient: for the case's RBM given r, the exact
// derivative of log p(V | r) with respect to D[i, f] (by finite
// differences over the enumerated states) is r_i (p(h_f = 1 | V, r) -
// E[h_f | r]), with p(h | V, r) as the model computes it (hiddenMean,
// which adds D'r, implied visibles included).
func TestConditionalGradient(t *testing.T) {
	m := tinyConditional()
	K, F := 2, 2
	// logp returns log p(V | r) for the case's ratings V, and E[h | r].
	logp := func() (float64, []float64) {
		inputs := func(l0, l1 int) []float64 {
			x := make([]float64, F)
			for f := range x {
				x[f] = float64(m.HidBias[f]) + float64(m.D[0*F+f]+m.D[1*F+f]+m.D[2*F+f]) +
					float64(m.W[(0*K+l0)*F+f]) + float64(m.W[(1*K+l1)*F+f])
			}
			return x
		}
		negF := func(l0, l1 int) float64 {
			s := float64(m.VisBias[0*K+l0]) + float64(m.VisBias[1*K+l1])
			for _, x := range inputs(l0, l1) {
				s += math.Log1p(math.Exp(x))
			}
			return s
		}
		logZ, eh := math.Inf(-1), make([]float64, F)
		var ws []float64
		for l0 := range K {
			for l1 := range K {
				v := negF(l0, l1)
				ws = append(ws, v)
				logZ = math.Max(logZ, v) + math.Log1p(math.Exp(-math.Abs(logZ-v)))
			}
		}
		i := 0
		for l0 := range K {
			for l1 := range K {
				p := math.Exp(ws[i] - logZ)
				for f, x := range inputs(l0, l1) {
					eh[f] += p / (1 + math.Exp(-x))
				}
				i++
			}
		}
		return negF(int(m.UserLevels[0][0]), int(m.UserLevels[0][1])) - logZ, eh
	}
	_, eh := logp()
	h := make([]float32, F)
	m.hiddenMean(0, h)
	for i := range 4 {
		for f := range F {
			want := 0.0
			if i < 3 { // in r
				want = float64(h[f]) - eh[f]
			}
			const eps = 1e-3
			d := &m.D[i*F+f]
			old := *d
			*d = old + eps
			up, _ := logp()
			*d = old - eps
			down, _ := logp()
			*d = old
			if got := (up - down) / (2 * eps); math.Abs(got-want) > 2e-3 {
				t.Errorf("d log p / dD[%d,%d] = %.5f, want r_i (h_data - h_model) = %.5f", i, f, got, want)
			}
		}
	}
}

// One minibatch moves D by lr/B times the sum over the cases of r (h0 -
// hp), the CD estimate of that gradient, with the trainer's own positive
// and final hidden probabilities; rows outside every r do not move.
func TestConditionalUpdate(t *testing.T) {
	train := &Ratings{List: []Rating{{"u", "a", 2}, {"u", "b", 1}, {"v", "b", 2}, {"v", "c", 1}, {"w", "a", 1}}}
	implied := &Ratings{List: []Rating{{"u", "c", 0}, {"u", "a", 0}, {"v", "zz", 0}, {"w", "b", 0}, {"w", "b", 0}}}
	m, err := newModel(train, 3, false, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	m.Items = append(m.Items, "d") // a visible no case rated
	m.Implied = m.impliedPairs(implied)
	if fmt.Sprint(m.Implied) != "[[2] [] [1]]" {
		t.Fatalf("implied %v, want c for u, nothing for v (training pair, unknown item), b once for w", m.Implied)
	}
	M, K, F := len(m.Items), m.K(), 3
	r := rand.New(rand.NewPCG(9, 9))
	m.W, m.VisBias, m.HidBias, m.D = make([]float32, M*K*F), make([]float32, M*K), make([]float32, F), make([]float32, M*F)
	for i := range m.W {
		m.W[i] = float32(r.NormFloat64())
	}
	for i := range m.D {
		m.D[i] = float32(r.NormFloat64())
	}
	cfg := Config{Hidden: F, Epochs: 1, BatchSize: 3, LearningRate: 0.3, Steps: []int{1}, Seed: 1, Conditional: true}
	tr := newTrainer(m, cfg)
	tr.start()
	defer tr.stop()
	before := append([]float32(nil), m.D...)
	batch := []int{0, 1, 2}
	tr.minibatch(batch, 0, 2)
	want := append([]float32(nil), before...)
	for j, u := range batch {
		rows := append(append([]int32(nil), m.UserItems[u]...), m.Implied[u]...)
		for _, it := range rows {
			for f := range F {
				want[int(it)*F+f] += float32(cfg.LearningRate/3) * (tr.h0[j*F+f] - tr.hp[j*F+f])
			}
		}
	}
	for i := range want {
		if math.Abs(float64(want[i]-m.D[i])) > 1e-6 {
			t.Fatalf("D[%d, %d] = %v after a step from %v, want %v", i/F, i%F, m.D[i], before[i], want[i])
		}
	}
	for f := range F {
		if m.D[3*F+f] != before[3*F+f] {
			t.Fatalf("row d, in no r, moved")
		}
	}
}

// A conditional model trains, differs from the plain one, and is the
// same for the same seed.
func TestConditionalTrains(t *testing.T) {
	all := synthetic(120, 21)
	train, test := all.Split(0.2, 22)
	for _, itemBased := range []bool{false, true} {
		cfg := DefaultConfig()
		cfg.Hidden, cfg.Epochs, cfg.ItemBased, cfg.Implicit.Hidden = 8, 4, itemBased, 0
		plain, err := Train(context.Background(), train, cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Conditional, cfg.Implied = true, test
		a, err := Train(context.Background(), train, cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := Train(context.Background(), train, cfg, nil)
		ma, mb, mp := a.Evaluate(test), b.Evaluate(test), plain.Evaluate(test)
		if ma != mb || ma == mp || a.ImpliedPairs() != len(test.List) {
			t.Fatalf("item-based=%v: conditional %+v and %+v, plain %+v, %d implied pairs of %d", itemBased, ma, mb, mp, a.ImpliedPairs(), len(test.List))
		}
	}
}

// With BaselineBlend a prediction is the weighted mean of the RBM's
// expected rating and the baseline.
func TestBaselineBlend(t *testing.T) {
	train, _ := plantedRatings()
	cfg := DefaultConfig()
	cfg.Hidden, cfg.Epochs, cfg.ItemBased, cfg.Implicit.Hidden = 4, 2, false, 0
	m, err := Train(context.Background(), train, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	one := &Ratings{List: []Rating{{"u3", "i7", 4}}}
	rbmOnly := m.Evaluate(one).RMSE
	u, it := m.userIndex["u3"], m.itemIndex["i7"]
	h := make([]float32, m.Hidden)
	m.hiddenMean(u, h)
	m.BaselineBlend = 0.25
	got := m.Evaluate(one).RMSE
	want := math.Abs(0.75*m.expected(it, h) + 0.25*m.baseline(u, it) - 4)
	if rbmOnly == got || math.Abs(got-want) > 1e-9 {
		t.Fatalf("blended error %v, want %v (RBM alone %v)", got, want, rbmOnly)
	}
	if cfg.BaselineBlend = 1; cfg.Validate() == nil {
		t.Fatal("a blend of 1 is accepted")
	}
}

// An implicit-feedback RBM that cannot fit in memory is refused before the
// rating model trains (--implicit-hidden 10^8 once crashed the runtime
// after training it).
func TestImplicitTooLargeIsRefused(t *testing.T) {
	train, _ := plantedRatings()
	cfg := DefaultConfig()
	cfg.Hidden, cfg.Epochs, cfg.Implicit.Hidden, cfg.Implicit.Epochs = 3, 1, 20000, 1
	t.Setenv(memguard.EnvLimit, "4M")
	epochs := 0
	_, err := Train(context.Background(), train, cfg, func(*Model, EpochStats) error { epochs++; return nil })
	if !errors.Is(err, memguard.ErrTooLarge) || !strings.Contains(err.Error(), "20000 hidden units") || epochs != 0 {
		t.Fatalf("implicit RBM beyond the memory limit: %v after %d epochs", err, epochs)
	}
	cfg.Implicit.MaxCells = 10 // no implicit model: nothing to refuse
	if _, err := Train(context.Background(), train, cfg, nil); err != nil {
		t.Fatalf("over the cell limit: %v", err)
	}
}

// NaN passes every comparison: Validate once let a NaN momentum or weight
// decay (and an infinite learning rate) through, to train and then report
// "training diverged; lower the learning rate".
func TestConfigRejectsNaN(t *testing.T) {
	for name, bad := range map[string]func(*Config){
		"momentum NaN":              func(c *Config) { c.Momentum = math.NaN() },
		"weight decay NaN":          func(c *Config) { c.WeightDecay = math.NaN() },
		"weight decay Inf":          func(c *Config) { c.WeightDecay = math.Inf(1) },
		"learning rate Inf":         func(c *Config) { c.LearningRate = math.Inf(1) },
		"implicit weight decay NaN": func(c *Config) { c.Implicit.WeightDecay = math.NaN() },
	} {
		cfg := DefaultConfig()
		bad(&cfg)
		if cfg.Validate() == nil {
			t.Errorf("%s accepted", name)
		}
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
}
