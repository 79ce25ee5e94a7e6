package dbn

import (
	"context"
	"testing"

	"github.com/harmonium-ml/harmonium/mat32"
	"github.com/harmonium-ml/harmonium/rbm"
)

// TestUpDown fine-tunes a greedily trained labelled DBN on bars: the
// generative weights untie, the data's wake-phase prediction error falls,
// the same seed gives the same network, and dreams of each class still
// look like it to the classifier.
func TestUpDown(t *testing.T) {
	if testing.Short() {
		t.Skip("trains for a few seconds")
	}
	x, y := bars(1500, 2)
	d, err := Train(context.Background(), x, y, smallConfig([]int{30, 40}, 3, 40), Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	before := d.Clone()
	cfg := UpDownConfig{Epochs: 8, BatchSize: 50, LearningRate: 0.05, TopSteps: 3, Seed: 5}
	var errs []float64
	if err := d.UpDown(context.Background(), x, y, cfg, func(s UpDownStats) error { errs = append(errs, s.WakeError); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(d.Gen) != 1 || d.Validate() != nil {
		t.Fatalf("%d generative layers, validate: %v", len(d.Gen), d.Validate())
	}
	if !(errs[len(errs)-1] < errs[0]) {
		t.Errorf("wake prediction error per epoch %v: not falling", errs)
	}
	same := 0
	for i, v := range d.Gen[0].W.Data {
		if v == d.Layers[0].W.Data[i] {
			same++
		}
	}
	if same == len(d.Gen[0].W.Data) {
		t.Error("generative and recognition weights stayed tied")
	}
	again := before.Clone()
	if err := again.UpDown(context.Background(), x, y, cfg, nil); err != nil {
		t.Fatal(err)
	}
	for i, v := range again.Gen[0].W.Data {
		if v != d.Gen[0].W.Data[i] {
			t.Fatal("the same seed gave different generative weights")
		}
	}
	// Down uses the generative weights.
	h, _ := d.Transform(x.Slice(0, 5), 1)
	a, _ := d.Down(h, 1, nil)
	b, _ := before.Down(h, 1, nil)
	if mat32Equal(a, b) {
		t.Error("Down ignored the generative weights")
	}
	for label := range 3 {
		v, err := d.Dream(context.Background(), label, 50, 200, 4, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := d.Classify(v)
		n := 0
		for _, g := range got {
			if g == label {
				n++
			}
		}
		if n < 25 {
			t.Errorf("after up-down, label %d: %d of 50 dreams classified as it", label, n)
		}
	}
	plain, err := New([]*rbm.RBM{randomRBM(x.Cols, 4, 1, 1), randomRBM(4, 3, 1, 2)}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := plain.UpDown(context.Background(), x, y, cfg, nil); err == nil {
		t.Error("up-down on a DBN without labels")
	}
}

func mat32Equal(a, b *mat32.Dense) bool {
	if a.Rows != b.Rows || a.Cols != b.Cols {
		return false
	}
	for i, v := range a.Data {
		if v != b.Data[i] {
			return false
		}
	}
	return true
}
