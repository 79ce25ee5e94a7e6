package ae

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/harmonium-ml/harmonium/mat32"
	"github.com/harmonium-ml/harmonium/nn"
)

// BenchmarkVAEEpoch times one epoch of PyTorch's VAE example architecture
// (784-400-20, batch 128, Adam) on 6,016 random grey-level samples (47
// minibatches; an MNIST epoch is 469).
func BenchmarkVAEEpoch(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	x := mat32.New(128*47, 784)
	for i := range x.Data {
		x.Data[i] = float32(r.Float64())
	}
	m, err := New(Spec{Kind: VAE, Input: nn.Flat(784), Layers: []int{400}, Code: 20}, 1)
	if err != nil {
		b.Fatal(err)
	}
	t, err := m.NewTrainer(DefaultConfig(1<<30, 1))
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		t.Config.Epochs = t.Epoch + 1
		if _, err := m.Fit(context.Background(), t, x, nil, nn.Hooks{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Seconds())/float64(b.N)*469/47, "s/mnist-epoch")
}
