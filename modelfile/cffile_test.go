package modelfile

import (
	"context"
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
