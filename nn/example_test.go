package nn_test

import (
	"context"
	"fmt"
	"log"
	"math/rand/v2"

	"github.com/harmonium-ml/harmonium/mat32"
	"github.com/harmonium-ml/harmonium/nn"
)

// Train a small network to tell which of two noisy prototypes each sample
// comes from, with early stopping on a validation split.
func Example() {
	r := rand.New(rand.NewPCG(1, 1))
	x, labels := mat32.New(400, 8), make([]int, 400)
	for i := range labels {
		labels[i] = i % 2
		for j := range 8 {
			centre := float64(2*((j+labels[i])%2) - 1) // +-1, alternating with the class
			x.Set(i, j, float32(centre+r.NormFloat64()))
		}
	}
	data := nn.Data{X: x, Targets: nn.Targets{Labels: labels}}
	train, val := data.Split(0.25, 1)

	net := nn.New(nn.Dense(8, 16, nn.He), nn.ReLU(), nn.Dropout(0.2), nn.Dense(16, 2, nn.Xavier))
	net.Init(42)
	cfg := nn.Config{Epochs: 20, BatchSize: 20, LearningRate: 0.01, Optimizer: nn.NewAdam(), L2: 1e-4, Patience: 5, Seed: 42}
	if _, err := net.Fit(context.Background(), train, val, cfg, nn.Hooks{}); err != nil {
		log.Fatal(err)
	}
	_, acc, err := net.Evaluate(val, nn.SoftmaxCrossEntropy{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("validation samples:", val.Rows())
	fmt.Println("validation accuracy above 95%:", acc > 0.95)
	fmt.Println("predicted classes:", len(net.Predict(val.X)))
	// Output:
	// validation samples: 100
	// validation accuracy above 95%: true
	// predicted classes: 100
}

// Build the seeds' convolutional network for 28x28 grey images and look at
// its architecture.
func ExampleCNN() {
	net, err := nn.CNN(1, 28, 28, 10, 1)
	if err != nil {
		log.Fatal(err)
	}
	arch, _ := net.Arch()
	for i, l := range arch.Layers {
		fmt.Println(i, l.Kind)
	}
	fmt.Println("output:", net.OutputShape())
	// Output:
	// 0 conv2d
	// 1 relu
	// 2 maxpool2d
	// 3 conv2d
	// 4 relu
	// 5 maxpool2d
	// 6 flatten
	// 7 dense
	// 8 relu
	// 9 dropout
	// 10 dense
	// output: 10
}
