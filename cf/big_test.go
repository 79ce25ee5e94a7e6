package cf

import (
	"context"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

// bigCaseRatings has one user who rated 6,000 items (a big case, cut into
// segments) and 50 users with 20 ratings each.
func bigCaseRatings() *Ratings {
	r := rand.New(rand.NewPCG(7, 7))
	train := &Ratings{}
	for it := range 6000 {
		train.List = append(train.List, Rating{User: "big", Item: strconv.Itoa(it), Value: float64(1 + r.IntN(5))})
	}
	for u := range 50 {
		for _, it := range r.Perm(6000)[:20] {
			train.List = append(train.List, Rating{User: strconv.Itoa(u), Item: strconv.Itoa(it), Value: float64(1 + r.IntN(5))})
		}
	}
	return train
}

// A big case's CD-1 pass, its sums split into segments that the workers
// share, gives what one worker's pass gives, up to the order of the sums.
func TestBigCaseMatchesOneWorker(t *testing.T) {
	m, err := newModel(bigCaseRatings(), 16, false, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	M, K, F := len(m.Items), m.K(), m.Hidden
	m.W, m.VisBias, m.HidBias, m.D = make([]float32, M*K*F), make([]float32, M*K), make([]float32, F), make([]float32, M*F)
	for _, p := range [][]float32{m.W, m.VisBias, m.HidBias, m.D} {
		for i := range p {
			p[i] = float32(0.05 * r.NormFloat64())
		}
	}
	big := m.userIndex["big"]
	n := len(m.UserItems[big])
	if n < bigCase {
		t.Fatalf("the big case has %d ratings, fewer than %d", n, bigCase)
	}
	cfg := DefaultConfig()
	cfg.Hidden, cfg.Conditional = F, true
	tr := newTrainer(m, cfg)
	tr.start()
	defer tr.stop()
	tr.batch, tr.e, tr.T = []int{big}, 0, 1
	tr.h0, tr.hp = make([]float32, F), make([]float32, F)
	tr.pOff = []int{0, n * K}
	tr.probs = make([]float32, n*K)
	tr.cdBig(0)

	w := tr.work[0]
	w.src.Seed(cfg.Seed^uint64(1)<<32, uint64(big))
	h0, hp, probs := make([]float32, F), make([]float32, F), make([]float32, n*K)
	m.cdUser(w, big, 1, w.r, h0, hp, probs)
	worst := 0.0
	for _, c := range [][2][]float32{{tr.h0, h0}, {tr.hp, hp}, {tr.probs, probs}} {
		for i := range c[0] {
			worst = max(worst, math.Abs(float64(c[0][i]-c[1][i])))
		}
	}
	if worst > 1e-4 {
		t.Fatalf("segmented and one-worker passes differ by %g", worst)
	}
	t.Logf("largest difference %g", worst)
}

// A model with big cases trains with CD-T > 1 (levels sampled per
// segment), the same for the same seed, with finite weights.
func TestBigCaseTrains(t *testing.T) {
	train := bigCaseRatings()
	cfg := DefaultConfig()
	cfg.Hidden, cfg.Epochs, cfg.Steps, cfg.ItemBased, cfg.Implicit.Hidden = 8, 2, []int{3}, false, 0
	a, err := Train(context.Background(), train, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Train(context.Background(), train, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a.W {
		if a.W[i] != b.W[i] || math.IsNaN(float64(a.W[i])) {
			t.Fatalf("weight %d: %v and %v", i, a.W[i], b.W[i])
		}
	}
}
