// Package ae implements autoencoders on the nn package: the plain
// autoencoder, the denoising autoencoder (Vincent et al. 2008), the
// variational autoencoder (Kingma & Welling 2014) with its importance-
// sampled log-likelihood (Burda et al. 2016), and the convolutional
// autoencoder. A Model is an nn.Network from the input to its
// reconstruction with a marked code layer, so it trains with the nn
// optimisers and trainer and saves as a network does.
//
//	m, err := ae.New(ae.Spec{Kind: ae.VAE, Input: nn.Flat(784), Layers: []int{400}, Code: 20}, 1)
//	stats, err := m.Fit(ctx, x, nil, ae.TrainConfig(m.Kind), nn.Hooks{})
//	elbo := m.ELBO(test, 1)
package ae

import (
	"errors"
	"fmt"

	"github.com/harmonium-ml/harmonium/nn"
)

// Kinds of autoencoder.
const (
	AE   = "ae"   // dense encoder and decoder
	DAE  = "dae"  // dense, trained to undo a corruption of its input
	VAE  = "vae"  // variational: Gaussian code, ELBO loss
	Conv = "conv" // convolution and pooling down, upsampling and convolution up
	Deep = "deep" // a deep autoencoder unrolled from a DBN (Hinton & Salakhutdinov 2006)
)

// Outputs: how the decoder's last layer is read and which loss trains it.
const (
	// Bernoulli outputs are logits; the reconstruction is their sigmoid
	// and the loss the cross-entropy with the input, which must be in
	// [0, 1].
	Bernoulli = "bernoulli"
	// Gaussian outputs are the reconstruction itself; the loss is half the
	// squared error (a Gaussian of unit variance, up to a constant).
	Gaussian = "gaussian"
)

// ErrSpec is wrapped by the errors of New for settings that do not make an
// autoencoder.
var ErrSpec = errors.New("invalid autoencoder")

// Model is an autoencoder: a network from the input to its reconstruction
// whose layer Code outputs the code.
type Model struct {
	Kind   string      // AE, DAE, VAE, Conv or Deep
	Net    *nn.Network // input to reconstruction (logits for Bernoulli outputs)
	Code   int         // index of the layer whose output is the code (for a VAE its GaussianSample layer)
	Output string      // Bernoulli or Gaussian
}

// Spec describes an autoencoder to build.
type Spec struct {
	Kind  string
	Input nn.Shape // the shape of a sample; Conv needs an image (H, W > 1)
	// Layers are the sizes of the hidden layers between the input and the
	// code (dense kinds), or the filters of each convolution and pooling
	// stage (Conv); the decoder mirrors them.
	Layers []int
	Code   int    // code units (dense kinds; Conv's code is its last stage's output)
	Output string // Bernoulli (default) or Gaussian
	Tied   bool   // AE, DAE: the decoder uses the encoder's weights transposed
	// Noise and NoiseLevel corrupt the input of a DAE (nn.NoiseMask,
	// NoiseGauss or NoiseSaltPepper; see nn.ParseNoise).
	Noise      string
	NoiseLevel float64
}

func specErr(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrSpec}, a...)...)
}

// New builds the autoencoder of spec with weights drawn from seed.
//
// Dense kinds: ReLU hidden layers down to the code, then the mirror image
// up to the output layer. The code of an AE or DAE is a sigmoid layer, like
// an RBM's hidden units (Xavier initialisation, as the output layer); that
// of a VAE is a Gaussian sample drawn from means and log-variances (linear
// outputs of the last encoder layer). The ReLU layers and all of a VAE's
// start from PyTorch's default initialisation (nn.Uniform), with which
// PyTorch's VAE example is measured: on it He's initialisation ended 0.6-0.8
// nats worse after 10 epochs. A Conv autoencoder has per stage a 3x3
// convolution with padding 1, ReLU and 2x2 max-pooling; its decoder per
// stage a 2x upsampling and a 3x3 convolution, ReLU between stages.
func New(s Spec, seed uint64) (*Model, error) {
	if s.Output == "" {
		s.Output = Bernoulli
	}
	if s.Output != Bernoulli && s.Output != Gaussian {
		return nil, specErr("output %q (want %s or %s)", s.Output, Bernoulli, Gaussian)
	}
	arch, code, err := s.arch()
	if err != nil {
		return nil, err
	}
	net, err := nn.Build(arch)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSpec, err)
	}
	net.Init(seed)
	return &Model{Kind: s.Kind, Net: net, Code: code, Output: s.Output}, nil
}

// arch returns the network of the spec and the index of its code layer.
func (s Spec) arch() (nn.Arch, int, error) {
	for _, h := range s.Layers {
		if h < 1 {
			return nn.Arch{}, 0, specErr("layer size %d must be positive", h)
		}
	}
	if s.Tied && s.Kind != AE && s.Kind != DAE {
		return nn.Arch{}, 0, specErr("tied weights apply to ae and dae, not %s", s.Kind)
	}
	if (s.Noise != "") != (s.Kind == DAE) {
		if s.Kind == DAE {
			return nn.Arch{}, 0, specErr("a denoising autoencoder needs a noise (e.g. mask:0.3)")
		}
		return nn.Arch{}, 0, specErr("noise applies to the denoising autoencoder (dae), not %s", s.Kind)
	}
	switch s.Kind {
	case AE, DAE, VAE:
		if s.Code < 1 {
			return nn.Arch{}, 0, specErr("code size %d must be positive", s.Code)
		}
		a, code := s.denseArch()
		return a, code, nil
	case Conv:
		return s.convArch()
	case Deep:
		return nn.Arch{}, 0, specErr("deep autoencoders are unrolled from a DBN (dbn.Autoencoder), not built from a spec")
	}
	return nn.Arch{}, 0, specErr("unknown kind %q (want ae, dae, vae or conv)", s.Kind)
}

func (s Spec) denseArch() (nn.Arch, int) {
	a := nn.Arch{Input: s.Input}
	add := func(l ...nn.LayerSpec) { a.Layers = append(a.Layers, l...) }
	if s.Kind == DAE {
		add(nn.LayerSpec{Kind: nn.KindNoise, Noise: s.Noise, Rate: s.NoiseLevel})
	}
	var dense []int // indices of the encoder's dense layers, for tying
	for _, h := range s.Layers {
		dense = append(dense, len(a.Layers))
		add(nn.LayerSpec{Kind: nn.KindDense, Units: h, Init: "uniform"}, nn.LayerSpec{Kind: nn.KindReLU})
	}
	var code int
	if s.Kind == VAE {
		add(nn.LayerSpec{Kind: nn.KindDense, Units: 2 * s.Code, Init: "uniform"})
		code = len(a.Layers)
		add(nn.LayerSpec{Kind: nn.KindGaussianSample, Units: s.Code})
	} else {
		dense = append(dense, len(a.Layers))
		add(nn.LayerSpec{Kind: nn.KindDense, Units: s.Code, Init: "xavier"})
		code = len(a.Layers)
		add(nn.LayerSpec{Kind: nn.KindSigmoid})
	}
	// The decoder: back through the hidden sizes to the input size.
	sizes := append([]int(nil), s.Layers...)
	for i := len(sizes) - 1; i >= 0; i-- {
		a.Layers = append(a.Layers, s.decoderLayer(dense, i+1, sizes[i], "uniform"))
		add(nn.LayerSpec{Kind: nn.KindReLU})
	}
	out := "xavier"
	if s.Kind == VAE {
		out = "uniform"
	}
	add(s.decoderLayer(dense, 0, s.Input.Size(), out))
	return a, code
}

// decoderLayer returns the decoder's dense layer of the given size: tied
// to the encoder's dense layer dense[k] when the spec ties weights.
func (s Spec) decoderLayer(dense []int, k, units int, init string) nn.LayerSpec {
	if s.Tied && s.Kind != VAE {
		tie := dense[k]
		return nn.LayerSpec{Kind: nn.KindDenseTied, Units: units, Tie: &tie}
	}
	return nn.LayerSpec{Kind: nn.KindDense, Units: units, Init: init}
}

func (s Spec) convArch() (nn.Arch, int, error) {
	in := s.Input
	if in.H < 2 || in.W < 2 {
		return nn.Arch{}, 0, specErr("a convolutional autoencoder needs images; the samples are %d values with no image shape (MNIST folders have one; else give the shape, e.g. 28x28)", in.Size())
	}
	stages := s.Layers
	if len(stages) == 0 {
		return nn.Arch{}, 0, specErr("a convolutional autoencoder needs the filters of at least one stage")
	}
	f := 1 << len(stages)
	if len(stages) > 16 || in.H%f != 0 || in.W%f != 0 {
		return nn.Arch{}, 0, specErr("%d pooling stages need image sides divisible by %d; the images are %dx%d", len(stages), f, in.H, in.W)
	}
	a := nn.Arch{Input: in}
	add := func(l ...nn.LayerSpec) { a.Layers = append(a.Layers, l...) }
	for _, filters := range stages {
		add(nn.LayerSpec{Kind: nn.KindConv2D, Filters: filters, Kernel: 3, Stride: 1, Pad: 1, Init: "he"}, nn.LayerSpec{Kind: nn.KindReLU},
			nn.LayerSpec{Kind: nn.KindMaxPool2D, Window: 2, Stride: 2})
	}
	code := len(a.Layers) - 1
	for i := len(stages) - 1; i >= 0; i-- {
		filters, init := in.C, "xavier"
		if i > 0 {
			filters, init = stages[i-1], "he"
		}
		add(nn.LayerSpec{Kind: nn.KindUpsample2D, Window: 2}, nn.LayerSpec{Kind: nn.KindConv2D, Filters: filters, Kernel: 3, Stride: 1, Pad: 1, Init: init})
		if i > 0 {
			add(nn.LayerSpec{Kind: nn.KindReLU})
		}
	}
	return a, code, nil
}

// Check reports whether the model's parts agree: the code index names a
// layer (a GaussianSample layer for a VAE), the output kind is known, and
// the network's output has the input's size. Loaders call it on what they
// read.
func (m *Model) Check() error {
	switch m.Kind {
	case AE, DAE, VAE, Conv, Deep:
	default:
		return specErr("unknown kind %q", m.Kind)
	}
	layers := m.Net.Layers()
	if m.Code < 0 || m.Code >= len(layers)-1 {
		return specErr("code layer %d of a %d-layer network", m.Code, len(layers))
	}
	_, isSample := layers[m.Code].(*nn.GaussianSampleLayer)
	if isSample != (m.Kind == VAE) {
		return specErr("the code layer %d of a %s is %T", m.Code, m.Kind, layers[m.Code])
	}
	if m.Output != Bernoulli && m.Output != Gaussian {
		return specErr("output %q", m.Output)
	}
	if in, out := m.Net.InputShape().Size(), m.Net.OutputShape().Size(); in != out || in == 0 {
		return specErr("the network maps %d values to %d, not back to its input", in, out)
	}
	return nil
}

// Inputs returns the number of values of a sample.
func (m *Model) Inputs() int { return m.Net.InputShape().Size() }

// CodeSize returns the number of values of a code.
func (m *Model) CodeSize() int {
	if s, ok := m.Net.Layers()[m.Code].(*nn.GaussianSampleLayer); ok {
		return s.Units
	}
	out := m.Net.InputShape()
	for _, l := range m.Net.Layers()[:m.Code+1] {
		out, _ = l.(nn.Shaper).OutputShape(out)
	}
	return out.Size()
}

// Params returns the number of parameters.
func (m *Model) Params() int {
	n := 0
	for _, p := range m.Net.Params() {
		n += len(p.Value.Data)
	}
	return n
}

// Loss returns the loss the model trains with.
func (m *Model) Loss() nn.Loss {
	if m.Output == Gaussian {
		return nn.SquaredError{}
	}
	return nn.BinaryCrossEntropy{}
}

// String describes the model: "vae 784-400-20 (bernoulli)".
func (m *Model) String() string {
	return fmt.Sprintf("%s autoencoder, %d inputs, %d-value code, %d parameters (%s outputs)", m.Kind, m.Inputs(), m.CodeSize(), m.Params(), m.Output)
}
