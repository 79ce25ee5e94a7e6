package nn

import (
	"errors"
	"fmt"
	"math"

	"github.com/harmonium-ml/harmonium/mat32"
)

// Layer kinds of a LayerSpec.
const (
	KindDense     = "dense"
	KindConv2D    = "conv2d"
	KindMaxPool2D = "maxpool2d"
	KindFlatten   = "flatten"
	KindDropout   = "dropout"
	KindSigmoid   = "sigmoid"
	KindTanh      = "tanh"
	KindReLU      = "relu"
	KindLeakyReLU = "leaky_relu"
	KindSoftmax   = "softmax"
	// Kinds for autoencoders.
	KindNoise          = "noise"           // corruption of the input in training (Noise, Rate)
	KindGaussianSample = "gaussian_sample" // a VAE's reparameterised sample (Units)
	KindUpsample2D     = "upsample2d"      // nearest-neighbour enlargement by Window
	KindDenseTied      = "dense_tied"      // dense with the transposed weights of layer Tie (Units outputs)
)

// Limits on the sizes an architecture may describe, so that a spec from
// outside (a model file, a command line) is refused before anything is
// allocated for it.
const (
	MaxLayers = 4096    // layers in a network
	MaxDim    = 1 << 24 // any one dimension: channels, height, width, units, filters, kernel
	MaxValues = 1 << 28 // values of one sample at any layer (and of its lowered conv input), and of one parameter tensor
)

// ErrArch is wrapped by the errors of Build and Arch.Params for an
// architecture that is invalid or does not fit its input.
var ErrArch = errors.New("invalid architecture")

// LayerSpec describes a layer: its kind and settings. Input shapes are not
// part of it; they follow from the network's input shape.
type LayerSpec struct {
	Kind    string  `json:"kind"`
	Units   int     `json:"units,omitempty"`   // dense: outputs
	Filters int     `json:"filters,omitempty"` // conv2d: output channels
	Kernel  int     `json:"kernel,omitempty"`  // conv2d: side of the square kernel
	Window  int     `json:"window,omitempty"`  // maxpool2d: side of the square window
	Stride  int     `json:"stride,omitempty"`  // conv2d, maxpool2d: step between windows (>= 1)
	Pad     int     `json:"pad,omitempty"`     // conv2d: zeros added on each side, at most Kernel/2
	Rate    float64 `json:"rate,omitempty"`    // dropout: probability of dropping a unit, in [0, 1); noise: its level
	Alpha   float64 `json:"alpha,omitempty"`   // leaky_relu: slope below zero, >= 0
	Init    string  `json:"init,omitempty"`    // dense, conv2d: "he", "xavier" or "" (weights given)
	Noise   string  `json:"noise,omitempty"`   // noise: mask, gauss or saltpepper, its level in Rate
	Tie     *int    `json:"tie,omitempty"`     // dense_tied: index of the earlier dense layer whose weights it shares
}

// Arch describes a network: the shape of its input and its layers.
type Arch struct {
	Input  Shape       `json:"input"`
	Layers []LayerSpec `json:"layers"`
}

// ParamInfo names a parameter tensor of an architecture and gives its shape.
type ParamInfo struct {
	Layer int    // index of the layer
	Name  string // "weights" or "bias"
	Shape []int  // as in Param.Shape
}

func archErr(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrArch}, a...)...)
}

// checkShape checks that every dimension of s is in [1, MaxDim] and that a
// sample has at most MaxValues values.
func checkShape(s Shape) error {
	for _, d := range []int{s.C, s.H, s.W} {
		if d < 1 || d > MaxDim {
			return archErr("shape %dx%dx%d: dimensions must be in [1, %d]", s.C, s.H, s.W, MaxDim)
		}
	}
	if s.C*s.H > MaxValues/s.W { // C*H <= 2^48: no overflow
		return archErr("shape %v has more than %d values", s, MaxValues)
	}
	return nil
}

// checkValues checks that a parameter tensor of a*b values is within MaxValues.
func checkValues(what string, a, b int) error {
	if a > MaxValues/b {
		return archErr("%s of %dx%d has more than %d values", what, a, b, MaxValues)
	}
	return nil
}

// inRange reports an error unless lo <= v <= hi.
func inRange(name string, v, lo, hi int) error {
	if v < lo || v > hi {
		return archErr("%s %d outside [%d, %d]", name, v, lo, hi)
	}
	return nil
}

// OutputShape returns the shape of the layer's output for the input shape
// in, and its parameters' shapes, checking every setting and size.
func (s LayerSpec) OutputShape(in Shape) (Shape, []ParamInfo, error) {
	if err := checkShape(in); err != nil {
		return Shape{}, nil, err
	}
	if err := s.checkInit(); err != nil {
		return Shape{}, nil, err
	}
	switch s.Kind {
	case KindDense:
		return s.denseShape(in)
	case KindConv2D:
		return s.convShape(in)
	case KindMaxPool2D:
		return s.poolShape(in)
	case KindFlatten:
		return Flat(in.Size()), nil, nil
	case KindDropout:
		if !(s.Rate >= 0 && s.Rate < 1) {
			return Shape{}, nil, archErr("dropout rate %g outside [0, 1)", s.Rate)
		}
		return in, nil, nil
	case KindLeakyReLU:
		if !(s.Alpha >= 0) || math.IsInf(s.Alpha, 0) {
			return Shape{}, nil, archErr("leaky ReLU slope %g must be finite and >= 0", s.Alpha)
		}
		return in, nil, nil
	case KindSigmoid, KindTanh, KindReLU, KindSoftmax:
		return in, nil, nil
	case KindNoise:
		if err := checkNoise(s.Noise, s.Rate); err != nil {
			return Shape{}, nil, err
		}
		return in, nil, nil
	case KindGaussianSample:
		if err := inRange("gaussian sample units", s.Units, 1, MaxDim); err != nil {
			return Shape{}, nil, err
		}
		if in.Size() != 2*s.Units {
			return Shape{}, nil, archErr("gaussian sample layer of %d units takes %d inputs (means and log-variances), given %v", s.Units, 2*s.Units, in)
		}
		return Flat(s.Units), nil, nil
	case KindUpsample2D:
		return s.upsampleShape(in)
	case KindDenseTied:
		if err := inRange("tied dense units", s.Units, 1, MaxDim); err != nil {
			return Shape{}, nil, err
		}
		return Flat(s.Units), []ParamInfo{{Name: "bias", Shape: []int{s.Units}}}, nil
	}
	return Shape{}, nil, archErr("unknown layer kind %q", s.Kind)
}

func (s LayerSpec) checkInit() error {
	if _, err := ParseInit(s.Init); err != nil {
		return archErr("%v", err)
	}
	if s.Init != "" && s.Kind != KindDense && s.Kind != KindConv2D {
		return archErr("%s layers have no weights to initialise (init %q)", s.Kind, s.Init)
	}
	return nil
}

func (s LayerSpec) denseShape(in Shape) (Shape, []ParamInfo, error) {
	if err := inRange("dense units", s.Units, 1, MaxDim); err != nil {
		return Shape{}, nil, err
	}
	n := in.Size()
	if err := checkValues("dense weights", n, s.Units); err != nil {
		return Shape{}, nil, err
	}
	return Flat(s.Units), []ParamInfo{{Name: "weights", Shape: []int{n, s.Units}}, {Name: "bias", Shape: []int{s.Units}}}, nil
}

func (s LayerSpec) convShape(in Shape) (Shape, []ParamInfo, error) {
	for _, c := range []struct {
		name      string
		v, lo, hi int
	}{{"conv filters", s.Filters, 1, MaxDim}, {"conv kernel", s.Kernel, 1, MaxDim}, {"conv stride", s.Stride, 1, MaxDim},
		{"conv padding", s.Pad, 0, s.Kernel / 2}} {
		if err := inRange(c.name, c.v, c.lo, c.hi); err != nil {
			return Shape{}, nil, err
		}
	}
	if in.H+2*s.Pad < s.Kernel || in.W+2*s.Pad < s.Kernel {
		return Shape{}, nil, archErr("conv kernel %dx%d larger than its input %v padded by %d", s.Kernel, s.Kernel, in, s.Pad)
	}
	out := Shape{C: s.Filters, H: (in.H+2*s.Pad-s.Kernel)/s.Stride + 1, W: (in.W+2*s.Pad-s.Kernel)/s.Stride + 1}
	if err := checkShape(out); err != nil {
		return Shape{}, nil, err
	}
	if err := checkValues("conv kernel", in.C, s.Kernel*s.Kernel); err != nil { // Kernel^2 <= 2^48
		return Shape{}, nil, err
	}
	if err := checkValues("conv weights", in.C*s.Kernel*s.Kernel, s.Filters); err != nil {
		return Shape{}, nil, err
	}
	// The lowered input of one sample: output positions x kernel values.
	if err := checkValues("conv lowered input", out.H*out.W, in.C*s.Kernel*s.Kernel); err != nil {
		return Shape{}, nil, err
	}
	return out, []ParamInfo{{Name: "weights", Shape: []int{in.C, s.Kernel, s.Kernel, s.Filters}}, {Name: "bias", Shape: []int{s.Filters}}}, nil
}

func (s LayerSpec) upsampleShape(in Shape) (Shape, []ParamInfo, error) {
	if err := inRange("upsample factor", s.Window, 1, MaxDim); err != nil {
		return Shape{}, nil, err
	}
	if in.H > MaxDim/s.Window || in.W > MaxDim/s.Window {
		return Shape{}, nil, archErr("upsampling %v by %d exceeds %d", in, s.Window, MaxDim)
	}
	out := Shape{C: in.C, H: in.H * s.Window, W: in.W * s.Window}
	return out, nil, checkShape(out)
}

func (s LayerSpec) poolShape(in Shape) (Shape, []ParamInfo, error) {
	if err := inRange("pool window", s.Window, 1, MaxDim); err != nil {
		return Shape{}, nil, err
	}
	if err := inRange("pool stride", s.Stride, 1, MaxDim); err != nil {
		return Shape{}, nil, err
	}
	if in.H < s.Window || in.W < s.Window {
		return Shape{}, nil, archErr("pool window %dx%d larger than its input %v", s.Window, s.Window, in)
	}
	return Shape{C: in.C, H: (in.H-s.Window)/s.Stride + 1, W: (in.W-s.Window)/s.Stride + 1}, nil, nil
}

// Params returns the parameter tensors of the architecture, checking every
// layer and that each fits the previous one's output, without allocating
// the parameters.
func (a Arch) Params() ([]ParamInfo, error) {
	if len(a.Layers) == 0 || len(a.Layers) > MaxLayers {
		return nil, archErr("%d layers; a network has 1 to %d", len(a.Layers), MaxLayers)
	}
	var ps []ParamInfo
	cur := a.Input
	ins := make([]Shape, len(a.Layers))
	for i, s := range a.Layers {
		ins[i] = cur
		out, lp, err := s.OutputShape(cur)
		if err == nil {
			err = a.checkTie(i, ins)
		}
		if err != nil {
			return nil, fmt.Errorf("layer %d (%s): %w", i, s.Kind, err)
		}
		for _, p := range lp {
			p.Layer = i
			ps = append(ps, p)
		}
		cur = out
	}
	return ps, nil
}

// checkTie checks that layer i, if tied, names an earlier dense layer
// whose input and output sizes are its output and input sizes (ins[k] the
// input shape of layer k), and that no other kind of layer names one.
func (a Arch) checkTie(i int, ins []Shape) error {
	s := a.Layers[i]
	if s.Kind != KindDenseTied {
		if s.Tie != nil {
			return archErr("only dense_tied layers share weights (tie %d)", *s.Tie)
		}
		return nil
	}
	if s.Tie == nil || *s.Tie < 0 || *s.Tie >= i {
		return archErr("a tied dense layer needs the index of an earlier dense layer")
	}
	k := *s.Tie
	src := a.Layers[k]
	if src.Kind != KindDense {
		return archErr("tied to layer %d, a %s layer, not dense", k, src.Kind)
	}
	if ins[i].Size() != src.Units || s.Units != ins[k].Size() {
		return archErr("tied to layer %d (%d to %d units), but takes %d inputs to %d outputs", k, ins[k].Size(), src.Units, ins[i].Size(), s.Units)
	}
	return nil
}

// Build returns a network of the architecture, its weights zero (call
// Network.Init to draw them, or set them). It checks every layer first, so
// an invalid architecture allocates nothing.
func Build(a Arch) (*Network, error) {
	if _, err := a.Params(); err != nil {
		return nil, err
	}
	layers := make([]Layer, len(a.Layers))
	cur := a.Input
	for i, s := range a.Layers {
		if s.Kind == KindDenseTied {
			layers[i] = TiedDense(layers[*s.Tie].(*DenseLayer))
		} else {
			layers[i] = s.build(cur)
		}
		cur, _, _ = s.OutputShape(cur)
	}
	return New(layers...), nil
}

// build constructs the layer for input shape in; s must be valid for it.
func (s LayerSpec) build(in Shape) Layer {
	init, _ := ParseInit(s.Init)
	switch s.Kind {
	case KindDense:
		return Dense(in.Size(), s.Units, init)
	case KindConv2D:
		return Conv2D(in, s.Filters, s.Kernel, s.Stride, s.Pad, init)
	case KindMaxPool2D:
		return MaxPool2D(in, s.Window, s.Stride)
	case KindFlatten:
		return Flatten()
	case KindDropout:
		return Dropout(s.Rate)
	case KindSigmoid:
		return Sigmoid()
	case KindTanh:
		return Tanh()
	case KindReLU:
		return ReLU()
	case KindLeakyReLU:
		return LeakyReLU(s.Alpha)
	case KindSoftmax:
		return Softmax()
	case KindNoise:
		return Noise(s.Noise, s.Rate)
	case KindGaussianSample:
		return GaussianSample(s.Units)
	case KindUpsample2D:
		return Upsample2D(in, s.Window)
	}
	panic("nn: unknown layer kind " + s.Kind)
}

// Arch returns the network's architecture, which Build turns back into an
// equal network (with zero weights). It fails when the input shape is not
// fixed by a layer or a layer is not a Specifier.
func (n *Network) Arch() (Arch, error) {
	if n.in == (Shape{}) {
		return Arch{}, archErr("no layer fixes the input shape")
	}
	a := Arch{Input: n.in}
	for i, l := range n.layers {
		s, ok := l.(Specifier)
		if !ok {
			return Arch{}, archErr("layer %d (%T) cannot be described", i, l)
		}
		spec := s.Spec()
		if t, ok := l.(*TiedDenseLayer); ok {
			for k, src := range n.layers[:i] {
				if src == Layer(t.Src) {
					spec.Tie = &k
				}
			}
			if spec.Tie == nil {
				return Arch{}, archErr("layer %d is tied to a dense layer that does not come before it", i)
			}
		}
		a.Layers = append(a.Layers, spec)
	}
	return a, nil
}

// mustShape returns the output shape of spec s for input in, panicking with
// the reason when s does not fit (the layer constructors' check).
func mustShape(s LayerSpec, in Shape) Shape {
	out, _, err := s.OutputShape(in)
	if err != nil {
		panic("nn: " + err.Error())
	}
	return out
}

// MemoryBytes estimates the memory, in bytes, of training a network of the
// architecture on minibatches of batch samples: the parameters with their
// gradients, optimiser state and a copy for early stopping, and every
// layer's output and gradient buffers, including a convolution's lowered
// input or its Winograd form's transformed weights, gradients and tiles.
// The training data are not included.
func (a Arch) MemoryBytes(batch int) (float64, error) {
	infos, err := a.Params()
	if err != nil {
		return 0, err
	}
	var params float64
	for _, p := range infos {
		n := 1.0
		for _, d := range p.Shape {
			n *= float64(d)
		}
		params += n
	}
	values := 5 * params // value, gradient, two optimiser moments, best copy
	cur := a.Input
	b := float64(max(batch, evalChunk))
	for _, s := range a.Layers {
		out, _, _ := s.OutputShape(cur)
		values += 3 * b * float64(out.Size()) // output, input gradient, a mask or index
		if s.Kind == KindConv2D {
			// A lowered sample per worker (the input, or with stride 1 the
			// output gradient for the input gradient), and the weight
			// gradient of each chunk of samples.
			kv := float64(cur.C * s.Kernel * s.Kernel)
			lowered := (kv + 1) * float64(out.H*out.W)
			if s.Stride == 1 {
				lowered = max(lowered, float64(s.Filters*s.Kernel*s.Kernel)*float64(cur.H*cur.W))
			}
			values += float64(mat32.Workers()+1)*lowered + convChunks*kv*float64(s.Filters)
			g := convGeom{in: cur, out: out, k: s.Kernel, s: s.Stride, pad: s.Pad, kVals: cur.C * s.Kernel * s.Kernel, nPos: out.H * out.W}
			if s.Stride == 1 && winoPays(g.k, g.in.C, g.out.C, g.nPos) {
				values += winoValues(g, mat32.Workers()+1)
			}
		}
		cur = out
	}
	return 4 * values, nil
}
