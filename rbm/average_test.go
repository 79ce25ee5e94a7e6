package rbm

import (
	"context"
	"math"
	"testing"

	"github.com/harmonium-ml/harmonium/mat32"
)

// The model after training with Config.Average is the exponential moving
// average of the parameters after each update, computed here by hand.
func TestAverageIsMovingAverage(t *testing.T) {
	data := tinyData()
	const d = 0.8
	cfg := Config{Epochs: 3, BatchSize: 2, LearningRate: 0.1, Steps: 1, Persistent: true, Momentum: 0.5, Seed: 4, Average: d}
	m := NewInit(6, 4, data, 1)
	var avg *RBM
	hooks := Hooks{Batch: func(epoch, done, total int) {
		if avg == nil {
			avg = m.Clone()
			return
		}
		for k, dst := range [][]float32{avg.W.Data, avg.VisBias, avg.HidBias} {
			src := [][]float32{m.W.Data, m.VisBias, m.HidBias}[k]
			for i := range dst {
				dst[i] = d*dst[i] + (1-d)*src[i]
			}
		}
	}}
	tr, err := NewTrainer(m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Fit(context.Background(), data, hooks); err != nil {
		t.Fatal(err)
	}
	for k, got := range [][]float32{m.W.Data, m.VisBias, m.HidBias} {
		want := [][]float32{avg.W.Data, avg.VisBias, avg.HidBias}[k]
		for i := range got {
			if math.Abs(float64(got[i]-want[i])) > 1e-6 {
				t.Fatalf("parameter group %d, element %d: model %v, moving average %v", k, i, got[i], want[i])
			}
		}
	}
	// The average is not the last parameters.
	if tr.State.Average.W.Data[0] == m.W.Data[0] && tr.State.Average.W.Data[1] == m.W.Data[1] {
		t.Fatal("the model holds the last parameters, not their average")
	}
}

// Training in two calls of Fit (or resumed from the state) gives the model
// of one uninterrupted run: the second call continues from the last
// parameters, not from their average.
func TestAverageResume(t *testing.T) {
	data := tinyData()
	cfg := Config{Epochs: 6, BatchSize: 2, LearningRate: 0.1, Steps: 1, Persistent: true, Momentum: 0.5, Seed: 5, Average: 0.9}
	whole := NewInit(6, 4, data, 1)
	if _, err := whole.Fit(context.Background(), data, cfg, Hooks{}); err != nil {
		t.Fatal(err)
	}
	// Two calls of Fit on one trainer.
	half := cfg
	half.Epochs = 3
	m := NewInit(6, 4, data, 1)
	tr, _ := NewTrainer(m, half)
	if _, err := tr.Fit(context.Background(), data, Hooks{}); err != nil {
		t.Fatal(err)
	}
	tr.Config.Epochs = 6
	if _, err := tr.Fit(context.Background(), data, Hooks{}); err != nil {
		t.Fatal(err)
	}
	// A new trainer given the state of a run stopped after 3 epochs (a
	// checkpoint).
	c := NewInit(6, 4, data, 1)
	first, _ := NewTrainer(c, cfg)
	stop := Hooks{Epoch: func(s EpochStats) error {
		if s.Epoch == 3 {
			return context.Canceled
		}
		return nil
	}}
	if _, err := first.Fit(context.Background(), data, stop); err != context.Canceled {
		t.Fatalf("stop hook: %v", err)
	}
	second, _ := NewTrainer(c.Clone(), cfg)
	second.State = first.State
	if _, err := second.Fit(context.Background(), data, Hooks{}); err != nil {
		t.Fatal(err)
	}
	for _, got := range []*RBM{m, second.Model} {
		for i, w := range whole.W.Data {
			if got.W.Data[i] != w {
				t.Fatalf("weight %d: %v after two calls, %v in one run", i, got.W.Data[i], w)
			}
		}
	}
}

func TestAverageDecayAndValidation(t *testing.T) {
	if d := AverageDecay(40000); math.Abs(d-0.999) > 1e-12 {
		t.Fatalf("AverageDecay(40000) = %v, want 0.999", d)
	}
	if d := AverageDecay(1); d != 0.5 {
		t.Fatalf("AverageDecay(1) = %v, want 0.5", d)
	}
	for _, bad := range []float64{-0.1, 1, math.NaN()} {
		c := DefaultConfig()
		c.Average = bad
		if c.Validate() == nil {
			t.Errorf("Average %v accepted", bad)
		}
	}
	// The Gaussian recipes average; Bernoulli's does not.
	if c := DefaultConfigFor(Gaussian, Bernoulli, 62, 20, 3823); c.Average == 0 || c.Steps != 20 {
		t.Errorf("Gaussian recipe %+v: no averaging or not CD-20", c)
	}
	if c := DefaultFixedSigmaConfig(Bernoulli, 62, 20, 3823); c.Average == 0 {
		t.Errorf("fixed-sigma recipe %+v: no averaging", c)
	}
	if c := DefaultConfigFor(Bernoulli, Bernoulli, 784, 500, 60000); c.Average != 0 {
		t.Errorf("Bernoulli recipe averages: %+v", c)
	}
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{Steps: 1}, "CD-1"},
		{Config{Steps: 5, Persistent: true}, "PCD-5"},
		{Config{Steps: 1, Tempering: 4, Persistent: true}, "PT-1 (4 temperatures)"},
		{Config{Steps: 20, Average: 0.999}, "CD-20 averaged over about 1000 updates"},
	} {
		if got := c.cfg.Method(); got != c.want {
			t.Errorf("Method of %+v = %q, want %q", c.cfg, got, c.want)
		}
	}
}

// Averaging a model with variances averages the log variances too.
func TestAverageWithVariances(t *testing.T) {
	data := mat32.New(40, 3)
	r := mat32.NewRNG(1, 1)
	r.Uniform(data.Data)
	m := NewInitUnits(3, 2, Gaussian, Bernoulli, true, data, 1)
	cfg := Config{Epochs: 2, BatchSize: 10, LearningRate: 0.01, Steps: 1, LearnSigma: true, SigmaRate: 1, Seed: 2, Average: 0.5}
	tr, err := NewTrainer(m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Fit(context.Background(), data, Hooks{}); err != nil {
		t.Fatal(err)
	}
	last := tr.State.Average.LogVar // after the swap: the last parameters
	if len(last) != 3 || len(m.LogVar) != 3 || last[0] == m.LogVar[0] {
		t.Fatalf("log variances: model %v, last %v", m.LogVar, last)
	}
}
