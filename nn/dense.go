package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/harmonium-ml/harmonium/mat32"
)

// Init is how Network.Init draws a layer's weights; biases start at zero.
type Init int

const (
	// Given leaves the weights as they are: zero, or set from given tensors.
	Given Init = iota
	// Xavier is Glorot and Bengio's uniform initialisation: weights from
	// U(-a, a), a = sqrt(6 / (fanIn + fanOut)).
	Xavier
	// He is He et al.'s normal initialisation for ReLU layers: weights from
	// N(0, 2 / fanIn).
	He
	// Uniform is PyTorch's default for its Linear and Conv layers (Kaiming
	// uniform with a = sqrt(5)): weights from U(-a, a), a = 1/sqrt(fanIn).
	Uniform
)

// String returns the name ParseInit reads: "", "xavier", "he" or "uniform".
func (i Init) String() string {
	switch i {
	case Xavier:
		return "xavier"
	case He:
		return "he"
	case Uniform:
		return "uniform"
	}
	return ""
}

// ParseInit returns the Init named s ("" for Given, "xavier", "he" or
// "uniform").
func ParseInit(s string) (Init, error) {
	switch s {
	case "":
		return Given, nil
	case "xavier":
		return Xavier, nil
	case "he":
		return He, nil
	case "uniform":
		return Uniform, nil
	}
	return Given, fmt.Errorf("unknown initialisation %q (want he, xavier or uniform)", s)
}

// fill draws w according to i for a layer with the given fan-in and fan-out.
func (i Init) fill(w []float32, fanIn, fanOut int, r *rand.Rand) {
	switch i {
	case Xavier:
		a := math.Sqrt(6 / float64(fanIn+fanOut))
		for k := range w {
			w[k] = float32(a * (2*r.Float64() - 1))
		}
	case He:
		sd := math.Sqrt(2 / float64(fanIn))
		for k := range w {
			w[k] = float32(sd * r.NormFloat64())
		}
	case Uniform:
		a := 1 / math.Sqrt(float64(fanIn))
		for k := range w {
			w[k] = float32(a * (2*r.Float64() - 1))
		}
	}
}

// DenseLayer is a fully connected layer: y = xW + b.
type DenseLayer struct {
	W    *mat32.Dense // In x Out: column j holds the incoming weights of unit j
	B    []float32    // Out biases
	Init Init         // how Network.Init draws W

	tied   bool // a TiedDenseLayer shares W: add to its weight gradient
	gW     *mat32.Dense
	gB     []float32
	params []Param
	x      *mat32.Dense
	bufs   map[int]*denseBuf
	cur    *denseBuf
}

type denseBuf struct{ y, dx *mat32.Dense }

// Dense returns a fully connected layer from in to out units with zero
// weights, drawn by Network.Init according to init.
func Dense(in, out int, init Init) *DenseLayer {
	mustShape(LayerSpec{Kind: KindDense, Units: out}, Flat(in))
	l := &DenseLayer{W: mat32.New(in, out), B: make([]float32, out), Init: init}
	l.gW, l.gB = mat32.New(in, out), make([]float32, out)
	l.params = []Param{
		{Name: "weights", Value: l.W, Grad: l.gW, Shape: []int{in, out}, Weight: true},
		{Name: "bias", Value: mat32.FromSlice(1, out, l.B), Grad: mat32.FromSlice(1, out, l.gB), Shape: []int{out}},
	}
	l.bufs = map[int]*denseBuf{}
	return l
}

// DenseFrom returns a fully connected layer with copies of the given
// weights (in x out, as an RBM's W) and biases (out, as an RBM's hidden
// biases); Network.Init leaves them.
func DenseFrom(w *mat32.Dense, bias []float32) *DenseLayer {
	if len(bias) != w.Cols {
		panic(fmt.Sprintf("nn: %d biases for %d units", len(bias), w.Cols))
	}
	l := Dense(w.Rows, w.Cols, Given)
	copy(l.W.Data, w.Data)
	copy(l.B, bias)
	return l
}

// In returns the number of inputs.
func (l *DenseLayer) In() int { return l.W.Rows }

// Out returns the number of outputs.
func (l *DenseLayer) Out() int { return l.W.Cols }

// InputShape returns the shape of the layer's input, a vector of In values.
func (l *DenseLayer) InputShape() Shape { return Flat(l.In()) }

// OutputShape returns a vector of Out values, for an input of In values.
func (l *DenseLayer) OutputShape(in Shape) (Shape, error) {
	if in.Size() != l.In() {
		return Shape{}, archErr("dense layer takes %d inputs, given %v", l.In(), in)
	}
	return Flat(l.Out()), nil
}

// Spec describes the layer.
func (l *DenseLayer) Spec() LayerSpec {
	return LayerSpec{Kind: KindDense, Units: l.Out(), Init: l.Init.String()}
}

// Params returns the weights and the bias.
func (l *DenseLayer) Params() []Param { return l.params }

func (l *DenseLayer) initialize(r *rand.Rand) {
	if l.Init == Given {
		return
	}
	l.Init.fill(l.W.Data, l.In(), l.Out(), r)
	clear(l.B)
}

func (l *DenseLayer) buf(n int) *denseBuf {
	b, ok := l.bufs[n]
	if !ok {
		b = &denseBuf{y: mat32.New(n, l.Out()), dx: mat32.New(n, l.In())}
		l.bufs[n] = b
	}
	return b
}

// Forward returns xW + b.
func (l *DenseLayer) Forward(x *mat32.Dense, train bool) *mat32.Dense {
	l.x, l.cur = x, l.buf(x.Rows)
	y := l.cur.y
	for i := range y.Rows {
		copy(y.Row(i), l.B)
	}
	mat32.Gemm(false, false, 1, x, l.W, 1, y)
	return y
}

// Backward sets dW = x'dy and db = the column sums of dy, and returns dy W'.
func (l *DenseLayer) Backward(dy *mat32.Dense) *mat32.Dense {
	l.backwardParams(dy)
	mat32.Gemm(false, true, 1, dy, l.W, 0, l.cur.dx)
	return l.cur.dx
}

func (l *DenseLayer) backwardParams(dy *mat32.Dense) {
	var beta float32
	if l.tied {
		beta = 1
	}
	mat32.Gemm(true, false, 1, l.x, dy, beta, l.gW)
	clear(l.gB)
	mat32.ColumnSums(l.gB, 1, dy)
}
