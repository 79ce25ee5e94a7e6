package dbn_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/harmonium-ml/harmonium/dbn"
	"github.com/harmonium-ml/harmonium/mat32"
	"github.com/harmonium-ml/harmonium/modelfile"
	"github.com/harmonium-ml/harmonium/rbm"
)

// stripes returns n noisy 16-pixel samples of two classes (first or second
// half on) and their labels.
func stripes(n int) (*mat32.Dense, []int) {
	r := rand.New(rand.NewPCG(1, 1))
	x := mat32.New(n, 16)
	y := make([]int, n)
	for i := range n {
		y[i] = r.IntN(2)
		for j := range 16 {
			on := (j < 8) == (y[i] == 0)
			if on != (r.Float64() < 0.1) {
				x.Set(i, j, 1)
			}
		}
	}
	return x, y
}

func resumeConfig(persistent bool) dbn.Config {
	cfg := dbn.DefaultConfig(dbn.Shape{Visible: 16, Hidden: []int{12, 10, 8}, Labels: 2}, 200, 3)
	for i := range cfg.Layers {
		cfg.Layers[i].Train.Epochs = 3
		cfg.Layers[i].Train.BatchSize = 25
		cfg.Layers[i].Train.Persistent = persistent
	}
	return cfg
}

// TestResumeEqualsUninterrupted interrupts training at every epoch of
// every layer in turn, saves a checkpoint, loads it and resumes; the result
// must equal an uninterrupted run bit for bit.
func TestResumeEqualsUninterrupted(t *testing.T) {
	x, y := stripes(200)
	for _, persistent := range []bool{false, true} {
		cfg := resumeConfig(persistent)
		want, err := dbn.Train(context.Background(), x, y, cfg, dbn.Hooks{})
		if err != nil {
			t.Fatal(err)
		}
		for stopLayer := range 3 {
			for stopEpoch := 1; stopEpoch <= 3; stopEpoch++ {
				if stopLayer == 2 && stopEpoch == 3 {
					continue // the run would be over
				}
				got := interruptAndResume(t, x, y, cfg, stopLayer, stopEpoch)
				same(t, want, got, persistent, stopLayer, stopEpoch)
			}
		}
	}
}

func interruptAndResume(t *testing.T, x *mat32.Dense, y []int, cfg dbn.Config, stopLayer, stopEpoch int) *dbn.DBN {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ck.safetensors")
	tr, err := dbn.NewTrainer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	save := func() error { return modelfile.SaveDBN(path, tr.DBN, len(cfg.Layers), nil, &tr.State) }
	hooks := dbn.Hooks{
		Epoch: func(layer int, s rbm.EpochStats) error {
			if err := save(); err != nil {
				return err
			}
			if layer == stopLayer && s.Epoch == stopEpoch {
				cancel()
			}
			return nil
		},
		Layer: func(int) error { return save() },
	}
	if _, err := tr.Fit(ctx, x, y, hooks); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v", err)
	}
	d, _, total, st, err := modelfile.LoadDBN(path)
	if err != nil || st == nil || total != 3 {
		t.Fatalf("load checkpoint: %v (state %v, total %d)", err, st, total)
	}
	tr2, err := dbn.Resume(cfg, d, *st)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tr2.Fit(context.Background(), x, y, dbn.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func same(t *testing.T, want, got *dbn.DBN, persistent bool, layer, epoch int) {
	t.Helper()
	for i, m := range want.Layers {
		g := got.Layers[i]
		for _, p := range [][2][]float32{{m.W.Data, g.W.Data}, {m.VisBias, g.VisBias}, {m.HidBias, g.HidBias}} {
			for k := range p[0] {
				if p[0][k] != p[1][k] {
					t.Fatalf("persistent %v, stopped at layer %d epoch %d: layer %d differs from the uninterrupted run at %d", persistent, layer, epoch, i, k)
				}
			}
		}
	}
}

func TestResumeRejectsOtherShapes(t *testing.T) {
	x, y := stripes(100)
	cfg := resumeConfig(false)
	cfg.Layers[2].Train.Epochs = 1
	d, err := dbn.Train(context.Background(), x, y, cfg, dbn.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	other := dbn.DefaultConfig(dbn.Shape{Visible: 16, Hidden: []int{12, 9, 8}, Labels: 2}, 100, 3)
	if _, err := dbn.Resume(other, d, dbn.State{Done: 2}); !errors.Is(err, dbn.ErrShape) {
		t.Errorf("12-9-8 from a 12-10-8 checkpoint: %v", err)
	}
}
