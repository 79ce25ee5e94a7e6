package nn

import (
	"math/rand/v2"

	"github.com/harmonium-ml/harmonium/mat32"
)

// Conv2DLayer is a 2-D convolution (cross-correlation, as in PyTorch) of
// square kernels over images with zero padding and a stride. It lowers the
// minibatch with im2col to one product: the input of every output position
// of every sample is a row of a (N*OH*OW) x (C*K*K) matrix, times the
// (C*K*K) x Filters weights.
type Conv2DLayer struct {
	// W holds filter f in column f, its rows in the order (channel, kernel
	// row, kernel column); a model file stores it as [C, K, K, Filters].
	W    *mat32.Dense
	B    []float32 // one bias per filter
	Init Init      // how Network.Init draws W

	g      convGeom
	gW     *mat32.Dense
	gB     []float32
	params []Param

	x, dy *mat32.Dense
	bufs  map[int]*convBuf
	cur   *convBuf
	// Row functions bound once (see parallel).
	lowerFn, outFn, gradInFn, biasFn, raiseFn func(r0, r1 int)
}

// convBuf holds a minibatch size's matrices. col is the lowered input and,
// after the weight gradient, the gradient of the lowered input; prod holds
// the product by output position and then the output gradient laid out
// the same way.
type convBuf struct {
	col, prod, y, dx *mat32.Dense
}

// Conv2D returns a convolution of the given number of square kernel x
// kernel filters over inputs of shape in, moving by stride and padding each
// side with pad zeros (at most kernel/2). Weights are zero until
// Network.Init draws them according to init. The output shape is
// Filters x ((H+2*pad-kernel)/stride+1) x ((W+2*pad-kernel)/stride+1).
func Conv2D(in Shape, filters, kernel, stride, pad int, init Init) *Conv2DLayer {
	out := mustShape(LayerSpec{Kind: KindConv2D, Filters: filters, Kernel: kernel, Stride: stride, Pad: pad}, in)
	kv := in.C * kernel * kernel
	l := &Conv2DLayer{W: mat32.New(kv, filters), B: make([]float32, filters), Init: init,
		g:  convGeom{in: in, out: out, k: kernel, s: stride, pad: pad, kVals: kv, nPos: out.H * out.W},
		gW: mat32.New(kv, filters), gB: make([]float32, filters), bufs: map[int]*convBuf{}}
	l.params = []Param{
		{Name: "weights", Value: l.W, Grad: l.gW, Shape: []int{in.C, kernel, kernel, filters}, Weight: true},
		{Name: "bias", Value: mat32.FromSlice(1, filters, l.B), Grad: mat32.FromSlice(1, filters, l.gB), Shape: []int{filters}},
	}
	l.lowerFn, l.outFn, l.gradInFn, l.biasFn, l.raiseFn = l.lowerRows, l.outRows, l.gradInRows, l.biasRows, l.raiseRows
	return l
}

// InputShape returns the shape of the images the layer takes.
func (l *Conv2DLayer) InputShape() Shape { return l.g.in }

// OutputShape returns the shape of the layer's output for its input shape.
func (l *Conv2DLayer) OutputShape(in Shape) (Shape, error) {
	if in != l.g.in {
		return Shape{}, archErr("conv layer takes %v, given %v", l.g.in, in)
	}
	return l.g.out, nil
}

// Spec describes the layer.
func (l *Conv2DLayer) Spec() LayerSpec {
	return LayerSpec{Kind: KindConv2D, Filters: l.g.out.C, Kernel: l.g.k, Stride: l.g.s, Pad: l.g.pad, Init: l.Init.String()}
}

// Params returns the weights and the bias.
func (l *Conv2DLayer) Params() []Param { return l.params }

func (l *Conv2DLayer) initialize(r *rand.Rand) {
	if l.Init == Given {
		return
	}
	kk := l.g.k * l.g.k
	l.Init.fill(l.W.Data, l.g.in.C*kk, l.g.out.C*kk, r)
	clear(l.B)
}

func (l *Conv2DLayer) buf(n int) *convBuf {
	b, ok := l.bufs[n]
	if !ok {
		rows := n * l.g.nPos
		b = &convBuf{col: mat32.New(rows, l.g.kVals), prod: mat32.New(rows, l.g.out.C),
			y: mat32.New(n, l.g.out.Size()), dx: mat32.New(n, l.g.in.Size())}
		l.bufs[n] = b
	}
	return b
}

// Forward returns the convolution of each row of x plus the biases.
func (l *Conv2DLayer) Forward(x *mat32.Dense, train bool) *mat32.Dense {
	l.x, l.cur = x, l.buf(x.Rows)
	parallel(x.Rows, l.g.nPos*l.g.kVals, l.lowerFn)
	mat32.Gemm(false, false, 1, l.cur.col, l.W, 0, l.cur.prod)
	parallel(x.Rows, l.g.out.Size(), l.outFn)
	return l.cur.y
}

func (l *Conv2DLayer) lowerRows(r0, r1 int) {
	in, pk := l.g.in.Size(), l.g.nPos*l.g.kVals
	for n := r0; n < r1; n++ {
		im2col(&l.g, l.x.Data[n*in:(n+1)*in], l.cur.col.Data[n*pk:(n+1)*pk])
	}
}

func (l *Conv2DLayer) outRows(r0, r1 int) {
	out, pf := l.g.out.Size(), l.g.nPos*l.g.out.C
	for n := r0; n < r1; n++ {
		toChannelMajor(l.cur.prod.Data[n*pf:(n+1)*pf], l.cur.y.Data[n*out:(n+1)*out], l.B, l.g.nPos)
	}
}

// Backward sets the weight and bias gradients and returns the gradient
// with respect to the input.
func (l *Conv2DLayer) Backward(dy *mat32.Dense) *mat32.Dense {
	l.backwardParams(dy)
	b := l.cur
	mat32.Gemm(false, true, 1, b.prod, l.W, 0, b.col) // gradient of the lowered input
	parallel(dy.Rows, l.g.in.Size(), l.raiseFn)
	return b.dx
}

func (l *Conv2DLayer) backwardParams(dy *mat32.Dense) {
	l.dy = dy
	parallel(dy.Rows, l.g.out.Size(), l.gradInFn)
	parallel(l.g.out.C, dy.Rows*l.g.nPos, l.biasFn)
	mat32.Gemm(true, false, 1, l.cur.col, l.cur.prod, 0, l.gW)
	l.dy = nil
}

func (l *Conv2DLayer) gradInRows(r0, r1 int) {
	out, pf := l.g.out.Size(), l.g.nPos*l.g.out.C
	for n := r0; n < r1; n++ {
		toPositionMajor(l.dy.Data[n*out:(n+1)*out], l.cur.prod.Data[n*pf:(n+1)*pf], l.g.nPos, l.g.out.C)
	}
}

func (l *Conv2DLayer) biasRows(f0, f1 int) {
	channelSums(l.dy.Data, l.dy.Rows, l.g.out.C, l.g.nPos, f0, l.gB[f0:f1])
}

func (l *Conv2DLayer) raiseRows(r0, r1 int) {
	in, pk := l.g.in.Size(), l.g.nPos*l.g.kVals
	for n := r0; n < r1; n++ {
		col2im(&l.g, l.cur.col.Data[n*pk:(n+1)*pk], l.cur.dx.Data[n*in:(n+1)*in])
	}
}

// MaxPool2DLayer takes the maximum of each square window of each channel.
// The gradient of a window goes to one input, the first maximum in
// row-major order when several values tie; where windows overlap, the
// gradients add.
type MaxPool2DLayer struct {
	in, out        Shape
	window, stride int

	x, dy    *mat32.Dense
	bufs     map[int]*poolBuf
	cur      *poolBuf
	fwd, bwd func(r0, r1 int)
}

type poolBuf struct {
	y, dx *mat32.Dense
	idx   []int32 // per output value, the index within the sample of the input chosen
}

// MaxPool2D returns a max-pooling layer over inputs of shape in with square
// windows of the given side, moving by stride (no padding). The output
// shape is C x ((H-window)/stride+1) x ((W-window)/stride+1).
func MaxPool2D(in Shape, window, stride int) *MaxPool2DLayer {
	out := mustShape(LayerSpec{Kind: KindMaxPool2D, Window: window, Stride: stride}, in)
	l := &MaxPool2DLayer{in: in, out: out, window: window, stride: stride, bufs: map[int]*poolBuf{}}
	l.fwd, l.bwd = l.forwardRows, l.backwardRows
	return l
}

// InputShape returns the shape of the images the layer takes.
func (l *MaxPool2DLayer) InputShape() Shape { return l.in }

// OutputShape returns the shape of the layer's output for its input shape.
func (l *MaxPool2DLayer) OutputShape(in Shape) (Shape, error) {
	if in != l.in {
		return Shape{}, archErr("pool layer takes %v, given %v", l.in, in)
	}
	return l.out, nil
}

// Spec describes the layer.
func (l *MaxPool2DLayer) Spec() LayerSpec {
	return LayerSpec{Kind: KindMaxPool2D, Window: l.window, Stride: l.stride}
}

// Params returns nothing: the layer has no parameters.
func (l *MaxPool2DLayer) Params() []Param { return nil }

// Forward returns the maximum of each window.
func (l *MaxPool2DLayer) Forward(x *mat32.Dense, train bool) *mat32.Dense {
	b, ok := l.bufs[x.Rows]
	if !ok {
		b = &poolBuf{y: mat32.New(x.Rows, l.out.Size()), dx: mat32.New(x.Rows, l.in.Size()), idx: make([]int32, x.Rows*l.out.Size())}
		l.bufs[x.Rows] = b
	}
	l.x, l.cur = x, b
	parallel(x.Rows, l.in.Size(), l.fwd)
	return b.y
}

func (l *MaxPool2DLayer) forwardRows(r0, r1 int) {
	in, out := l.in.Size(), l.out.Size()
	for n := r0; n < r1; n++ {
		maxPool(l.in, l.out, l.window, l.stride, l.x.Data[n*in:(n+1)*in], l.cur.y.Data[n*out:(n+1)*out], l.cur.idx[n*out:(n+1)*out])
	}
}

// Backward routes each output's gradient to the input chosen in Forward.
func (l *MaxPool2DLayer) Backward(dy *mat32.Dense) *mat32.Dense {
	l.dy = dy
	parallel(dy.Rows, l.in.Size(), l.bwd)
	l.dy = nil
	return l.cur.dx
}

func (l *MaxPool2DLayer) backwardRows(r0, r1 int) {
	in, out := l.in.Size(), l.out.Size()
	for n := r0; n < r1; n++ {
		maxPoolGrad(l.dy.Data[n*out:(n+1)*out], l.cur.dx.Data[n*in:(n+1)*in], l.cur.idx[n*out:(n+1)*out])
	}
}
