package nn

import (
	"github.com/harmonium-ml/harmonium/mat32"
)

// ActivationLayer applies a function to each value: sigmoid, tanh, ReLU or
// leaky ReLU.
type ActivationLayer struct {
	kind  actKind
	alpha float64 // leaky ReLU's slope below zero

	x, dy    *mat32.Dense
	bufs     map[int]*actBuf
	cur      *actBuf
	fwd, bwd func(r0, r1 int)
}

type actBuf struct{ y, dx *mat32.Dense }

func newActivation(k actKind, alpha float64) *ActivationLayer {
	l := &ActivationLayer{kind: k, alpha: alpha, bufs: map[int]*actBuf{}}
	l.fwd, l.bwd = l.forwardRows, l.backwardRows
	return l
}

// Sigmoid returns a layer computing 1/(1+e^-x).
func Sigmoid() *ActivationLayer { return newActivation(actSigmoid, 0) }

// Tanh returns a layer computing tanh(x).
func Tanh() *ActivationLayer { return newActivation(actTanh, 0) }

// ReLU returns a layer computing max(x, 0) (its gradient at 0 is taken as 0).
func ReLU() *ActivationLayer { return newActivation(actReLU, 0) }

// LeakyReLU returns a layer computing x for x > 0 and alpha*x otherwise;
// alpha must be finite and >= 0.
func LeakyReLU(alpha float64) *ActivationLayer {
	mustShape(LayerSpec{Kind: KindLeakyReLU, Alpha: alpha}, Flat(1))
	return newActivation(actLeakyReLU, alpha)
}

// OutputShape returns in: the shape is kept.
func (l *ActivationLayer) OutputShape(in Shape) (Shape, error) { return in, nil }

// Spec describes the layer.
func (l *ActivationLayer) Spec() LayerSpec {
	switch l.kind {
	case actSigmoid:
		return LayerSpec{Kind: KindSigmoid}
	case actTanh:
		return LayerSpec{Kind: KindTanh}
	case actReLU:
		return LayerSpec{Kind: KindReLU}
	}
	return LayerSpec{Kind: KindLeakyReLU, Alpha: l.alpha}
}

// Params returns nothing: the layer has no parameters.
func (l *ActivationLayer) Params() []Param { return nil }

func (l *ActivationLayer) buf(x *mat32.Dense) *actBuf {
	b, ok := l.bufs[x.Rows]
	if !ok || b.y.Cols != x.Cols {
		b = &actBuf{y: mat32.New(x.Rows, x.Cols), dx: mat32.New(x.Rows, x.Cols)}
		l.bufs[x.Rows] = b
	}
	return b
}

// Forward applies the function to every value of x.
func (l *ActivationLayer) Forward(x *mat32.Dense, train bool) *mat32.Dense {
	l.x, l.cur = x, l.buf(x)
	parallel(x.Rows, x.Cols, l.fwd)
	return l.cur.y
}

func (l *ActivationLayer) forwardRows(r0, r1 int) {
	c := l.x.Cols
	activate(l.kind, float32(l.alpha), l.x.Data[r0*c:r1*c], l.cur.y.Data[r0*c:r1*c])
}

// Backward returns dy times the function's derivative at the last input.
func (l *ActivationLayer) Backward(dy *mat32.Dense) *mat32.Dense {
	l.dy = dy
	parallel(dy.Rows, dy.Cols, l.bwd)
	l.dy = nil
	return l.cur.dx
}

func (l *ActivationLayer) backwardRows(r0, r1 int) {
	c := l.x.Cols
	lo, hi := r0*c, r1*c
	activateGrad(l.kind, float32(l.alpha), l.x.Data[lo:hi], l.cur.y.Data[lo:hi], l.dy.Data[lo:hi], l.cur.dx.Data[lo:hi])
}

// SoftmaxLayer turns each row into probabilities: e^x_j / sum_k e^x_k. A
// classifier's output layer needs none: SoftmaxCrossEntropy takes logits.
type SoftmaxLayer struct {
	x, dy    *mat32.Dense
	bufs     map[int]*actBuf
	cur      *actBuf
	fwd, bwd func(r0, r1 int)
}

// Softmax returns a softmax layer.
func Softmax() *SoftmaxLayer {
	l := &SoftmaxLayer{bufs: map[int]*actBuf{}}
	l.fwd, l.bwd = l.forwardRows, l.backwardRows
	return l
}

// OutputShape returns in: the shape is kept.
func (l *SoftmaxLayer) OutputShape(in Shape) (Shape, error) { return in, nil }

// Spec describes the layer.
func (l *SoftmaxLayer) Spec() LayerSpec { return LayerSpec{Kind: KindSoftmax} }

// Params returns nothing: the layer has no parameters.
func (l *SoftmaxLayer) Params() []Param { return nil }

// Forward returns the softmax of each row of x.
func (l *SoftmaxLayer) Forward(x *mat32.Dense, train bool) *mat32.Dense {
	b, ok := l.bufs[x.Rows]
	if !ok || b.y.Cols != x.Cols {
		b = &actBuf{y: mat32.New(x.Rows, x.Cols), dx: mat32.New(x.Rows, x.Cols)}
		l.bufs[x.Rows] = b
	}
	l.x, l.cur = x, b
	parallel(x.Rows, x.Cols, l.fwd)
	return b.y
}

func (l *SoftmaxLayer) forwardRows(r0, r1 int) {
	c := l.x.Cols
	softmaxRows(l.x.Data[r0*c:r1*c], l.cur.y.Data[r0*c:r1*c], c)
}

// Backward returns y*(dy - sum(dy*y)) for each row, y the last output.
func (l *SoftmaxLayer) Backward(dy *mat32.Dense) *mat32.Dense {
	l.dy = dy
	parallel(dy.Rows, dy.Cols, l.bwd)
	l.dy = nil
	return l.cur.dx
}

func (l *SoftmaxLayer) backwardRows(r0, r1 int) {
	c := l.x.Cols
	lo, hi := r0*c, r1*c
	softmaxGradRows(l.cur.y.Data[lo:hi], l.dy.Data[lo:hi], l.cur.dx.Data[lo:hi], c)
}

// DropoutLayer is inverted dropout: in training each value is kept with
// probability 1-Rate and scaled by 1/(1-Rate), else set to 0; in
// evaluation the input passes unchanged. The mask comes from a
// counter-based stream (mat32.RNG), so it does not depend on the number of
// workers.
type DropoutLayer struct {
	Rate float64 // probability of dropping a value, in [0, 1)

	rng      *mat32.RNG
	x, dy    *mat32.Dense
	bufs     map[int]*dropBuf
	cur      *dropBuf // nil after an evaluation-mode Forward
	fwd, bwd func(r0, r1 int)
}

type dropBuf struct{ mask, y, dx *mat32.Dense }

// Dropout returns a dropout layer dropping values with probability rate in
// [0, 1). Its stream starts at seed 0; trainers reseed it (see Seeder).
func Dropout(rate float64) *DropoutLayer {
	mustShape(LayerSpec{Kind: KindDropout, Rate: rate}, Flat(1))
	l := &DropoutLayer{Rate: rate, rng: mat32.NewRNG(0, 0), bufs: map[int]*dropBuf{}}
	l.fwd, l.bwd = l.forwardRows, l.backwardRows
	return l
}

// Seed restarts the layer's random stream.
func (l *DropoutLayer) Seed(seed, stream uint64) { l.rng = mat32.NewRNG(seed, stream) }

// OutputShape returns in: the shape is kept.
func (l *DropoutLayer) OutputShape(in Shape) (Shape, error) { return in, nil }

// Spec describes the layer.
func (l *DropoutLayer) Spec() LayerSpec { return LayerSpec{Kind: KindDropout, Rate: l.Rate} }

// Params returns nothing: the layer has no parameters.
func (l *DropoutLayer) Params() []Param { return nil }

// Forward returns x with dropout applied when train is set, else x itself.
func (l *DropoutLayer) Forward(x *mat32.Dense, train bool) *mat32.Dense {
	if !train || l.Rate == 0 {
		l.cur = nil
		return x
	}
	b, ok := l.bufs[x.Rows]
	if !ok || b.y.Cols != x.Cols {
		b = &dropBuf{mask: mat32.New(x.Rows, x.Cols), y: mat32.New(x.Rows, x.Cols), dx: mat32.New(x.Rows, x.Cols)}
		l.bufs[x.Rows] = b
	}
	keep := float32(1 - l.Rate)
	for i := range b.mask.Data {
		b.mask.Data[i] = keep
	}
	mat32.Bernoulli(b.mask, b.mask, l.rng)
	l.x, l.cur = x, b
	parallel(x.Rows, x.Cols, l.fwd)
	return b.y
}

func (l *DropoutLayer) forwardRows(r0, r1 int) {
	c := l.x.Cols
	lo, hi := r0*c, r1*c
	dropMask(l.x.Data[lo:hi], l.cur.mask.Data[lo:hi], l.cur.y.Data[lo:hi], float32(1/(1-l.Rate)))
}

// Backward returns dy times the last training Forward's scaled mask (dy
// itself after an evaluation-mode Forward).
func (l *DropoutLayer) Backward(dy *mat32.Dense) *mat32.Dense {
	if l.cur == nil {
		return dy
	}
	l.dy = dy
	parallel(dy.Rows, dy.Cols, l.bwd)
	l.dy = nil
	return l.cur.dx
}

func (l *DropoutLayer) backwardRows(r0, r1 int) {
	c := l.dy.Cols
	lo, hi := r0*c, r1*c
	mulInto(l.cur.dx.Data[lo:hi], l.dy.Data[lo:hi], l.cur.mask.Data[lo:hi])
}

// FlattenLayer turns image rows into vectors. Rows are already flat, so it
// passes values through unchanged; it marks the change of shape.
type FlattenLayer struct{}

// Flatten returns a flatten layer.
func Flatten() *FlattenLayer { return &FlattenLayer{} }

// OutputShape returns a vector of in.Size() values.
func (l *FlattenLayer) OutputShape(in Shape) (Shape, error) { return Flat(in.Size()), nil }

// Spec describes the layer.
func (l *FlattenLayer) Spec() LayerSpec { return LayerSpec{Kind: KindFlatten} }

// Params returns nothing: the layer has no parameters.
func (l *FlattenLayer) Params() []Param { return nil }

// Forward returns x.
func (l *FlattenLayer) Forward(x *mat32.Dense, train bool) *mat32.Dense { return x }

// Backward returns dy.
func (l *FlattenLayer) Backward(dy *mat32.Dense) *mat32.Dense { return dy }
