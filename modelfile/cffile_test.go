package modelfile

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/harmonium-ml/harmonium/cf"
)

func TestCFRoundTrip(t *testing.T) {
	dir := t.TempDir()
	ratings := filepath.Join(dir, "r.csv")
	os.WriteFile(ratings, []byte("a,x,5\na,y,1\nb,x,4\nb,z,2\nc,y,1\nc,z,5\n"), 0o644)
	train, err := cf.ReadRatings(ratings)
	if err != nil {
		t.Fatal(err)
	}
	for _, itemBased := range []bool{false, true} {
		cfg := cf.DefaultConfig()
		cfg.Hidden, cfg.Epochs, cfg.ItemBased = 3, 2, itemBased
		m, err := cf.Train(context.Background(), train, cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, "m.safetensors")
		if err := SaveCF(p, m, map[string]string{"seed": "1"}); err != nil {
			t.Fatal(err)
		}
		got, meta, err := LoadCF(p)
		if err != nil {
			t.Fatal(err)
		}
		if meta["format"] != FormatCF || got.ItemBased != itemBased || meta["seed"] != "1" {
			t.Fatalf("meta %v", meta)
		}
		test := &cf.Ratings{List: []cf.Rating{{User: "a", Item: "z", Value: 2}, {User: "c", Item: "x", Value: 4}}}
		if a, b := m.Evaluate(test), got.Evaluate(test); a != b {
			t.Fatalf("item-based=%v: predictions differ after a round trip: %+v vs %+v", itemBased, a, b)
		}
		ra, _ := m.Recommend("a", 1)
		rb, _ := got.Recommend("a", 1)
		if ra[0] != rb[0] {
			t.Fatalf("recommendations differ after a round trip")
		}
	}
	rbmPath := filepath.Join(dir, "rbm.safetensors")
	if err := SaveRBM(rbmPath, sample(), nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadCF(rbmPath); err == nil || !strings.Contains(err.Error(), "not a collaborative-filtering") {
		t.Fatalf("RBM file as a CF model: %v", err)
	}
	if _, _, _, err := LoadRBM(filepath.Join(dir, "m.safetensors")); err == nil || !strings.Contains(err.Error(), "softmax visible units") {
		t.Fatalf("CF file as an RBM: %v", err)
	}
}

// A conditional model with implied pairs and an implicit-feedback part
// round-trips: the same predictions, rankings and parts; a file with only
// some of the implicit tensors is refused.
func TestCFRoundTripConditionalImplicit(t *testing.T) {
	dir := t.TempDir()
	var list []cf.Rating
	for u := range 30 {
		for i := range 12 {
			if (u+i)%3 != 0 {
				list = append(list, cf.Rating{User: fmt.Sprint("u", u), Item: fmt.Sprint("i", i), Value: float64(1 + (u*i)%5)})
			}
		}
	}
	train := &cf.Ratings{List: list}
	implied := &cf.Ratings{List: []cf.Rating{{User: "u0", Item: "i0"}, {User: "u3", Item: "i6"}}}
	for _, itemBased := range []bool{false, true} {
		cfg := cf.DefaultConfig()
		cfg.Hidden, cfg.Epochs, cfg.ItemBased, cfg.Conditional, cfg.Implied = 4, 2, itemBased, true, implied
		cfg.Implicit.Hidden, cfg.Implicit.Epochs = 3, 2
		m, err := cf.Train(context.Background(), train, cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, "m.safetensors")
		if err := SaveCF(p, m, nil); err != nil {
			t.Fatal(err)
		}
		got, _, err := LoadCF(p)
		if err != nil {
			t.Fatal(err)
		}
		if got.D == nil || got.Implicit == nil || got.ImpliedPairs() != 2 || got.Implicit.Hidden != 3 {
			t.Fatalf("item-based=%v: D %v, implicit %v, %d implied pairs", itemBased, got.D != nil, got.Implicit != nil, got.ImpliedPairs())
		}
		test := &cf.Ratings{List: []cf.Rating{{User: "u0", Item: "i0", Value: 5}, {User: "u3", Item: "i6", Value: 4}}}
		if a, b := m.Evaluate(test), got.Evaluate(test); a != b {
			t.Fatalf("item-based=%v: predictions differ: %+v vs %+v", itemBased, a, b)
		}
		for _, by := range []cf.Ranking{cf.RankRelevant, cf.RankChosen} {
			ra, _ := m.RecommendBy("u0", 3, by, 0)
			rb, err := got.RecommendBy("u0", 3, by, 0)
			if err != nil || fmt.Sprint(ra) != fmt.Sprint(rb) {
				t.Fatalf("item-based=%v, %v: %v vs %v (%v)", itemBased, by, ra, rb, err)
			}
		}
	}
	f, err := Read(filepath.Join(dir, "m.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	var ts []Tensor
	for name, x := range f.Tensors {
		if name != tImplicitHid {
			ts = append(ts, x)
		}
	}
	bad := filepath.Join(dir, "bad.safetensors")
	if err := Write(bad, ts, f.Meta); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadCF(bad); err == nil || !strings.Contains(err.Error(), "implicit") {
		t.Fatalf("a file missing %s: %v", tImplicitHid, err)
	}
}
