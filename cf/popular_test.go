package cf

import (
	"math"
	"strings"
	"testing"
)

// TestPopularTopNByHand checks the most-popular metrics on a case small
// enough to work out by hand, for user- and item-based models.
func TestPopularTopNByHand(t *testing.T) {
	// Training counts: a 3, b 2, c 1, d 1; so the ranking is a, b, c, d
	// (c before d: a tie, by id).
	train := &Ratings{List: []Rating{
		{"u1", "a", 5}, {"u1", "b", 3},
		{"u2", "a", 4}, {"u2", "c", 2},
		{"u3", "a", 1}, {"u3", "b", 5}, {"u3", "d", 4},
	}}
	// Relevant (>= 4): u1 {c, d} (candidates c, d), u2 {d} (candidates
	// b, d), u3 {c} (candidate c); u4 is unknown and u5 has nothing relevant.
	test := &Ratings{List: []Rating{
		{"u1", "c", 5}, {"u1", "d", 4},
		{"u2", "b", 2}, {"u2", "d", 5},
		{"u3", "c", 4},
		{"u4", "a", 5},
		{"u5", "a", 1},
	}}
	// At 1: u1 [c] hit, u2 [b] miss, u3 [c] hit.
	// At 2: u1 [c d] 2 hits, u2 [b d] hit at 2, u3 [c] 1 hit.
	want := map[int]TopN{
		1: {N: 1, Users: 3, Precision: 2.0 / 3, Recall: (0.5 + 0 + 1) / 3, NDCG: 2.0 / 3},
		2: {N: 2, Users: 3, Precision: (1 + 0.5 + 0.5) / 3, Recall: 1, NDCG: (1 + 1/math.Log2(3) + 1) / 3},
	}
	for _, itemBased := range []bool{false, true} {
		m, err := newModel(train, 1, itemBased, false, 0)
		if err != nil {
			t.Fatal(err)
		}
		m.ItemBased = itemBased
		if ids := m.popularIDs(); strings.Join(ids, "") != "abcd" {
			t.Fatalf("item-based=%v: popular order %v", itemBased, ids)
		}
		for n, w := range want {
			got := m.EvaluatePopularTopN(test, n, 4)
			if got.N != w.N || got.Users != w.Users || math.Abs(got.Precision-w.Precision) > 1e-12 ||
				math.Abs(got.Recall-w.Recall) > 1e-12 || math.Abs(got.NDCG-w.NDCG) > 1e-12 {
				t.Errorf("item-based=%v, N=%d: %+v, want %+v", itemBased, n, got, w)
			}
		}
		recs, err := m.Popular(3)
		if err != nil || len(recs) != 3 || recs[0].Item != "a" || recs[1].Item != "b" || recs[2].Item != "c" {
			t.Fatalf("item-based=%v: Popular(3) = %+v, %v", itemBased, recs, err)
		}
		// a's baseline: mean 24/7 plus a's offset, (10-3*24/7)/(3+25) in a
		// user-based model; in an item-based one a is a case, with a case's
		// offset.
		mean := 24.0 / 7
		wantA := mean + (10-3*mean)/28
		if itemBased {
			wantA = mean + float64(m.UserOffset[0])
		}
		if math.Abs(recs[0].Predicted-wantA) > 1e-5 {
			t.Fatalf("item-based=%v: baseline of a %v, want %v", itemBased, recs[0].Predicted, wantA)
		}
	}
}

func (m *Model) popularIDs() []string {
	var ids []string
	for _, it := range m.popularOrder() {
		ids = append(ids, m.itemID(it))
	}
	return ids
}

// TestPopularBesideModel: on the synthetic data the model's ranking beats
// popularity, and both are computed over the same users.
func TestPopularBesideModel(t *testing.T) {
	all := synthetic(200, 8)
	train, test := all.Split(0.2, 9)
	m := trainSmall(t, train, false)
	mod, pop := m.EvaluateTopN(test, 5, 4), m.EvaluatePopularTopN(test, 5, 4)
	if mod.Users != pop.Users || mod.Users == 0 || !(mod.NDCG > pop.NDCG) {
		t.Fatalf("model %+v, popular %+v", mod, pop)
	}
}

func TestRecommendFor(t *testing.T) {
	all := synthetic(120, 5)
	m := trainSmall(t, all, false)
	given := map[string]float64{"not-an-item": 3}
	for _, r := range all.List {
		if r.User == "u3" {
			given[r.Item] = r.Value
		}
	}
	want, err := m.Recommend("u3", 10)
	if err != nil {
		t.Fatal(err)
	}
	got, unknown, err := m.RecommendFor(given, 10)
	if err != nil || unknown != 1 || len(got) != len(want) {
		t.Fatalf("RecommendFor: %d recs, %d unknown, %v", len(got), unknown, err)
	}
	for i := range got {
		if math.Abs(got[i].Predicted-want[i].Predicted) > 1e-4 {
			t.Fatalf("rank %d: fold-in %+v, trained %+v", i+1, got[i], want[i])
		}
	}
	// Ratings off the scale go to the nearest level: 4.4 is 4, 9 is 5.
	if m.Levels[m.nearestLevel(4.4)] != 4 || m.Levels[m.nearestLevel(9)] != 5 || m.Levels[m.nearestLevel(-3)] != 1 {
		t.Fatal("nearest level")
	}
	for _, c := range []struct {
		ratings map[string]float64
		want    string
	}{
		{nil, "no ratings"},
		{map[string]float64{"x": 4, "y": 2}, "none of the 2 rated items is known"},
		{map[string]float64{"i1": math.NaN()}, "not a number"},
	} {
		if _, _, err := m.RecommendFor(c.ratings, 5); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.ratings, err, c.want)
		}
	}
	ib := trainSmall(t, synthetic(40, 6), true)
	if _, _, err := ib.RecommendFor(given, 5); err == nil || !strings.Contains(err.Error(), "user-based") {
		t.Fatalf("item-based fold-in: %v", err)
	}
}
