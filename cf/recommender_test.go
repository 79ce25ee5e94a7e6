package cf

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
)

// twoKinds returns ratings of 120 users of two kinds over 30 items: even
// users rate items 0-14 high and 15-29 low, odd users the other way round.
func twoKinds() *Ratings {
	r := rand.New(rand.NewPCG(1, 2))
	var list []Rating
	for u := 0; u < 120; u++ {
		for _, it := range r.Perm(30)[:15] {
			v := 1 + r.IntN(2)
			if (it < 15) == (u%2 == 0) {
				v = 4 + r.IntN(2)
			}
			list = append(list, Rating{strconv.Itoa(u), strconv.Itoa(it), float64(v)})
		}
	}
	return &Ratings{List: list}
}

// trainTwoKinds trains a small model of each orientation on twoKinds.
func trainTwoKinds(t *testing.T, itemBased bool) *Model {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Hidden, cfg.Epochs, cfg.LearningRate, cfg.ItemBased = 10, 25, 0.1, itemBased
	cfg.Implicit.Hidden, cfg.Implicit.Epochs = 8, 10
	if !itemBased {
		cfg.BaselineBlend = UserBasedBlend
	}
	m, err := Train(context.Background(), twoKinds(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestRecommenderMatchesModel checks that a known user's profile with no new
// ratings recommends exactly what Model.Recommend does, and that a
// user-based fold-in matches RecommendFor.
func TestRecommenderMatchesModel(t *testing.T) {
	for _, itemBased := range []bool{false, true} {
		m := trainTwoKinds(t, itemBased)
		r, err := NewRecommender(m)
		if err != nil {
			t.Fatal(err)
		}
		for _, user := range []string{"0", "1", "77"} {
			want, err := m.Recommend(user, 7)
			if err != nil {
				t.Fatal(err)
			}
			p, err := r.Profile(user, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Recommend(7); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("item-based=%v user %s:\n got %v\nwant %v", itemBased, user, got, want)
			}
		}
		given := map[string]float64{"0": 5, "1": 4.6, "16": 1, "17": 2, "nope": 3}
		p, err := r.Profile("newcomer", given)
		if err != nil || !p.New() || p.Unknown() != 1 {
			t.Fatalf("item-based=%v: new user profile %v, %v", itemBased, p, err)
		}
		got := p.Recommend(6)
		if !itemBased {
			want, unknown, err := m.RecommendFor(given, 6)
			if err != nil || unknown != 1 || fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("fold-in: got %v\nwant %v (%d, %v)", got, want, unknown, err)
			}
		}
		// The newcomer likes the even users' items: most of the top six
		// should be among items 2-14.
		inA := 0
		for _, rec := range got {
			if n, _ := strconv.Atoi(rec.Item); n < 15 {
				inA++
			}
			if rec.Item == "0" || rec.Item == "1" || rec.Item == "16" || rec.Item == "17" {
				t.Errorf("item-based=%v: recommended %s, which the user rated", itemBased, rec.Item)
			}
		}
		if inA < 5 {
			t.Errorf("item-based=%v: only %d of %v among the items the newcomer's kind likes", itemBased, inA, got)
		}
		lo, hi := p.Predict("2")
		if hi != nil {
			t.Fatal(hi)
		}
		low, _ := p.Predict("20")
		if !(lo > low) {
			t.Errorf("item-based=%v: predicted %.2f for a liked-kind item, %.2f for the other", itemBased, lo, low)
		}
	}
}

// TestRecommenderErrors checks the errors a service maps to 404s.
func TestRecommenderErrors(t *testing.T) {
	for _, itemBased := range []bool{false, true} {
		r, err := NewRecommender(trainTwoKinds(t, itemBased))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Profile("stranger", nil); !errors.Is(err, ErrUnknownUser) {
			t.Errorf("unknown user: %v", err)
		}
		if _, err := r.Profile("stranger", map[string]float64{"nope": 4}); !errors.Is(err, ErrUnknownUser) {
			t.Errorf("unknown user with unknown items only: %v", err)
		}
		p, _ := r.Profile("3", nil)
		if _, err := p.Predict("nope"); !errors.Is(err, ErrUnknownItem) {
			t.Errorf("unknown item: %v", err)
		}
		if _, err := r.Similar("nope", 3); !errors.Is(err, ErrUnknownItem) {
			t.Errorf("similar of an unknown item: %v", err)
		}
		if len(r.Popular(3)) != 3 {
			t.Error("popular")
		}
	}
}

// TestSimilar checks that an item's neighbours are mostly of its kind.
func TestSimilar(t *testing.T) {
	for _, itemBased := range []bool{false, true} {
		r, err := NewRecommender(trainTwoKinds(t, itemBased))
		if err != nil {
			t.Fatal(err)
		}
		nb, err := r.Similar("3", 8)
		if err != nil || len(nb) != 8 {
			t.Fatal(nb, err)
		}
		same := 0
		for i, n := range nb {
			if k, _ := strconv.Atoi(n.Item); k < 15 {
				same++
			}
			if n.Item == "3" || (i > 0 && n.Similarity > nb[i-1].Similarity) || n.Similarity > 1+1e-6 || n.Similarity < -1-1e-6 {
				t.Fatalf("item-based=%v: %v", itemBased, nb)
			}
		}
		if same < 6 {
			t.Errorf("item-based=%v: only %d of %v of item 3's kind", itemBased, same, nb)
		}
	}
}

// TestRecommenderConcurrent reads one Recommender from many goroutines (a
// data race here fails under -race).
func TestRecommenderConcurrent(t *testing.T) {
	m := trainTwoKinds(t, true)
	m.userIndex, m.itemIndex = nil, nil // as a model read from a file
	m.indexOnce = sync.Once{}
	r, err := NewRecommender(m)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 20 {
				user := strconv.Itoa((g*20 + i) % 120)
				p, err := r.Profile(user, map[string]float64{"5": 4})
				if err != nil {
					t.Error(err)
					return
				}
				p.Recommend(5)
				r.Similar("4", 3)
				m.Recommend(user, 3)
			}
		})
	}
	wg.Wait()
}
