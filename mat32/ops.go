package mat32

import (
	"fmt"
	"sync"
)

// minParallel is the number of elements below which element-wise kernels
// run on the calling goroutine.
const minParallel = 1 << 14

// ParallelRows calls f on disjoint row ranges [r0, r1) covering [0, rows),
// on up to Workers() goroutines when rows*cols is large enough to be worth it.
func ParallelRows(rows, cols int, f func(r0, r1 int)) {
	w := min(Workers(), rows)
	if w < 2 || rows*cols < minParallel {
		f(0, rows)
		return
	}
	j := funcJobs.Get().(*funcJob)
	j.rows, j.f = rows, f
	split(w, j, &j.sy)
	j.f = nil
	funcJobs.Put(j)
}

var funcJobs = sync.Pool{New: func() any { return new(funcJob) }}

// kernel names an element-wise kernel that kernelJob runs.
type kernel int

const (
	kSigmoid kernel = iota
	kSigmoidSample
	kBernoulli
	kMomentum
	kGaussian   // s = x + b[col] * z
	kReLU       // x = max(0, x + b[col])
	kReLUSample // the noisy rectified linear units of ReLUBiasSample
	kAdam       // an Adam update (AdamStep)
)

// kernelJob is an element-wise kernel over the rows of a matrix (for
// kMomentum and kAdam, over len(x) single-element rows), split by rows.
type kernelJob struct {
	k         kernel
	x, s, b   []float32 // operands; b is the bias or, for kMomentum, the velocity
	v         []float32 // for kAdam (x, s, b, v: weights, gradients, m, v)
	rows      int
	cols      int
	key, base uint64
	f         float32
	adam      [5]float32 // for kAdam: b1, b2, step, c2, eps
	sy        splitSync
}

var kernelJobs = sync.Pool{New: func() any { return new(kernelJob) }}

func (j *kernelJob) run(p, parts int) {
	r0, r1 := j.rows*p/parts, j.rows*(p+1)/parts
	lo, hi := r0*j.cols, r1*j.cols
	switch j.k {
	case kSigmoid:
		sigmoidBias(j.x[lo:hi], j.b, r1-r0, j.cols)
	case kSigmoidSample:
		sigmoidBiasSample(j.x[lo:hi], j.s[lo:hi], j.b, r1-r0, j.cols, j.key, j.base+uint64(lo))
	case kBernoulli:
		bernoulli(j.s[lo:hi], j.x[lo:hi], j.key, j.base+uint64(lo))
	case kMomentum:
		momentumStep(j.x[lo:hi], j.b[lo:hi], j.f)
	case kAdam:
		a := &j.adam
		adamStep(j.x[lo:hi], j.s[lo:hi], j.b[lo:hi], j.v[lo:hi], a[0], a[1], a[2], a[3], a[4])
	case kGaussian:
		gaussianSample(j.s[lo:hi], j.x[lo:hi], j.b, r1-r0, j.key, j.base, uint64(lo))
	case kReLU:
		reluBias(j.x[lo:hi], j.b, r1-r0)
	case kReLUSample:
		reluBiasSample(j.x[lo:hi], j.s[lo:hi], j.b, r1-r0, j.key, j.base, uint64(lo))
	}
}

// runKernel runs a kernel over rows x cols elements, split between workers
// when there are enough of them.
func runKernel(k kernel, x, s, b []float32, rows, cols int, key, base uint64, f float32) {
	j := kernelJobs.Get().(*kernelJob)
	j.k, j.x, j.s, j.b, j.rows, j.cols, j.key, j.base, j.f = k, x, s, b, rows, cols, key, base, f
	j.start()
}

// start runs the job set up in j, split between workers when there are
// enough elements, and returns j to the pool.
func (j *kernelJob) start() {
	if w := min(Workers(), j.rows); w >= 2 && j.rows*j.cols >= minParallel {
		split(w, j, &j.sy)
	} else {
		j.run(0, 1)
	}
	j.x, j.s, j.b, j.v = nil, nil, nil, nil
	kernelJobs.Put(j)
}

func checkBias(x *Dense, bias []float32) {
	if len(bias) != x.Cols {
		panic(fmt.Sprintf("mat32: bias of %d for %d columns", len(bias), x.Cols))
	}
}

// SigmoidBias sets x[i,j] = sigmoid(x[i,j] + bias[j]).
func SigmoidBias(x *Dense, bias []float32) {
	checkBias(x, bias)
	runKernel(kSigmoid, x.Data, nil, bias, x.Rows, x.Cols, 0, 0, 0)
}

// SigmoidBiasSample sets p[i,j] = sigmoid(p[i,j] + bias[j]) and s[i,j] to 1
// with probability p[i,j], else 0, drawing from r.
func SigmoidBiasSample(p, s *Dense, bias []float32, r *RNG) {
	checkBias(p, bias)
	if !p.SameShape(s) {
		panic("mat32: SigmoidBiasSample shapes differ")
	}
	base := r.take(len(p.Data))
	runKernel(kSigmoidSample, p.Data, s.Data, bias, p.Rows, p.Cols, r.key, base, 0)
}

// Bernoulli sets s[i] to 1 with probability p[i], else 0, drawing from r.
// s and p may be the same matrix.
func Bernoulli(s, p *Dense, r *RNG) {
	if !p.SameShape(s) {
		panic("mat32: Bernoulli shapes differ")
	}
	base := r.take(len(p.Data))
	runKernel(kBernoulli, p.Data, s.Data, nil, p.Rows, p.Cols, r.key, base, 0)
}

// Sigmoid returns 1/(1+e^-x) as the kernels compute it.
func Sigmoid(x float32) float32 { return sigmoidf(x) }

// Scale multiplies every element of m by f (f == 0 clears m).
func Scale(m *Dense, f float32) {
	if f == 0 {
		m.Zero()
		return
	}
	scale(m.Data, f)
}

// AddRowVector adds v to every row of m.
func AddRowVector(m *Dense, v []float32) {
	checkBias(m, v)
	addRow(m.Data, v, m.Rows)
}

// ColumnSums adds to dst[j] alpha times the sum of column j of m.
func ColumnSums(dst []float32, alpha float32, m *Dense) {
	checkBias(m, dst)
	for i := 0; i < m.Rows; i++ {
		row := m.Row(i)
		for j, x := range row {
			dst[j] += alpha * x
		}
	}
}

var sqPool = sync.Pool{New: func() any { return new([]float32) }}

// DiffStats adds alpha times the column sums of a-b to colsum and returns the
// sum of (a-b)^2 over all elements.
func DiffStats(a, b *Dense, colsum []float32, alpha float32) float64 {
	if !a.SameShape(b) {
		panic("mat32: DiffStats shapes differ")
	}
	checkBias(a, colsum)
	buf := sqPool.Get().(*[]float32)
	if cap(*buf) < a.Cols {
		*buf = make([]float32, a.Cols)
	}
	total := diffStats(a.Data, b.Data, a.Rows, a.Cols, a.Cols, colsum, alpha, (*buf)[:a.Cols], false)
	sqPool.Put(buf)
	return total
}

// MomentumStep applies one step of gradient descent with momentum and
// weight decay: vel -= decay*w, then w += vel. w and vel have equal length.
func MomentumStep(w, vel []float32, decay float32) {
	if len(w) != len(vel) {
		panic("mat32: MomentumStep lengths differ")
	}
	runKernel(kMomentum, w, nil, vel, len(w), 1, 0, 0, decay)
}

// AdamStep applies one step of the Adam optimiser to the weights w with
// gradients g, updating the running means of the gradient m and of its
// square v: for every k, m[k] = b1*m[k] + (1-b1)*g[k], v[k] = b2*v[k] +
// (1-b2)*g[k]*g[k], then w[k] -= step*m[k] / (sqrt(v[k])*c2 + eps), in
// float32 arithmetic in that order (step is the learning rate over
// 1-b1^t and c2 is 1/sqrt(1-b2^t) at step t). All four slices have equal
// length.
func AdamStep(w, g, m, v []float32, b1, b2, step, c2, eps float32) {
	if len(g) != len(w) || len(m) != len(w) || len(v) != len(w) {
		panic("mat32: AdamStep lengths differ")
	}
	j := kernelJobs.Get().(*kernelJob)
	j.k, j.x, j.s, j.b, j.v, j.rows, j.cols = kAdam, w, g, m, v, len(w), 1
	j.adam = [5]float32{b1, b2, step, c2, eps}
	j.start()
}

// SoftplusRowSums sets out[i] to the sum over j of
// softplus(beta * (x[i,j] + bias[j])).
func SoftplusRowSums(x *Dense, bias []float32, beta float32, out []float64) {
	checkBias(x, bias)
	if len(out) < x.Rows {
		panic("mat32: SoftplusRowSums output too short")
	}
	ParallelRows(x.Rows, x.Cols, func(r0, r1 int) {
		softplusRowSum(x.Data[r0*x.Cols:], bias, r1-r0, x.Cols, beta, out[r0:r1])
	})
}

// AISHidden performs the hidden half of an annealed-importance-sampling step
// from inverse temperature bp to bk: with t = x[i,j] + bias[j], it adds the
// sum over j of softplus(bk*t) - softplus(bp*t) to delta[i], and sets s[i,j]
// to 1 with probability sigmoid(bk*t), drawing from r.
func AISHidden(x *Dense, bias []float32, bk, bp float32, s *Dense, r *RNG, delta []float64) {
	checkBias(x, bias)
	if !x.SameShape(s) || len(delta) < x.Rows {
		panic("mat32: AISHidden shapes differ")
	}
	base := r.take(len(x.Data))
	ParallelRows(x.Rows, x.Cols, func(r0, r1 int) {
		lo := r0 * x.Cols
		aisHidden(x.Data[lo:], bias, r1-r0, bk, bp, s.Data[lo:], r.key, base+uint64(lo), delta[r0:r1])
	})
}

// FlipSoftplusSums sets out[i] to the sum over j of softplus(x[j] + s*w[i,j]),
// where s is -1 when v[i] > 0.5 and +1 otherwise; wneg must hold -w. For a
// binary visible vector v with hidden inputs x, these are the softplus sums
// after flipping each visible unit in turn (pseudo-likelihood).
func FlipSoftplusSums(w, wneg *Dense, v, x []float32, out []float64) {
	if !w.SameShape(wneg) || len(v) != w.Rows || len(x) != w.Cols || len(out) < w.Rows {
		panic("mat32: FlipSoftplusSums shapes differ")
	}
	flipRowSum(w.Data, wneg.Data, v, w.Rows, w.Cols, x, out)
}
