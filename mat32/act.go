package mat32

import (
	"fmt"
	"math"
)

// Activation is an element-wise function of a network layer, for Activate
// and ActivateGrad.
type Activation int

// The activations.
const (
	ActSigmoid   Activation = iota // 1/(1+e^-x), x clamped to [-85, 85] as in SigmoidBias
	ActTanh                        // tanh(x)
	ActReLU                        // max(x, 0)
	ActLeakyReLU                   // x when x > 0, else alpha*x
)

// String returns the activation's name as nn's layer specifications spell
// it.
func (f Activation) String() string {
	switch f {
	case ActSigmoid:
		return "sigmoid"
	case ActTanh:
		return "tanh"
	case ActReLU:
		return "relu"
	case ActLeakyReLU:
		return "leaky_relu"
	}
	return fmt.Sprintf("Activation(%d)", int(f))
}

// Activate sets y[i] = f(x[i]) for every i < len(x); alpha is the leaky
// ReLU's slope for inputs that are not positive. ReLU keeps NaN and maps
// -0 to +0. Results are the same on every kernel path. It panics if y is
// shorter than x.
func Activate(f Activation, alpha float32, x, y []float32) {
	y = y[:len(x)]
	switch f {
	case ActSigmoid:
		activate(actSigmoid, alpha, x, nil, nil, y)
	case ActReLU:
		activate(actReLU, alpha, x, nil, nil, y)
	case ActLeakyReLU:
		activate(actLeaky, alpha, x, nil, nil, y)
	case ActTanh:
		for i, v := range x {
			y[i] = float32(math.Tanh(float64(v)))
		}
	default:
		panic(fmt.Sprintf("mat32: Activate of unknown %v", f))
	}
}

// ActivateGrad sets dx[i] = dy[i] * f'(x[i]) for every i < len(dy): the
// gradient through f of a layer with input x and output y = f(x) (sigmoid
// and tanh read y, ReLU and leaky ReLU read x; the derivative of both at
// 0 is taken from the negative side). dx may be dy. It panics if x or y
// (whichever f reads) or dx is shorter than dy.
func ActivateGrad(f Activation, alpha float32, x, y, dy, dx []float32) {
	dx = dx[:len(dy)]
	switch f {
	case ActSigmoid:
		activate(actSigmoidGrad, alpha, nil, y[:len(dy)], dy, dx)
	case ActTanh:
		activate(actTanhGrad, alpha, nil, y[:len(dy)], dy, dx)
	case ActReLU:
		activate(actReLUGrad, alpha, x[:len(dy)], nil, dy, dx)
	case ActLeakyReLU:
		activate(actLeakyGrad, alpha, x[:len(dy)], nil, dy, dx)
	default:
		panic(fmt.Sprintf("mat32: ActivateGrad of unknown %v", f))
	}
}
