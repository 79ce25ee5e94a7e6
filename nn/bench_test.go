package nn

import (
	"testing"

	"github.com/harmonium-ml/harmonium/mat32"
)

// benchStep times one training step (forward, loss, backward, Adam step)
// on a minibatch of 100 random samples of net's input shape.
func benchStep(b *testing.B, net *Network) {
	const batch = 100
	d := Data{X: mat32.New(batch, net.InputShape().Size()), Targets: Targets{Labels: make([]int, batch)}}
	mat32.NewRNG(1, 1).Uniform(d.X.Data)
	for i := range d.Labels {
		d.Labels[i] = i % net.OutputShape().Size()
	}
	tr, err := NewTrainer(net, Config{Epochs: 1, BatchSize: batch, LearningRate: 1e-3})
	if err != nil {
		b.Fatal(err)
	}
	buf := tr.batch(batch, d)
	idx := make([]int, batch)
	for i := range idx {
		idx[i] = i
	}
	buf.gather(d, idx)
	tr.step(buf, 1e-3) // warm: buffers and optimiser state
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		tr.step(buf, 1e-3)
	}
}

// BenchmarkMLPStep times one minibatch of 100 through the 784-800-800-10
// ReLU network with dropout 0.5 (and 0.2 on the input): forward, backward
// and an Adam step.
func BenchmarkMLPStep(b *testing.B) {
	net, err := MLP(784, []int{800, 800}, 10, 0.5, 1, InputDropout(0.2))
	if err != nil {
		b.Fatal(err)
	}
	benchStep(b, net)
}

// BenchmarkCNNStep times one minibatch of 100 through CNN(1, 28, 28, 10):
// forward, backward and an Adam step.
func BenchmarkCNNStep(b *testing.B) {
	net, err := CNN(1, 28, 28, 10, 1)
	if err != nil {
		b.Fatal(err)
	}
	benchStep(b, net)
}
