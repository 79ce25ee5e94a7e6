package nn

import "fmt"

// MLPOption changes a setting of MLP.
type MLPOption func(*mlpOptions)

type mlpOptions struct{ inputDropout float64 }

// InputDropout drops input values with probability p (0.2 in Srivastava et
// al. 2014's MNIST networks).
func InputDropout(p float64) MLPOption { return func(o *mlpOptions) { o.inputDropout = p } }

// MLPArch returns the architecture MLP builds.
func MLPArch(in int, hidden []int, classes int, dropout float64, opts ...MLPOption) Arch {
	var o mlpOptions
	for _, f := range opts {
		f(&o)
	}
	a := Arch{Input: Flat(in)}
	if o.inputDropout > 0 {
		a.Layers = append(a.Layers, LayerSpec{Kind: KindDropout, Rate: o.inputDropout})
	}
	for _, h := range hidden {
		a.Layers = append(a.Layers, LayerSpec{Kind: KindDense, Units: h, Init: "he"}, LayerSpec{Kind: KindReLU})
		if dropout > 0 {
			a.Layers = append(a.Layers, LayerSpec{Kind: KindDropout, Rate: dropout})
		}
	}
	a.Layers = append(a.Layers, LayerSpec{Kind: KindDense, Units: classes, Init: "xavier"})
	return a
}

// MLP returns a multilayer perceptron classifier with weights drawn from
// the seed: for each size in hidden a dense layer of that many ReLU units
// (He initialisation) followed, when dropout > 0, by dropout with that
// rate; then a dense output layer of classes logits (Xavier
// initialisation), for SoftmaxCrossEntropy.
func MLP(in int, hidden []int, classes int, dropout float64, seed uint64, opts ...MLPOption) (*Network, error) {
	return build(MLPArch(in, hidden, classes, dropout, opts...), seed)
}

// CNNArch returns the architecture CNN builds.
func CNNArch(c, h, w, classes int) Arch {
	return Arch{Input: Shape{C: c, H: h, W: w}, Layers: []LayerSpec{
		{Kind: KindConv2D, Filters: 32, Kernel: 5, Stride: 1, Pad: 2, Init: "he"},
		{Kind: KindReLU},
		{Kind: KindMaxPool2D, Window: 2, Stride: 2},
		{Kind: KindConv2D, Filters: 64, Kernel: 5, Stride: 1, Pad: 2, Init: "he"},
		{Kind: KindReLU},
		{Kind: KindMaxPool2D, Window: 2, Stride: 2},
		{Kind: KindFlatten},
		{Kind: KindDense, Units: 1024, Init: "he"},
		{Kind: KindReLU},
		{Kind: KindDropout, Rate: 0.5},
		{Kind: KindDense, Units: classes, Init: "xavier"},
	}}
}

// CNN returns the seeds' convolutional classifier (issue 12) with weights
// drawn from the seed, for c x h x w images: 5x5
// convolution of 32 filters (padding 2), ReLU, 2x2 max-pooling, 5x5
// convolution of 64 filters, ReLU, 2x2 max-pooling, a dense layer of 1024
// ReLU units, dropout 0.5, and a dense output layer of classes logits.
// Images need h, w >= 4.
func CNN(c, h, w, classes int, seed uint64) (*Network, error) {
	return build(CNNArch(c, h, w, classes), seed)
}

func build(a Arch, seed uint64) (*Network, error) {
	n, err := Build(a)
	if err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	n.Init(seed)
	return n, nil
}
