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
	w := Workers()
	if w > rows {
		w = rows
	}
	if w < 2 || rows*cols < minParallel {
		f(0, rows)
		return
	}
	forkJoin(w, func(p int) { f(rows*p/w, rows*(p+1)/w) })
}

// forkJoin calls f(0), ..., f(parts-1) concurrently, f(0) on the calling
// goroutine, and returns when all have returned. (A pool of spinning
// helpers was measured slower here: spinning takes cycles from the other
// vCPU's product.)
func forkJoin(parts int, f func(part int)) {
	var wg sync.WaitGroup
	for p := 1; p < parts; p++ {
		wg.Go(func() { f(p) })
	}
	f(0)
	wg.Wait()
}

func checkBias(x *Dense, bias []float32) {
	if len(bias) != x.Cols {
		panic(fmt.Sprintf("mat32: bias of %d for %d columns", len(bias), x.Cols))
	}
}

// SigmoidBias sets x[i,j] = sigmoid(x[i,j] + bias[j]).
func SigmoidBias(x *Dense, bias []float32) {
	checkBias(x, bias)
	ParallelRows(x.Rows, x.Cols, func(r0, r1 int) {
		sigmoidBias(x.Data[r0*x.Cols:r1*x.Cols], bias, r1-r0)
	})
}

// SigmoidBiasSample sets p[i,j] = sigmoid(p[i,j] + bias[j]) and s[i,j] to 1
// with probability p[i,j], else 0, drawing from r.
func SigmoidBiasSample(p, s *Dense, bias []float32, r *RNG) {
	checkBias(p, bias)
	if !p.SameShape(s) {
		panic("mat32: SigmoidBiasSample shapes differ")
	}
	base := r.take(len(p.Data))
	ParallelRows(p.Rows, p.Cols, func(r0, r1 int) {
		lo, hi := r0*p.Cols, r1*p.Cols
		sigmoidBiasSample(p.Data[lo:hi], s.Data[lo:hi], bias, r1-r0, r.key, base+uint64(lo))
	})
}

// Bernoulli sets s[i] to 1 with probability p[i], else 0, drawing from r.
// s and p may be the same matrix.
func Bernoulli(s, p *Dense, r *RNG) {
	if !p.SameShape(s) {
		panic("mat32: Bernoulli shapes differ")
	}
	base := r.take(len(p.Data))
	ParallelRows(p.Rows, p.Cols, func(r0, r1 int) {
		lo, hi := r0*p.Cols, r1*p.Cols
		bernoulli(s.Data[lo:hi], p.Data[lo:hi], r.key, base+uint64(lo))
	})
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
	for i := 0; i < m.Rows; i++ {
		row := m.Row(i)
		for j, x := range v {
			row[j] += x
		}
	}
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
	total := diffStats(a.Data, b.Data, a.Rows, a.Cols, colsum, alpha, (*buf)[:a.Cols])
	sqPool.Put(buf)
	return total
}

// MomentumStep applies one step of gradient descent with momentum and
// weight decay: vel -= decay*w, then w += vel. w and vel have equal length.
func MomentumStep(w, vel []float32, decay float32) {
	if len(w) != len(vel) {
		panic("mat32: MomentumStep lengths differ")
	}
	ParallelRows(len(w), 1, func(r0, r1 int) { momentumStep(w[r0:r1], vel[r0:r1], decay) })
}
