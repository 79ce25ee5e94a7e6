package rbm

import (
	"context"
	"math"
	"testing"

	"github.com/harmonium-ml/harmonium/mat32"
)

// Parallel tempering with many samples estimates the exact gradient: one
// update's weight step equals the exact log-likelihood gradient.
func TestTemperingMatchesExactGradient(t *testing.T) {
	if testing.Short() {
		t.Skip("long; runs in the full suite (make test)")
	}
	m, data, big := gradientCase(4000)
	want := exactGradW(m, data)
	before := m.Clone()
	cfg := Config{Epochs: 1, BatchSize: big.Rows, LearningRate: 1, Steps: 100, Tempering: 4, Seed: 5}
	tr, err := NewTrainer(m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	stats, err := tr.Fit(context.Background(), big, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	maxErr := 0.0
	for i := range want {
		maxErr = max(maxErr, math.Abs(float64(m.W.Data[i]-before.W.Data[i])-want[i]))
	}
	if maxErr > 0.03 {
		t.Fatalf("tempering gradient differs from the exact gradient by %g", maxErr)
	}
	if r := stats[0].SwapRate; !(r > 0.05 && r <= 1) {
		t.Fatalf("swap acceptance rate %g", r)
	}
	t.Logf("largest |PT - exact| = %.4f, swap rate %.2f", maxErr, stats[0].SwapRate)
}

// The energies tempering records for its swaps are E(v, h) of the chains'
// states, for Bernoulli and Gaussian visible units.
func TestTemperingEnergies(t *testing.T) {
	for _, m := range []*RBM{tiny(3, 6, 4), tinyGauss(3, 2, 3)} {
		data := tinyData()
		if m.VisUnits == Gaussian {
			data = gaussData()
		}
		tr, err := NewTrainer(m, Config{Epochs: 1, BatchSize: 5, LearningRate: 0.01, Steps: 1, Tempering: 3})
		if err != nil {
			t.Fatal(err)
		}
		tr.refreshVariances()
		tr.fitTempering(data, 5)
		rng := mat32.NewRNG(1, 1)
		for k := 0; k < 3; k++ {
			tr.temperHidden(k, 5, rng)
			for r := 0; r < 5; r++ {
				row := k*5 + r
				want := m.Energy(tr.State.Chains.Row(row), tr.pt.hs.Row(row))
				if got := tr.pt.energy[row]; math.Abs(got-want) > 1e-4*max(1, math.Abs(want)) {
					t.Fatalf("%v visible units, chain %d: recorded energy %.6f, E(v,h) %.6f", m.VisUnits, row, got, want)
				}
			}
		}
	}
	if b := Betas(4); b[0] != 1 || b[3] != 0.25 {
		t.Fatalf("Betas(4) = %v", b)
	}
}
