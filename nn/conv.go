package nn

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"github.com/harmonium-ml/harmonium/mat32"
)

// Conv2DLayer is a 2-D convolution (cross-correlation, as in PyTorch) of
// square kernels over images with zero padding and a stride.
//
// It works one sample at a time, the samples spread over the cores (each
// worker taking the next sample when done, so that one slowed by other
// work takes fewer): a sample is lowered (see lower) into a (C*K*K) x
// (OH*OW) matrix in a buffer of the worker's, which stays in its cache,
// and its output is the product of the transposed weights by that matrix,
// already channel-major; a row of ones in the lowered matrix adds the
// biases. The long dimension of the product, the output positions, is its
// n.
//
// The backward pass splits the minibatch into a fixed number of chunks of
// samples (convChunks) whose weight and bias gradients it sums separately,
// then over the chunks in order, so that the result does not depend on the
// number of cores. With stride 1 it lowers each sample's output gradient
// as the input of the convolution, by the flipped kernels, that gives the
// input gradient; that one lowered matrix gives both the input gradient
// and the weight gradient (see backwardChunks). With a larger stride, or
// for the weight gradient alone when that is cheaper, it lowers the sample
// again (cheaper than keeping the lowered minibatch, which would not stay
// in the cache).
//
// Stride-1 convolutions by 3x3 or 5x5 kernels with enough channels
// (winoPays) use Winograd's algorithm instead (winograd.go), on groups of
// samples, with the same chunks for the weight gradient.
type Conv2DLayer struct {
	// W holds filter f in column f, its rows in the order (channel, kernel
	// row, kernel column); a model file stores it as [C, K, K, Filters].
	W    *mat32.Dense
	B    []float32 // one bias per filter
	Init Init      // how Network.Init draws W

	g      convGeom
	bg     convGeom // stride 1: the convolution giving the input gradient
	gW     *mat32.Dense
	gB     []float32
	params []Param

	x, dy *mat32.Dense
	bufs  map[int]*convBuf
	cur   *convBuf
	wb    []float32 // W with B as an extra row, (C*K*K+1) x Filters
	wt    []float32 // stride 1: the flipped kernels, (Filters*K*K) x C
	parts []float32 // the weight gradient of each chunk of samples
	// partSize is the number of values of a chunk's weight gradient in
	// parts: the weights', or with wino their transform's.
	partSize int
	bparts   []float64 // the bias gradient of each chunk
	chunks   int       // chunks of the current backward pass
	withDx   bool      // the current backward pass computes the input gradient
	// flipped: the chunks' weight gradients, computed from the lowered
	// output gradient, are laid out as wt: a row per (filter, flipped
	// kernel element), a column per channel.
	flipped bool
	// wino, when not nil, computes the convolution by Winograd's
	// algorithm (winograd.go) instead of lowering.
	wino *wino
	next atomic.Int64
	work scratch
	// Row functions bound once (see parallel).
	fwdFn, bwdFn, sumFn, unflipFn func(r0, r1 int)
}

// convChunks is the number of chunks of samples whose weight gradients a
// backward pass sums separately (at most; one per sample for smaller
// minibatches) before adding them in order: enough to keep a few cores
// busy, a fixed number so that the sum does not depend on how many there
// are.
const convChunks = 12

// convBuf holds a minibatch size's output and input gradient.
type convBuf struct{ y, dx *mat32.Dense }

// scratch hands out work buffers of one size to the workers of a layer,
// one per worker running, kept for reuse.
type scratch struct {
	mu   sync.Mutex
	size int
	free [][]float32
}

func (s *scratch) get() []float32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := len(s.free); n > 0 {
		b := s.free[n-1]
		s.free = s.free[:n-1]
		return b
	}
	return make([]float32, s.size)
}

func (s *scratch) put(b []float32) {
	s.mu.Lock()
	s.free = append(s.free, b)
	s.mu.Unlock()
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
		gW: mat32.New(kv, filters), gB: make([]float32, filters), bufs: map[int]*convBuf{},
		wb: make([]float32, (kv+1)*filters)}
	size := (kv + 1) * l.g.nPos // the lowered input and a row of ones
	if stride == 1 {
		// The input gradient is a convolution of the output gradient
		// (filters x OH x OW) padded by kernel-1-pad: its output is H x W.
		l.bg = convGeom{in: out, out: Shape{C: in.C, H: in.H, W: in.W}, k: kernel, s: 1, pad: kernel - 1 - pad,
			kVals: filters * kernel * kernel, nPos: in.H * in.W}
		l.wt = make([]float32, kv*filters)
		size = max(size, l.bg.kVals*l.bg.nPos)
	}
	l.work.size = size
	l.params = []Param{
		{Name: "weights", Value: l.W, Grad: l.gW, Shape: []int{in.C, kernel, kernel, filters}, Weight: true},
		{Name: "bias", Value: mat32.FromSlice(1, filters, l.B), Grad: mat32.FromSlice(1, filters, l.gB), Shape: []int{filters}},
	}
	l.fwdFn, l.bwdFn, l.sumFn, l.unflipFn = l.forwardRows, l.backwardChunks, l.sumBlocks, l.unflipRows
	l.setWino(newWino(l.g))
	return l
}

// Algorithm names how the layer computes its convolution: "Winograd
// F(mxm, rxr)" or "lowered (im2col)".
func (l *Conv2DLayer) Algorithm() string {
	if w := l.wino; w != nil {
		return fmt.Sprintf("Winograd F(%dx%d, %dx%d)", w.m, w.m, w.r, w.r)
	}
	return "lowered (im2col)"
}

// setWino makes the layer compute by Winograd's algorithm with w, or by
// lowering when w is nil.
func (l *Conv2DLayer) setWino(w *wino) {
	l.wino = w
	l.fwdFn, l.bwdFn = l.forwardRows, l.backwardChunks
	if w != nil {
		l.fwdFn, l.bwdFn = l.forwardWino, l.backwardWino
		l.work.size = max(l.work.size, w.bufSize())
	}
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
		b = &convBuf{y: mat32.New(n, l.g.out.Size()), dx: mat32.New(n, l.g.in.Size())}
		l.bufs[n] = b
	}
	return b
}

// Forward returns the convolution of each row of x plus the biases.
func (l *Conv2DLayer) Forward(x *mat32.Dense, train bool) *mat32.Dense {
	l.x, l.cur = x, l.buf(x.Rows)
	if l.wino != nil {
		l.wino.transformWeights(l.W.Data, l.g.in.C, l.g.out.C)
	} else {
		copy(l.wb, l.W.Data)
		copy(l.wb[len(l.W.Data):], l.B)
	}
	l.next.Store(0)
	parallel(x.Rows, l.g.kVals*l.g.nPos, l.fwdFn)
	return l.cur.y
}

// forwardRows computes the outputs of samples taken in turn from l.next
// (the range given is ignored: a worker that the machine's other work
// slows down takes fewer samples). The lowered sample has a last row of
// ones, which the last row of wb, the biases, multiplies.
func (l *Conv2DLayer) forwardRows(_, _ int) {
	g := &l.g
	F, in, out, k := g.out.C, g.in.Size(), g.out.Size(), g.kVals+1
	buf := l.work.get()
	col := buf[:k*g.nPos]
	fill(col[g.kVals*g.nPos:], 1)
	for {
		n := int(l.next.Add(1) - 1)
		if n >= l.x.Rows {
			break
		}
		lower(g, l.x.Data[n*in:(n+1)*in], col)
		mat32.GemmSerial(true, false, F, g.nPos, k, 1, l.wb, F, col, g.nPos, 0, l.cur.y.Data[n*out:(n+1)*out], g.nPos)
	}
	l.work.put(buf)
}

// fill sets every element of s to v.
func fill(s []float32, v float32) {
	for i := range s {
		s[i] = v
	}
}

// Backward sets the weight and bias gradients and returns the gradient
// with respect to the input.
func (l *Conv2DLayer) Backward(dy *mat32.Dense) *mat32.Dense {
	l.backward(dy, true)
	return l.cur.dx
}

func (l *Conv2DLayer) backwardParams(dy *mat32.Dense) { l.backward(dy, false) }

func (l *Conv2DLayer) backward(dy *mat32.Dense, withDx bool) {
	g := &l.g
	l.dy, l.withDx = dy, withDx
	// With stride 1 the input gradient needs the lowered output gradient,
	// which also gives the weight gradient (see backwardChunks); without
	// it, the cheaper of the two lowerings does.
	l.flipped = g.s == 1 && (withDx || l.bg.kVals*l.bg.nPos < g.kVals*g.nPos)
	size := len(l.gW.Data)
	switch {
	case l.wino != nil:
		l.flipped, size = false, l.wino.part
		if withDx {
			l.wino.transformFlipped(l.W.Data, g.in.C, g.out.C)
		}
	case withDx && g.s == 1:
		flipKernels(l.W.Data, l.wt, g.in.C, g.out.C, g.k)
	}
	l.chunks = min(dy.Rows, convChunks)
	if l.chunks == 0 {
		clear(l.gW.Data)
		clear(l.gB)
		l.dy = nil
		return
	}
	l.partSize = size
	if need := l.chunks * size; len(l.parts) < need {
		l.parts = make([]float32, need)
	}
	if len(l.bparts) < l.chunks*g.out.C {
		l.bparts = make([]float64, l.chunks*g.out.C)
	}
	l.next.Store(0)
	parallel(l.chunks, dy.Rows/l.chunks*g.kVals*g.nPos, l.bwdFn)
	parallel((size+sumBlock-1)/sumBlock, sumBlock*l.chunks, l.sumFn)
	switch {
	case l.wino != nil:
		l.wino.weightGrad(l.parts[:size], l.gW.Data, g.in.C, g.out.C)
	case l.flipped:
		parallel(g.in.C, len(l.gW.Data)/g.in.C, l.unflipFn)
	}
	F := g.out.C
	for f := range F {
		var s float64
		for c := range l.chunks {
			s += l.bparts[c*F+f]
		}
		l.gB[f] = float32(s)
	}
	l.dy = nil
}

// backwardChunks does the chunks of samples taken in turn from l.next
// (the range given is ignored): the weight and bias gradients of each
// chunk, into parts and bparts, and, when asked, the input gradient of
// its samples.
//
// When flipped (stride 1), it lowers each sample's output gradient dy as
// the input of the convolution that gives the input gradient (geometry
// bg: Filters channels, kernels flipped, padding k-1-pad, output H x W).
// The input gradient is then the flipped kernels (wt) times the lowered
// dy, and the weight gradient, laid out as wt, the lowered dy times the
// transposed sample x (C x H*W): value ((f, k-1-i, k-1-j), c) is the sum
// over positions of dy[f] times x[c] shifted by (i-pad, j-pad), which is
// weight (c, i, j, f)'s gradient. Otherwise it lowers x: the weight
// gradient is the lowered x times the transposed dy, and the input
// gradient (stride > 1) the weights times dy, raised.
func (l *Conv2DLayer) backwardChunks(_, _ int) {
	g, b := &l.g, &l.bg
	C, F, in, out, rows := g.in.C, g.out.C, g.in.Size(), g.out.Size(), l.dy.Rows
	buf := l.work.get()
	for {
		c := int(l.next.Add(1) - 1)
		if c >= l.chunks {
			break
		}
		gw := l.parts[c*len(l.gW.Data) : (c+1)*len(l.gW.Data)]
		gb := l.bparts[c*F : (c+1)*F]
		clear(gb)
		n0, n1 := rows*c/l.chunks, rows*(c+1)/l.chunks
		for n := n0; n < n1; n++ {
			x, dy := l.x.Data[n*in:(n+1)*in], l.dy.Data[n*out:(n+1)*out]
			for f := range F {
				gb[f] += float64(sum32(dy[f*g.nPos : (f+1)*g.nPos]))
			}
			beta := float32(1)
			if n == n0 {
				beta = 0
			}
			dx := l.cur.dx.Data[n*in : (n+1)*in]
			if l.flipped {
				dcol := buf[:b.kVals*b.nPos]
				lower(b, dy, dcol)
				mat32.GemmSerial(false, true, b.kVals, C, b.nPos, 1, dcol, b.nPos, x, b.nPos, beta, gw, C)
				if l.withDx {
					mat32.GemmSerial(true, false, C, b.nPos, b.kVals, 1, l.wt, C, dcol, b.nPos, 0, dx, b.nPos)
				}
				continue
			}
			col := buf[:g.kVals*g.nPos]
			lower(g, x, col)
			mat32.GemmSerial(false, true, g.kVals, F, g.nPos, 1, col, g.nPos, dy, g.nPos, beta, gw, F)
			if l.withDx {
				mat32.GemmSerial(false, false, g.kVals, g.nPos, F, 1, l.W.Data, F, dy, g.nPos, 0, col, g.nPos)
				raise(g, col, dx)
			}
		}
	}
	l.work.put(buf)
}

// sumBlock is the number of values of the weight gradient that sumBlocks
// handles as one row.
const sumBlock = 1024

// sumBlocks sums the chunks' weight gradients, in chunk order, for values
// [b0*sumBlock, b1*sumBlock): into gW, or, when they are flipped or
// transformed, into the first chunk's, which unflipRows or wino.weightGrad
// then turn into gW.
func (l *Conv2DLayer) sumBlocks(b0, b1 int) {
	size := l.partSize
	i0, i1 := b0*sumBlock, min(b1*sumBlock, size)
	var dst []float32
	if l.flipped || l.wino != nil {
		dst = l.parts[i0:i1]
	} else {
		dst = l.gW.Data[i0:i1]
		copy(dst, l.parts[i0:i1])
	}
	for c := 1; c < l.chunks; c++ {
		mat32.AddTo(dst, l.parts[c*size+i0:c*size+i1])
	}
}

// unflipRows sets the rows of gW of channels [c0, c1) from the summed
// flipped gradient: its value ((f, e), ch) is weight (ch, kk-1-e, f)'s.
func (l *Conv2DLayer) unflipRows(c0, c1 int) {
	C, F, kk := l.g.in.C, l.g.out.C, l.g.k*l.g.k
	for ch := c0; ch < c1; ch++ {
		for e := range kk {
			row := l.gW.Data[(ch*kk+e)*F : (ch*kk+e+1)*F]
			src := l.parts[(kk-1-e)*C+ch:]
			for f := range row {
				row[f] = src[f*kk*C]
			}
		}
	}
}

// forwardWino is forwardRows by Winograd's algorithm, on groups of
// wino.s samples (fixed by the minibatch size alone) taken in turn from
// l.next: each sample, made channels-last, has its tiles transformed, the
// group's tiles are multiplied by the transformed weights together, and
// each sample's output is transformed back and made channel-major again.
func (l *Conv2DLayer) forwardWino(_, _ int) {
	g, w := &l.g, l.wino
	in, out, rows := g.in.Size(), g.out.Size(), l.x.Rows
	buf := l.work.get()
	b := w.carve(buf)
	for {
		n0 := int(l.next.Add(1)-1) * w.s
		if n0 >= rows {
			break
		}
		ns := min(w.s, rows-n0)
		for s := range ns {
			n := n0 + s
			transposeInto(b.xT, l.x.Data[n*in:(n+1)*in], g.in.C, g.in.H*g.in.W)
			w.tilesIn(w.fwd, b.xT, b.v, s, ns)
		}
		w.mul(w.fwd, w.u, b.v, b.p, ns)
		for s := range ns {
			n := n0 + s
			w.tilesOut(w.fwd, b.p, b.yT, l.B, s, ns)
			transposeInto(l.cur.y.Data[n*out:(n+1)*out], b.yT, g.nPos, g.out.C)
		}
	}
	l.work.put(buf)
}

// backwardWino is backwardChunks by Winograd's algorithm, each chunk's
// samples in groups of wino.s: the chunks' gradients of the transformed
// weights go into parts (wino.part values each), and the input gradient,
// when asked, is the convolution of the output gradient by the flipped
// kernels.
func (l *Conv2DLayer) backwardWino(_, _ int) {
	g, w := &l.g, l.wino
	F, in, out, rows := g.out.C, g.in.Size(), g.out.Size(), l.dy.Rows
	buf := l.work.get()
	b := w.carve(buf)
	for {
		c := int(l.next.Add(1) - 1)
		if c >= l.chunks {
			break
		}
		du := l.parts[c*w.part : (c+1)*w.part]
		gb := l.bparts[c*F : (c+1)*F]
		clear(gb)
		n0, n1 := rows*c/l.chunks, rows*(c+1)/l.chunks
		for g0 := n0; g0 < n1; g0 += w.s {
			ns := min(w.s, n1-g0)
			for s := range ns {
				n := g0 + s
				dy := l.dy.Data[n*out : (n+1)*out]
				for f := range F {
					gb[f] += float64(sum32(dy[f*g.nPos : (f+1)*g.nPos]))
				}
				transposeInto(b.yT, dy, F, g.nPos)
				if l.withDx {
					w.tilesIn(w.bwd, b.yT, b.v, s, ns)
				}
				w.gradTiles(b.yT, b.d, s, ns)
				transposeInto(b.xT, l.x.Data[n*in:(n+1)*in], g.in.C, g.in.H*g.in.W)
				w.tilesIn(w.fwd, b.xT, b.v2, s, ns)
			}
			if l.withDx {
				w.mul(w.bwd, w.uf, b.v, b.p, ns)
				for s := range ns {
					n := g0 + s
					w.tilesOut(w.bwd, b.p, b.dxT, nil, s, ns)
					transposeInto(l.cur.dx.Data[n*in:(n+1)*in], b.dxT, g.in.H*g.in.W, g.in.C)
				}
			}
			beta := float32(1)
			if g0 == n0 {
				beta = 0
			}
			w.weightGradAdd(b.v2, b.d, du, beta, ns)
		}
	}
	l.work.put(buf)
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
