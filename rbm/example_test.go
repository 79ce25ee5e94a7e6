package rbm_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/harmonium-ml/harmonium/dataset"
	"github.com/harmonium-ml/harmonium/mat32"
	"github.com/harmonium-ml/harmonium/modelfile"
	"github.com/harmonium-ml/harmonium/rbm"
)

// Train an RBM on MNIST digits, use its hidden layer as features, and save
// it. This is the README's "As a library" example.
func Example() {
	ctx := context.Background()
	set, err := dataset.Embedded() // MNIST's test digits, built in; or dataset.Load(dir, "train")
	if err != nil {
		log.Fatal(err)
	}
	set = set.Head(1000)
	m := rbm.NewInit(set.X.Cols, 100, set.X, 1) // N(0, 0.01²) weights, log-odds visible biases
	cfg := rbm.DefaultConfig()                  // CD-1, batch 100, lr 0.1, momentum, weight decay
	cfg.Epochs = 3
	var errs []float64
	_, err = m.Fit(ctx, set.X, cfg, rbm.Hooks{Epoch: func(s rbm.EpochStats) error {
		errs = append(errs, s.ReconError) // one call per finished epoch
		return nil
	}})
	if err != nil {
		log.Fatal(err)
	}
	features := m.Transform(set.X) // p(h=1|v), one row per sample
	dir, err := os.MkdirTemp("", "harmonium-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "m.safetensors")
	if err := modelfile.SaveRBM(path, m, modelfile.ConfigMeta(cfg), nil); err != nil {
		log.Fatal(err)
	}
	back, _, _, err := modelfile.LoadRBM(path)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("epochs:", len(errs), "error fell:", errs[2] < errs[0])
	fmt.Println("features:", features.Rows, "x", features.Cols)
	fmt.Println("loaded:", back.Visible(), "x", back.Hidden())
	// Output:
	// epochs: 3 error fell: true
	// features: 1000 x 100
	// loaded: 784 x 100
}

// Sample from a model by Gibbs sampling: p(v|h) after 10 steps from data.
func ExampleRBM_Gibbs() {
	set, err := dataset.Embedded()
	if err != nil {
		log.Fatal(err)
	}
	set = set.Head(200)
	m := rbm.NewInit(set.X.Cols, 50, set.X, 1)
	cfg := rbm.DefaultConfig()
	cfg.Epochs = 2
	if _, err := m.Fit(context.Background(), set.X, cfg, rbm.Hooks{}); err != nil {
		log.Fatal(err)
	}
	v := set.X.Slice(0, 4).Clone()
	probs := m.Gibbs(v, 10, mat32.NewRNG(1, 0))
	fmt.Println(probs.Rows, "chains of", probs.Cols, "pixels")
	// Output: 4 chains of 784 pixels
}

// Model real-valued data with Gaussian visible units: standardise the
// features, keep the mapping in the model, train with the recipe for
// Gaussian units, and measure the test log-likelihood exactly.
func ExampleNewInitUnits() {
	data := mat32.New(600, 4) // two clusters on a scale far from standard
	for i := range data.Rows {
		for j := range data.Cols {
			c := float32(i%2*2 - 1)
			data.Set(i, j, 50+10*c*float32(j%2*2-1)+float32((i*7+j*3)%5)-2)
		}
	}
	scaler, constant, err := rbm.FitScaler(data)
	if err != nil {
		log.Fatal(err)
	}
	scaler.Apply(data)
	m := rbm.NewInitUnits(data.Cols, 4, rbm.Gaussian, rbm.Bernoulli, true, data, 1)
	m.Scaler = scaler // saved with the model; apply it to new data
	cfg := rbm.DefaultConfigFor(rbm.Gaussian, rbm.Bernoulli, data.Cols, 20, data.Rows)
	if _, err := m.Fit(context.Background(), data, cfg, rbm.Hooks{}); err != nil {
		log.Fatal(err)
	}
	logZ, err := m.LogPartition()
	if err != nil {
		log.Fatal(err)
	}
	// Independent standard Gaussians would give 4 x -1.419 = -5.68 nats.
	fmt.Println(len(constant), "constant features; better than independent Gaussians:", m.LogLikelihood(data, logZ) > -5.68)
	// Output: 0 constant features; better than independent Gaussians: true
}
