package cf

import (
	"context"
	"math"
	"runtime"
	"slices"
	"testing"
)

func TestSyntheticShape(t *testing.T) {
	cfg := SynthConfig{Users: 3000, Items: 2000, Ratings: 300000, Seed: 1}
	r := Synthetic(cfg)
	if len(r.List) != cfg.Ratings {
		t.Fatalf("%d ratings, want %d", len(r.List), cfg.Ratings)
	}
	perUser, perItem := map[string]int{}, map[string]int{}
	levels := map[float64]int{}
	seen := map[[2]string]bool{}
	sum := 0.0
	for _, x := range r.List {
		perUser[x.User]++
		perItem[x.Item]++
		levels[x.Value]++
		sum += x.Value
		if seen[[2]string{x.User, x.Item}] {
			t.Fatalf("user %s rates item %s twice", x.User, x.Item)
		}
		seen[[2]string{x.User, x.Item}] = true
	}
	if len(perUser) != cfg.Users || len(perItem) > cfg.Items || len(perItem) < cfg.Items/2 {
		t.Fatalf("%d users (want %d), %d items (want at most %d)", len(perUser), cfg.Users, len(perItem), cfg.Items)
	}
	counts := slices.Collect(func(yield func(int) bool) {
		for _, n := range perUser {
			if !yield(n) {
				return
			}
		}
	})
	slices.Sort(counts)
	// At least 20 each, heavy-tailed: the median user well below the mean,
	// the heaviest many times the median.
	mean := float64(cfg.Ratings) / float64(cfg.Users)
	if counts[0] < 20 || !(float64(counts[len(counts)/2]) < 0.75*mean) || counts[len(counts)-1] < 10*counts[len(counts)/2] {
		t.Fatalf("user counts: min %d, median %d, max %d (mean %.0f)", counts[0], counts[len(counts)/2], counts[len(counts)-1], mean)
	}
	// Popularity: the top item is rated by a large share of the users and
	// many times the median item; the tail has items with few ratings.
	pop := slices.Sorted(func(yield func(int) bool) {
		for _, n := range perItem {
			if !yield(n) {
				return
			}
		}
	})
	top, med := pop[len(pop)-1], pop[len(pop)/2]
	if !(top > cfg.Users/4) || top < 20*med || pop[0] > med/4 {
		t.Fatalf("item counts: top %d, median %d, min %d", top, med, pop[0])
	}
	// Half stars 0.5 to 5, all used, 4 the most common, mean near 3.5.
	if len(levels) != 10 {
		t.Fatalf("levels %v", levels)
	}
	for v, n := range levels {
		if v < 0.5 || v > 5 || v != math.Round(2*v)/2 {
			t.Fatalf("rating %v", v)
		}
		if n > levels[4] {
			t.Fatalf("level %v (%d) more common than 4 (%d)", v, n, levels[4])
		}
	}
	if m := sum / float64(len(r.List)); m < 3.3 || m > 3.8 {
		t.Fatalf("mean rating %.3f", m)
	}
}

func TestSyntheticDeterministic(t *testing.T) {
	cfg := SynthConfig{Users: 500, Items: 300, Ratings: 30000, Seed: 7}
	a := Synthetic(cfg)
	prev := runtime.GOMAXPROCS(1)
	b := Synthetic(cfg)
	runtime.GOMAXPROCS(prev)
	if !slices.Equal(a.List, b.List) {
		t.Fatal("same seed, different ratings (or they depend on GOMAXPROCS)")
	}
	cfg.Seed = 8
	if c := Synthetic(cfg); slices.Equal(a.List, c.List) {
		t.Fatal("different seeds, same ratings")
	}
}

// The ratings have structure beyond the global mean: the baseline (user and
// item offsets) and an RBM trained briefly both predict better.
func TestSyntheticLearnable(t *testing.T) {
	all := Synthetic(SynthConfig{Users: 400, Items: 300, Ratings: 40000, Seed: 3})
	train, test := all.Split(0.1, 4)
	cfg := DefaultConfig()
	cfg.Hidden, cfg.Epochs = 10, 3
	m, err := Train(context.Background(), train, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	se, sb := 0.0, 0.0
	for _, r := range test.List {
		se += (r.Value - m.Mean) * (r.Value - m.Mean)
		d := m.baseline(m.userIndexOf(r), m.itemIndexOf(r)) - r.Value
		sb += d * d
	}
	mean, base := math.Sqrt(se/float64(len(test.List))), math.Sqrt(sb/float64(len(test.List)))
	if met := m.Evaluate(test); !(met.RMSE < 0.95*mean) || !(base < 0.85*mean) {
		t.Fatalf("RMSE %.3f, baseline %.3f, predicting the mean %.3f", met.RMSE, base, mean)
	}
}

func TestSyntheticSmallAndBad(t *testing.T) {
	// Fewer ratings than 20 per user: the minimum drops; users can be
	// saturated (every item rated).
	r := Synthetic(SynthConfig{Users: 10, Items: 5, Ratings: 50, Seed: 1})
	if len(r.List) != 50 {
		t.Fatalf("%d ratings", len(r.List))
	}
	for _, bad := range []SynthConfig{{}, {Users: 1, Items: 1, Ratings: 2}, {Users: -1, Items: 3, Ratings: 3}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%+v accepted", bad)
				}
			}()
			Synthetic(bad)
		}()
	}
}
