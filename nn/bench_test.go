package nn

import (
	"fmt"
	"testing"

	"github.com/harmonium-ml/harmonium/mat32"
)

// benchStep times one training step (forward, loss, backward, Adam step)
// on a minibatch of 100 random samples of net's input shape.
func benchStep(b *testing.B, net *Network) {
	benchStepLoss(b, net, 100, nil)
}

// benchStepLoss times one training step on a minibatch of batch random
// samples with the given loss: nil for SoftmaxCrossEntropy on cyclic
// labels, else a loss whose targets are the inputs (an autoencoder's).
func benchStepLoss(b *testing.B, net *Network, batch int, loss Loss) {
	d := Data{X: mat32.New(batch, net.InputShape().Size())}
	mat32.NewRNG(1, 1).Uniform(d.X.Data)
	if loss == nil {
		d.Labels = make([]int, batch)
		for i := range d.Labels {
			d.Labels[i] = i % net.OutputShape().Size()
		}
	} else {
		d.Values = d.X
	}
	tr, buf := firstStep(b, net, d, Config{Epochs: 1, BatchSize: batch, LearningRate: 1e-3, Loss: loss}) // warm: buffers and optimiser state
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		tr.step(buf, 1e-3)
	}
}

// firstStep makes a trainer of net with cfg, gathers the first
// cfg.BatchSize samples of d and takes one training step on them.
func firstStep(tb testing.TB, net *Network, d Data, cfg Config) (*Trainer, *batch) {
	tb.Helper()
	tr, err := NewTrainer(net, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	buf := tr.batch(cfg.BatchSize, d)
	idx := make([]int, cfg.BatchSize)
	for i := range idx {
		idx[i] = i
	}
	buf.gather(d, idx)
	tr.step(buf, cfg.LearningRate)
	return tr, buf
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

// convAEArch is the convolutional autoencoder of `harmonium ae train
// --kind conv` on MNIST (stages of 16 and 8 filters): 3x3 convolutions
// with padding 1, ReLU and 2x2 max-pooling down, 2x upsampling and 3x3
// convolutions up.
func convAEArch() Arch {
	conv := func(f int, init string) LayerSpec {
		return LayerSpec{Kind: KindConv2D, Filters: f, Kernel: 3, Stride: 1, Pad: 1, Init: init}
	}
	pool := LayerSpec{Kind: KindMaxPool2D, Window: 2, Stride: 2}
	up := LayerSpec{Kind: KindUpsample2D, Window: 2}
	relu := LayerSpec{Kind: KindReLU}
	return Arch{Input: Shape{1, 28, 28}, Layers: []LayerSpec{
		conv(16, "he"), relu, pool, conv(8, "he"), relu, pool,
		up, conv(16, "he"), relu, up, conv(1, "xavier"),
	}}
}

// BenchmarkConvAEStep times one minibatch of 128 through the
// convolutional autoencoder (convAEArch) with binary cross-entropy:
// forward, backward and an Adam step. An MNIST epoch is 469 of them.
func BenchmarkConvAEStep(b *testing.B) {
	net, err := Build(convAEArch())
	if err != nil {
		b.Fatal(err)
	}
	net.Init(1)
	benchStepLoss(b, net, 128, BinaryCrossEntropy{})
}

// benchLayer times Forward and Backward of l on batch random inputs: the
// "fwd" sub-benchmark the forward pass alone, "step" a forward pass and a
// full backward pass, "params" a forward pass and backwardParams (as for
// a network's first layer) when the layer has it.
func benchLayer(b *testing.B, l Layer, in Shape, batch int) {
	x := mat32.New(batch, in.Size())
	mat32.NewRNG(1, 2).Uniform(x.Data)
	y := l.Forward(x, true)
	dy := mat32.New(y.Rows, y.Cols)
	mat32.NewRNG(2, 2).Uniform(dy.Data)
	l.Backward(dy)
	b.Run("fwd", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			l.Forward(x, true)
		}
	})
	b.Run("step", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			l.Forward(x, true)
			l.Backward(dy)
		}
	})
	if pb, ok := l.(paramBackwarder); ok {
		b.Run("params", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				l.Forward(x, true)
				pb.backwardParams(dy)
			}
		})
	}
}

// BenchmarkConvLayers times the convolutions of the CNN (batch 100) and
// of the convolutional autoencoder (batch 128) one by one.
func BenchmarkConvLayers(b *testing.B) {
	for _, c := range []struct {
		name                string
		in                  Shape
		filters, kernel, pd int
		batch               int
	}{
		{"cnn1", Shape{1, 28, 28}, 32, 5, 2, 100},
		{"cnn2", Shape{32, 14, 14}, 64, 5, 2, 100},
		{"ae1", Shape{1, 28, 28}, 16, 3, 1, 128},
		{"ae2", Shape{16, 14, 14}, 8, 3, 1, 128},
		{"ae3", Shape{8, 14, 14}, 16, 3, 1, 128},
		{"ae4", Shape{16, 28, 28}, 1, 3, 1, 128},
	} {
		b.Run(c.name, func(b *testing.B) {
			l := Conv2D(c.in, c.filters, c.kernel, 1, c.pd, He)
			net := New(l)
			net.Init(1)
			benchLayer(b, l, c.in, c.batch)
		})
	}
}

// BenchmarkPoolUpsample times the CNN's and the autoencoder's pooling and
// upsampling layers.
func BenchmarkPoolUpsample(b *testing.B) {
	for _, c := range []struct {
		in    Shape
		up    bool
		batch int
	}{
		{Shape{32, 28, 28}, false, 100},
		{Shape{64, 14, 14}, false, 100},
		{Shape{16, 28, 28}, false, 128},
		{Shape{8, 7, 7}, true, 128},
		{Shape{16, 14, 14}, true, 128},
	} {
		var l Layer = MaxPool2D(c.in, 2, 2)
		name := "pool"
		if c.up {
			l, name = Upsample2D(c.in, 2), "up"
		}
		b.Run(fmt.Sprintf("%s%v", name, c.in), func(b *testing.B) { benchLayer(b, l, c.in, c.batch) })
	}
}
