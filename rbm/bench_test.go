package rbm

import (
	"context"
	"testing"

	"github.com/harmonium-ml/harmonium/mat32"
)

// benchData returns n samples of 784 values in [0, 1] with MNIST's shape
// and about its density: a deterministic stand-in (decoding MNIST lives in
// package dataset, which rbm does not import).
func benchData(b *testing.B, n int) *mat32.Dense {
	x := mat32.New(n, 784)
	r := mat32.NewRNG(1, 1)
	u := make([]float32, 784)
	for i := 0; i < n; i++ {
		r.Uniform(u)
		row := x.Row(i)
		for j, v := range u {
			// Ink in the middle of the image, like a digit.
			if rr, cc := j/28-14, j%28-14; rr*rr+cc*cc < 80 && v < 0.4 {
				row[j] = v * 2.5
			}
		}
	}
	return x
}

func benchConfig() Config {
	return Config{Epochs: 1, BatchSize: 100, LearningRate: 0.1, Steps: 1, Seed: 1}
}

// BenchmarkCD1Batch times one CD-1 update of a 784-500 RBM on 100 samples.
func BenchmarkCD1Batch(b *testing.B) {
	x := benchData(b, 100)
	m := NewInit(784, 500, x, 1)
	t, _ := NewTrainer(m, benchConfig())
	t.chooseSparse(x)
	buf := t.buffers(100)
	copy(buf.v0.Data, x.Data)
	rng := mat32.NewRNG(1, 2)
	b.ReportAllocs()
	for b.Loop() {
		t.step(buf, 0.1, 0, rng)
	}
}

// BenchmarkCD1Epoch times one CD-1 epoch of a 784-500 RBM over 60,000
// samples in minibatches of 100 (the published comparisons' setting).
func BenchmarkCD1Epoch(b *testing.B) {
	x := benchData(b, 60000)
	for b.Loop() {
		m := NewInit(784, 500, x, 1)
		if _, err := m.Fit(context.Background(), x, benchConfig(), Hooks{}); err != nil {
			b.Fatal(err)
		}
	}
}
