package nn

import (
	"math/rand/v2"

	"github.com/harmonium-ml/harmonium/mat32"
)

// TiedDenseLayer is a fully connected layer that uses the transpose of
// another dense layer's weights, y = xW' + b, with biases of its own: the
// decoder of an autoencoder with tied weights. The gradient of the shared
// weights is the sum of both layers' gradients; for that the tied layer
// must come after its source in the network (its Backward runs first and
// the source's adds to it).
type TiedDenseLayer struct {
	Src *DenseLayer // the layer whose weights, transposed, this one uses
	B   []float32   // Src.In() biases

	gB     []float32
	params []Param
	x      *mat32.Dense
	bufs   map[int]*denseBuf
	cur    *denseBuf
}

// TiedDense returns a layer from src.Out() to src.In() units using the
// transpose of src's weights, with zero biases.
func TiedDense(src *DenseLayer) *TiedDenseLayer {
	n := src.In()
	l := &TiedDenseLayer{Src: src, B: make([]float32, n), gB: make([]float32, n), bufs: map[int]*denseBuf{}}
	l.params = []Param{{Name: "bias", Value: mat32.FromSlice(1, n, l.B), Grad: mat32.FromSlice(1, n, l.gB), Shape: []int{n}}}
	src.tied = true
	return l
}

// InputShape returns a vector of Src.Out() values.
func (l *TiedDenseLayer) InputShape() Shape { return Flat(l.Src.Out()) }

// OutputShape returns a vector of Src.In() values, for an input of
// Src.Out().
func (l *TiedDenseLayer) OutputShape(in Shape) (Shape, error) {
	if in.Size() != l.Src.Out() {
		return Shape{}, archErr("tied dense layer takes %d inputs, given %v", l.Src.Out(), in)
	}
	return Flat(l.Src.In()), nil
}

// Spec describes the layer; Network.Arch fills in the index of Src.
func (l *TiedDenseLayer) Spec() LayerSpec {
	return LayerSpec{Kind: KindDenseTied, Units: l.Src.In()}
}

// Params returns the bias only: the weights are Src's.
func (l *TiedDenseLayer) Params() []Param { return l.params }

func (l *TiedDenseLayer) initialize(*rand.Rand) { clear(l.B) }

// Forward returns xW' + b.
func (l *TiedDenseLayer) Forward(x *mat32.Dense, train bool) *mat32.Dense {
	b, ok := l.bufs[x.Rows]
	if !ok {
		b = &denseBuf{y: mat32.New(x.Rows, l.Src.In()), dx: mat32.New(x.Rows, l.Src.Out())}
		l.bufs[x.Rows] = b
	}
	l.x, l.cur = x, b
	for i := range b.y.Rows {
		copy(b.y.Row(i), l.B)
	}
	mat32.Gemm(false, true, 1, x, l.Src.W, 1, b.y)
	return b.y
}

// Backward sets Src's weight gradient to dy'x (Src's own Backward then
// adds its part), the bias gradient to the column sums of dy, and returns
// dy W.
func (l *TiedDenseLayer) Backward(dy *mat32.Dense) *mat32.Dense {
	mat32.Gemm(true, false, 1, dy, l.x, 0, l.Src.gW)
	clear(l.gB)
	mat32.ColumnSums(l.gB, 1, dy)
	mat32.Gemm(false, false, 1, dy, l.Src.W, 0, l.cur.dx)
	return l.cur.dx
}
