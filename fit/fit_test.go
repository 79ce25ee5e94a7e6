package fit

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

// recorder is a trainer that records what the driver asks of it.
type recorder struct {
	begun   []int
	batches [][]int
	ended   []Epoch
	loss    func(epoch, batch int) float64
	cancel  func()
	epoch   int
	failAt  string
}

func (r *recorder) BeginEpoch(e int) error {
	r.begun, r.epoch = append(r.begun, e), e
	if r.failAt == "begin" {
		return errors.New("begin failed")
	}
	return nil
}

func (r *recorder) Step(idx []int) (float64, error) {
	r.batches = append(r.batches, slices.Clone(idx))
	if r.cancel != nil {
		r.cancel()
	}
	if r.failAt == "step" {
		return 0, errors.New("step failed")
	}
	if r.loss != nil {
		return r.loss(r.epoch, len(r.batches)), nil
	}
	return float64(len(idx)), nil
}

func (r *recorder) EndEpoch(e Epoch) error {
	r.ended = append(r.ended, e)
	if r.failAt == "end" {
		return errors.New("end failed")
	}
	return nil
}

func TestRunOrdersBatchesAndResumes(t *testing.T) {
	r := &recorder{}
	var progress [][3]int
	cfg := Config{Epochs: 3, BatchSize: 4, Seed: 9, Batch: func(e, d, n int) { progress = append(progress, [3]int{e, d, n}) }}
	if err := Run(context.Background(), cfg, 10, 1, r); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.begun, []int{1, 2}) || len(r.ended) != 2 || r.ended[1].Epoch != 2 {
		t.Fatalf("resumed after 1 epoch of 3: began %v, ended %+v", r.begun, r.ended)
	}
	if len(r.batches) != 6 || len(r.batches[2]) != 2 || !slices.Equal(progress[2][:], []int{2, 3, 3}) {
		t.Fatalf("batches %v, progress %v", r.batches, progress)
	}
	for e := 1; e <= 2; e++ {
		want := make([]int, 10)
		Shuffle(want, 9, e)
		got := slices.Concat(r.batches[3*(e-1) : 3*e]...)
		if !slices.Equal(got, want) {
			t.Fatalf("epoch %d visits %v, want the seeded shuffle %v", e, got, want)
		}
		sorted := slices.Sorted(slices.Values(got))
		for i, x := range sorted {
			if x != i {
				t.Fatalf("epoch %d does not visit every sample once: %v", e, got)
			}
		}
		if r.ended[e-1].Loss != 1 { // Step returns the batch size: mean loss 1
			t.Fatalf("epoch %d mean loss %g, want 1", e, r.ended[e-1].Loss)
		}
	}
	a, b := make([]int, 10), make([]int, 10)
	Shuffle(a, 9, 1)
	Shuffle(b, 9, 2)
	if slices.Equal(a, b) {
		t.Fatal("two epochs have the same order")
	}
	// A custom order replaces the shuffle.
	r = &recorder{}
	cfg = Config{Epochs: 1, BatchSize: 10, Order: func(e int, perm []int) {
		for i := range perm {
			perm[i] = len(perm) - 1 - i
		}
	}}
	if err := Run(context.Background(), cfg, 5, 0, r); err != nil || !slices.Equal(r.batches[0], []int{4, 3, 2, 1, 0}) {
		t.Fatalf("custom order: %v, %v", r.batches, err)
	}
}

func TestRunStopsOnCancelErrorsAndDivergence(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r := &recorder{cancel: cancel}
	if err := Run(ctx, Config{Epochs: 2, BatchSize: 2}, 10, 0, r); !errors.Is(err, context.Canceled) || len(r.batches) != 1 || len(r.ended) != 0 {
		t.Fatalf("cancelled: %v after %d batches, %d epochs", err, len(r.batches), len(r.ended))
	}
	for _, where := range []string{"begin", "step", "end"} {
		r := &recorder{failAt: where}
		if err := Run(context.Background(), Config{Epochs: 2, BatchSize: 2}, 4, 0, r); err == nil || !strings.Contains(err.Error(), where+" failed") {
			t.Fatalf("%s: %v", where, err)
		}
	}
	r = &recorder{loss: func(e, b int) float64 {
		if e == 1 {
			return math.NaN()
		}
		return 1
	}}
	err := Run(context.Background(), Config{Epochs: 3, BatchSize: 2}, 4, 0, r)
	if !errors.Is(err, ErrDiverged) || !strings.Contains(err.Error(), "epoch 2") || len(r.ended) != 1 {
		t.Fatalf("divergence: %v, %d epochs ended", err, len(r.ended))
	}
	stop := &stopper{}
	if err := Run(context.Background(), Config{Epochs: 5, BatchSize: 2}, 4, 0, stop); err != nil || len(stop.ended) != 2 {
		t.Fatalf("early stop after epoch 2: %v, %d epochs ended", err, len(stop.ended))
	}
	d := &divergent{recorder{loss: func(int, int) float64 { return math.Inf(1) }}}
	if err := Run(context.Background(), Config{Epochs: 1, BatchSize: 2}, 4, 0, d); err == nil || err.Error() != "own advice for epoch 0" {
		t.Fatalf("a Divergent trainer's own error: %v", err)
	}
	for _, c := range []struct {
		n, from, bs int
		want        string
	}{{0, 0, 1, "no training samples"}, {3, 0, 0, "batch size"}, {3, -1, 1, "must not be negative"}} {
		if err := Run(context.Background(), Config{Epochs: 1, BatchSize: c.bs}, c.n, c.from, &recorder{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("%+v: %v", c, err)
		}
	}
}

type divergent struct{ recorder }

func (d *divergent) Diverged(e Epoch) error {
	return errors.New("own advice for epoch " + string(rune('0'+e.Epoch)))
}

// stopper ends training after its second epoch.
type stopper struct{ recorder }

func (s *stopper) EndEpoch(e Epoch) error {
	s.recorder.EndEpoch(e)
	if e.Epoch == 1 {
		return ErrStop
	}
	return nil
}
