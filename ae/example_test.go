package ae_test

import (
	"context"
	"fmt"
	"log"
	"math/rand/v2"

	"github.com/harmonium-ml/harmonium/ae"
	"github.com/harmonium-ml/harmonium/mat32"
	"github.com/harmonium-ml/harmonium/nn"
)

// Train a small variational autoencoder on noisy copies of two binary
// patterns, then measure it: the ELBO, the importance-sampled
// log-likelihood (at least the ELBO), codes, and samples from the prior.
func Example() {
	r := rand.New(rand.NewPCG(1, 1))
	x := mat32.New(400, 16)
	for i := range x.Rows {
		for j := range 16 {
			v := 0.1 * r.Float64()
			if (j%2 == 0) == (i%2 == 0) {
				v = 1 - v
			}
			x.Set(i, j, float32(v))
		}
	}
	m, err := ae.New(ae.Spec{Kind: ae.VAE, Input: nn.Flat(16), Layers: []int{16}, Code: 2}, 1)
	if err != nil {
		log.Fatal(err)
	}
	cfg := ae.DefaultConfig(50, 1)
	cfg.BatchSize, cfg.LearningRate = 20, 0.01
	t, err := m.NewTrainer(cfg)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := m.Fit(context.Background(), t, x, nil, nn.Hooks{}); err != nil {
		log.Fatal(err)
	}
	elbo, err := m.ELBO(x, 1)
	if err != nil {
		log.Fatal(err)
	}
	ll, err := m.LogLikelihood(context.Background(), x, 100, 1, nil)
	if err != nil {
		log.Fatal(err)
	}
	samples, err := m.Sample(5, 1)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.Kind, "with a code of", m.CodeSize())
	fmt.Println("reconstruction error below 0.5:", m.ReconError(x) < 0.5)
	fmt.Println("log-likelihood at least the ELBO:", ll >= elbo)
	fmt.Println("codes:", m.Features(x).Cols, "values per sample")
	fmt.Println("samples:", samples.Rows, "x", samples.Cols)
	// Output:
	// vae with a code of 2
	// reconstruction error below 0.5: true
	// log-likelihood at least the ELBO: true
	// codes: 2 values per sample
	// samples: 5 x 16
}
