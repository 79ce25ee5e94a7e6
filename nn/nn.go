// Package nn implements feed-forward neural networks trained by
// backpropagation on harmonium's float32 matrices: layers (dense, 2-D
// convolution, max-pooling, flattening, dropout), activations (sigmoid,
// tanh, ReLU, leaky ReLU, softmax), losses (softmax and binary
// cross-entropy from logits, squared error), weight initialisation,
// optimisers (SGD with momentum or Nesterov momentum, AdaGrad, RMSprop,
// Adam), L1, L2 and max-norm regularisation, learning-rate schedules,
// early stopping, and a minibatch trainer.
//
// A network is a list of layers applied in turn to a minibatch, one sample
// per row of a *mat32.Dense. Image layers take rows of C*H*W values,
// channel-major: value (c, i, j) of a sample is at column c*H*W + i*W + j.
//
//	net := nn.New(nn.Dense(784, 800, nn.He), nn.ReLU(), nn.Dropout(0.5), nn.Dense(800, 10, nn.Xavier))
//
// Layers own the matrices they return: once warm (one minibatch of each
// size seen), forward and backward passes allocate nothing. Products go to
// mat32.Gemm; element-wise loops are spread over the cores. A Network is
// not safe for concurrent use: its layers keep the state of the last pass.
package nn

import (
	"fmt"
	"math/rand/v2"

	"github.com/harmonium-ml/harmonium/mat32"
)

// Layer is one stage of a network.
type Layer interface {
	// Forward returns the layer's output for the rows of x; train selects
	// training behaviour (dropout drops units). The result belongs to the
	// layer and is overwritten by the next Forward; x must not change
	// until the matching Backward.
	Forward(x *mat32.Dense, train bool) *mat32.Dense
	// Backward takes the gradient of the loss with respect to the last
	// Forward's output, sets the gradients of the layer's parameters and
	// returns the gradient with respect to its input (owned by the layer).
	Backward(dy *mat32.Dense) *mat32.Dense
	// Params returns the layer's parameters with their gradients (none for
	// layers without parameters).
	Params() []Param
}

// Param is a parameter tensor of a layer with its gradient.
type Param struct {
	Name  string       // "weights" or "bias"
	Value *mat32.Dense // the values as the optimisers see them
	Grad  *mat32.Dense // gradient of the loss, same shape; set by Backward
	Shape []int        // the tensor's shape in a model file (same values, row-major)
	// Weight marks connection weights, to which L1, L2 and max-norm apply
	// (not biases). Each column of a weight matrix holds the incoming
	// weights of one unit (filter).
	Weight bool
}

// Shaper is implemented by layers that know their output shape for an
// input shape; all of this package's layers do, and New checks with it that
// the layers of a network fit together.
type Shaper interface {
	OutputShape(in Shape) (Shape, error)
}

// Seeder is implemented by layers that draw random numbers (Dropout): Seed
// restarts their random stream, so that training is reproducible.
type Seeder interface {
	Seed(seed, stream uint64)
}

// Specifier is implemented by layers that can be described by a LayerSpec
// (all of this package's layers): a network of them has an Arch and can be
// saved.
type Specifier interface {
	Spec() LayerSpec
}

// inputShaper is implemented by layers whose input shape is fixed at
// construction.
type inputShaper interface {
	InputShape() Shape
}

// initializer is implemented by layers whose weights Network.Init draws.
type initializer interface {
	initialize(r *rand.Rand)
}

// paramBackwarder is implemented by layers that can set their parameter
// gradients without computing the gradient with respect to their input,
// which the first layer with parameters of a network does not need.
type paramBackwarder interface {
	backwardParams(dy *mat32.Dense)
}

// Network is a list of layers applied in turn.
type Network struct {
	layers []Layer
	in     Shape // zero when no layer fixes it
	out    Shape // zero when unknown
	first  int   // index of the first layer with parameters (len(layers) if none)
}

// New returns the network of the given layers, applied in order. It panics
// if their shapes do not fit together (a programming error; Build returns
// an error instead). Weights are as the layers were constructed (zero for
// Dense and Conv2D): call Init to draw them.
func New(layers ...Layer) *Network {
	n, err := newNetwork(layers)
	if err != nil {
		panic("nn: " + err.Error())
	}
	return n
}

func newNetwork(layers []Layer) (*Network, error) {
	n := &Network{layers: layers, first: len(layers)}
	for i, l := range layers {
		if len(l.Params()) > 0 && n.first == len(layers) {
			n.first = i
		}
		if is, ok := l.(inputShaper); ok && n.in == (Shape{}) {
			n.in = is.InputShape()
		}
	}
	if n.in == (Shape{}) {
		return n, nil
	}
	cur := n.in
	for i, l := range layers {
		s, ok := l.(Shaper)
		if !ok {
			return n, nil
		}
		out, err := s.OutputShape(cur)
		if err != nil {
			return nil, fmt.Errorf("layer %d (%T): %w", i, l, err)
		}
		cur = out
	}
	n.out = cur
	return n, nil
}

// Layers returns the network's layers (shared, not copied).
func (n *Network) Layers() []Layer { return n.layers }

// InputShape returns the shape of a sample the network takes (zero if no
// layer fixes it).
func (n *Network) InputShape() Shape { return n.in }

// OutputShape returns the shape of the network's output per sample (zero
// if unknown).
func (n *Network) OutputShape() Shape { return n.out }

// Params returns the parameters of all layers, in layer order.
func (n *Network) Params() []Param {
	var ps []Param
	for _, l := range n.layers {
		ps = append(ps, l.Params()...)
	}
	return ps
}

// Init draws the weights of every Dense and Conv2D layer whose Init is not
// Given, from a stream of the seed per layer, and sets their biases to
// zero. The same seed gives the same weights.
func (n *Network) Init(seed uint64) {
	for i, l := range n.layers {
		if in, ok := l.(initializer); ok {
			in.initialize(rand.New(rand.NewPCG(seed, uint64(i))))
		}
	}
}

// Forward runs the layers on the rows of x and returns the last layer's
// output (owned by that layer). It panics if x does not have
// InputShape().Size() columns.
func (n *Network) Forward(x *mat32.Dense, train bool) *mat32.Dense {
	if s := n.in.Size(); s > 0 && x.Cols != s {
		panic(fmt.Sprintf("nn: input has %d values per sample, the network takes %d (%v)", x.Cols, s, n.in))
	}
	for _, l := range n.layers {
		x = l.Forward(x, train)
	}
	return x
}

// Backward propagates dy, the gradient of the loss with respect to the
// last Forward's output, back through the layers, setting every
// parameter's gradient. It does not compute the gradient with respect to
// the network's input.
func (n *Network) Backward(dy *mat32.Dense) {
	for i := len(n.layers) - 1; i > n.first; i-- {
		dy = n.layers[i].Backward(dy)
	}
	if n.first < len(n.layers) {
		if pb, ok := n.layers[n.first].(paramBackwarder); ok {
			pb.backwardParams(dy)
		} else {
			n.layers[n.first].Backward(dy)
		}
	}
}

// evalChunk is how many samples Outputs, Predict, Features and Evaluate
// pass through the network at once.
const evalChunk = 100

// Features returns, for every row of x, the output of layer k (0-based) in
// evaluation mode (no dropout): the last layer's for k = len(Layers())-1.
func (n *Network) Features(x *mat32.Dense, k int) *mat32.Dense {
	if k < 0 || k >= len(n.layers) {
		panic(fmt.Sprintf("nn: layer %d of a %d-layer network", k, len(n.layers)))
	}
	var res *mat32.Dense
	n.chunks(x, k, evalChunk, func(r0 int, out *mat32.Dense) {
		if res == nil {
			res = mat32.New(x.Rows, out.Cols)
		}
		copy(res.Data[r0*out.Cols:], out.Data)
	})
	if res == nil {
		res = mat32.New(0, 0)
	}
	return res
}

// Outputs returns the network's output for every row of x in evaluation
// mode: logits for a classifier trained with SoftmaxCrossEntropy.
func (n *Network) Outputs(x *mat32.Dense) *mat32.Dense {
	return n.Features(x, len(n.layers)-1)
}

// Predict returns the index of the largest output for every row of x (the
// first on ties): the predicted class of a classifier.
func (n *Network) Predict(x *mat32.Dense) []int {
	pred := make([]int, x.Rows)
	n.chunks(x, len(n.layers)-1, evalChunk, func(r0 int, out *mat32.Dense) {
		for i := range out.Rows {
			pred[r0+i] = argmax(out.Row(i))
		}
	})
	return pred
}

// chunks runs layers 0..k in evaluation mode on chunks of up to size rows
// of x, calling f with each chunk's first row and output.
func (n *Network) chunks(x *mat32.Dense, k, size int, f func(r0 int, out *mat32.Dense)) {
	for r0 := 0; r0 < x.Rows; r0 += size {
		out := x.Slice(r0, min(r0+size, x.Rows))
		if s := n.in.Size(); s > 0 && out.Cols != s {
			panic(fmt.Sprintf("nn: input has %d values per sample, the network takes %d (%v)", out.Cols, s, n.in))
		}
		for _, l := range n.layers[:k+1] {
			out = l.Forward(out, false)
		}
		f(r0, out)
	}
}

func argmax(row []float32) int {
	best := 0
	for j, v := range row {
		if v > row[best] {
			best = j
		}
	}
	return best
}

// Shape is the shape of one sample: C channels of H x W values, or, for
// plain vectors, C values with H = W = 1.
type Shape struct {
	C int `json:"c"`
	H int `json:"h"`
	W int `json:"w"`
}

// Flat returns the shape of a vector of n values.
func Flat(n int) Shape { return Shape{C: n, H: 1, W: 1} }

// Size returns the number of values of a sample, C*H*W.
func (s Shape) Size() int { return s.C * s.H * s.W }

// String returns "CxHxW", or "N" for a vector.
func (s Shape) String() string {
	if s.H == 1 && s.W == 1 {
		return fmt.Sprint(s.C)
	}
	return fmt.Sprintf("%dx%dx%d", s.C, s.H, s.W)
}
