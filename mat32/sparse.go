package mat32

import (
	"fmt"
	"math"
	"sync"
)

// Sparse is a matrix kept as its nonzero entries, both row by row and
// column by column, for products whose left factor is mostly zeros (81% of
// MNIST's pixels are 0). Its sums add the entries in order of their index,
// so a product's result does not depend on how it is split between
// workers. The zero value is an empty matrix; SetFrom fills it, reusing its
// storage.
type Sparse struct {
	rows, cols int
	// Row r's entries are val[p] in column idx[p], ptr[r] <= p < ptr[r+1];
	// column c's are tval[p] in row tidx[p], tptr[c] <= p < tptr[c+1].
	ptr, idx   []int32
	val        []float32
	tptr, tidx []int32
	tval       []float32
	byCol      bool // tidx and tval are up to date (byColumn)
	// SetFrom's scratch for the second half of the rows, compressed by
	// another worker: its row starts and column counts.
	ptr2, count2 []int32
	// ones is set when every entry is exactly 1 (binary samples): the
	// products then add rows of the other factor without multiplying.
	ones bool
}

// Dims returns the number of rows and columns.
func (s *Sparse) Dims() (rows, cols int) { return s.rows, s.cols }

// NNZ returns the number of nonzero entries.
func (s *Sparse) NNZ() int { return len(s.val) }

// Density returns the fraction of entries that are not zero.
func (s *Sparse) Density() float64 {
	if s.rows == 0 || s.cols == 0 {
		return 0
	}
	return float64(len(s.val)) / float64(s.rows*s.cols)
}

// Density returns the fraction of m's entries that are not zero.
func Density(m *Dense) float64 {
	if len(m.Data) == 0 {
		return 0
	}
	n := 0
	for _, x := range m.Data {
		if x != 0 {
			n++
		}
	}
	return float64(n) / float64(len(m.Data))
}

// SetFrom makes s hold the nonzero entries of d (NaN counts as nonzero).
// It panics if d has math.MaxInt32 entries or more.
func (s *Sparse) SetFrom(d *Dense) {
	total := len(d.Data)
	if int64(total) >= math.MaxInt32-16 {
		panic(fmt.Sprintf("mat32: Sparse of %dx%d: too many entries", d.Rows, d.Cols))
	}
	s.rows, s.cols = d.Rows, d.Cols
	s.ptr, s.tptr = resize(s.ptr, d.Rows+1), resize(s.tptr, d.Cols+1)
	// Room for every entry, and for the vector paths' full-width stores
	// after each half of the rows.
	s.idx, s.val = resize(s.idx, total+32), resizeF(s.val, total+32)
	nnz := 0
	switch {
	case d.Cols == 0:
		clear(s.ptr)
	case Workers() >= 2 && d.Rows >= 2 && total >= 2*minParallel:
		nnz = s.fromHalves(d)
	default:
		nnz = sparseFrom(d.Data, d.Rows, d.Cols, s.ptr, s.idx, s.val, s.tptr[1:])
	}
	s.idx, s.val = s.idx[:nnz], s.val[:nnz]
	s.byCol = false
	s.ones = allOnes(s.val)
}

// fromHalves is SetFrom's by-row part on two workers: the second half of
// the rows goes to its own stretch of idx and val (past the first half's
// room), row starts and column counts, and is then moved to follow the
// first. It returns the number of entries.
func (s *Sparse) fromHalves(d *Dense) int {
	h := d.Rows / 2
	s.ptr2, s.count2 = resize(s.ptr2, d.Rows-h+1), resize(s.count2, d.Cols)
	j := setFromJobs.Get().(*setFromJob)
	j.s, j.d, j.rows, j.cols, j.half = s, d.Data, d.Rows, d.Cols, h
	split(2, j, &j.sy)
	n0, n1 := j.n[0], j.n[1]
	j.s, j.d = nil, nil
	setFromJobs.Put(j)
	start := h*d.Cols + 16
	copy(s.idx[n0:n0+n1], s.idx[start:start+n1])
	copy(s.val[n0:n0+n1], s.val[start:start+n1])
	for r, p := range s.ptr2 {
		s.ptr[h+r] = p + int32(n0)
	}
	for c, k := range s.count2 {
		s.tptr[1+c] += k
	}
	return n0 + n1
}

// setFromJob is fromHalves' split: part 0 compresses the first half of
// the rows, part 1 the rest.
type setFromJob struct {
	s                *Sparse
	d                []float32 // rows x cols
	rows, cols, half int
	n                [2]int
	sy               splitSync
}

var setFromJobs = sync.Pool{New: func() any { return new(setFromJob) }}

func (j *setFromJob) run(p, _ int) {
	s, h, cols := j.s, j.half, j.cols
	if p == 0 {
		j.n[0] = sparseFrom(j.d[:h*cols], h, cols, s.ptr, s.idx, s.val, s.tptr[1:])
		return
	}
	start := h*cols + 16
	j.n[1] = sparseFrom(j.d[h*cols:], j.rows-h, cols, s.ptr2, s.idx[start:], s.val[start:], s.count2)
}

// allOnesGo reports whether every value of v is exactly 1.
func allOnesGo(v []float32) bool {
	for _, x := range v {
		if x != 1 {
			return false
		}
	}
	return true
}

// byColumn makes the entries by column available (the transposed
// products'), computing them once after SetFrom.
func (s *Sparse) byColumn() {
	if s.byCol {
		return
	}
	// Room for every entry, so that a later matrix of the same shape with
	// more entries allocates nothing.
	nnz, room := len(s.val), s.rows*s.cols
	s.tidx, s.tval = resize(s.tidx, room)[:nnz], resizeF(s.tval, room)[:nnz]
	sparseTranspose(s.rows, s.cols, s.ptr, s.idx, s.val, s.tptr, s.tidx, s.tval)
	s.byCol = true
}

// sparseFromGo is the reference of hm_sparse_from (kernels.h).
func sparseFromGo(d []float32, rows, cols int, ptr, idx []int32, val []float32, count []int32) int {
	clear(count[:cols])
	n := 0
	for r := range rows {
		ptr[r] = int32(n)
		for c, x := range d[r*cols : (r+1)*cols] {
			if x != 0 {
				idx[n], val[n] = int32(c), x
				count[c]++
				n++
			}
		}
	}
	ptr[rows] = int32(n)
	return n
}

// sparseTransposeGo is the reference of hm_sparse_transpose.
func sparseTransposeGo(rows, cols int, ptr, idx []int32, val []float32, tptr, tidx []int32, tval []float32) {
	sum := int32(0)
	for c := 1; c <= cols; c++ {
		tptr[c], sum = sum, sum+tptr[c]
	}
	tptr[0] = 0
	for r := range rows {
		for p := ptr[r]; p < ptr[r+1]; p++ {
			q := tptr[idx[p]+1]
			tptr[idx[p]+1]++
			tidx[q], tval[q] = int32(r), val[p]
		}
	}
}

// resize returns s with length n, reallocated when its capacity is less.
func resize(s []int32, n int) []int32 {
	if cap(s) < n {
		return make([]int32, n)
	}
	return s[:n]
}

// resizeF is resize for float32s.
func resizeF(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// spmmGo is the reference of every spmm path: for each of the len(ptr)-1
// rows r of a sparse matrix (entries val[p] in column idx[p], ptr[r] <= p <
// ptr[r+1]) and each column j < cols, with s the sum over p, in order, of
// val[p] * b[idx[p]*ldb + j], it sets out[r*ldo + j] to alpha*s, or to
// beta*out[r*ldo + j] + alpha*s when beta is not 0. val nil stands for
// values that are all 1.
func spmmGo(ptr, idx []int32, val, b []float32, ldb, cols int, alpha, beta float32, out []float32, ldo int) {
	var buf [64]float32
	for j0 := 0; j0 < cols; j0 += len(buf) {
		acc := buf[:min(len(buf), cols-j0)]
		for r := range len(ptr) - 1 {
			clear(acc)
			for p := ptr[r]; p < ptr[r+1]; p++ {
				a, off := float32(1), int(idx[p])*ldb+j0
				if val != nil {
					a = val[p]
				}
				for j, x := range b[off : off+len(acc)] {
					acc[j] += float32(a * x)
				}
			}
			o := out[r*ldo+j0 : r*ldo+j0+len(acc)]
			if beta == 0 {
				for j, x := range acc {
					o[j] = float32(alpha * x)
				}
			} else {
				for j, x := range acc {
					o[j] = float32(beta*o[j]) + float32(alpha*x)
				}
			}
		}
	}
}

// SparseFaster reports whether the sparse products beat the dense ones on
// sparse data here: with the AVX2 and AVX-512 kernels (a 100 x 784 batch
// at MNIST's density of 0.19 times 500 columns: about twice as fast).
// The portable C and Go versions are slower than the dense products
// (BenchmarkSparseCD).
func SparseFaster() bool {
	p := currentPath()
	return p == pathAVX2 || p == pathAVX512
}

// MulSparse sets c = alpha*op(a)*b + beta*c, where op(a) is a or, with
// transA, its transpose; with beta 0, c's old contents are ignored. It
// panics if the shapes do not agree.
func MulSparse(transA bool, alpha float32, a *Sparse, b *Dense, beta float32, c *Dense) {
	m, k := a.rows, a.cols
	if transA {
		m, k = k, m
	}
	if b.Rows != k || c.Rows != m || c.Cols != b.Cols {
		panic(fmt.Sprintf("mat32: MulSparse shapes %s%dx%d * %dx%d -> %dx%d", tmark(transA), a.rows, a.cols, b.Rows, b.Cols, c.Rows, c.Cols))
	}
	if transA {
		a.byColumn()
	}
	j := gemmJobs.Get().(*gemmJob)
	*j = gemmJob{m: m, n: b.Cols, alpha: alpha, beta: beta, c: c.Data, ldc: c.Cols, sp: a, spT: transA, sb: b.Data, ldsb: b.Cols}
	runSparseJob(j, a.NNZ())
}

// MulSigmoidSparse is MulSigmoid with a sparse left factor: out =
// sigmoid(a*b + bias), and s a sample of it when s is not nil.
func MulSigmoidSparse(a *Sparse, b *Dense, bias []float32, out, s *Dense, r *RNG) {
	MulSigmoidSparseScaled(1, a, b, bias, out, s, r)
}

// MulSigmoidSparseScaled is MulSigmoidSparse of alpha*a*b + bias.
func MulSigmoidSparseScaled(alpha float32, a *Sparse, b *Dense, bias []float32, out, s *Dense, r *RNG) {
	checkBias(out, bias)
	if s != nil && !s.SameShape(out) {
		panic("mat32: MulSigmoidSparse sample shape differs")
	}
	if b.Rows != a.cols || out.Rows != a.rows || out.Cols != b.Cols {
		panic(fmt.Sprintf("mat32: MulSigmoidSparse shapes %dx%d * %dx%d -> %dx%d", a.rows, a.cols, b.Rows, b.Cols, out.Rows, out.Cols))
	}
	j := gemmJobs.Get().(*gemmJob)
	*j = gemmJob{m: out.Rows, n: out.Cols, alpha: alpha, c: out.Data, ldc: out.Cols, sp: a, sb: b.Data, ldsb: b.Cols,
		sigmoid: true, bias: bias}
	if s != nil {
		j.s, j.key, j.base = s.Data, r.key, r.take(len(out.Data))
	}
	runSparseJob(j, a.NNZ())
}

// GradientStepSparse is GradientStep of alpha*(sp'*sb + a'*b): statistics
// whose first rows are sparse (sp, with sb the rows they multiply) and
// whose other rows are dense (a, b; both nil when there are none). With w
// nil it only sets vel = mom*vel + alpha*(sp'*sb + a'*b), so that vel can
// be the weights themselves (mom 1).
func GradientStepSparse(alpha float32, sp *Sparse, sb, a, b *Dense, mom float32, vel, w *Dense, decay float32) {
	GradientStepSparseT(alpha, sp, sb, a, b, mom, vel, w, decay, nil)
}

// GradientStepSparseT is GradientStepSparse that then sets wT, when not
// nil, to the transpose of the updated weights (w, or vel when w is nil),
// each worker transposing the rows it updated while they are in its cache.
func GradientStepSparseT(alpha float32, sp *Sparse, sb, a, b *Dense, mom float32, vel, w *Dense, decay float32, wT *Dense) {
	m, n := sp.cols, sb.Cols
	if sp.rows != sb.Rows || vel.Rows != m || vel.Cols != n || w != nil && !vel.SameShape(w) ||
		a != nil && (a.Cols != m || b.Cols != n || a.Rows != b.Rows) || wT != nil && (wT.Rows != n || wT.Cols != m) {
		panic("mat32: GradientStepSparse shapes differ")
	}
	sp.byColumn()
	j := gemmJobs.Get().(*gemmJob)
	*j = gemmJob{be: current(), tA: true, m: m, n: n, alpha: alpha, beta: mom, c: vel.Data, ldc: vel.Cols,
		sp: sp, spT: true, sb: sb.Data, ldsb: sb.Cols, decay: decay}
	if w != nil {
		j.w = w.Data
	}
	if wT != nil {
		j.t = wT.Data
	}
	work := sp.NNZ() * n
	if a != nil && a.Rows > 0 {
		j.a, j.lda, j.b, j.ldb, j.k = a.Data, a.Cols, b.Data, b.Cols, a.Rows
		work += m * n * a.Rows
	}
	runSparseJob(j, work/max(n, 1))
}

// runSparseJob runs a job with a sparse part, split into gemmParts parts
// when its work (nnz multiply-adds per output column) is large enough.
func runSparseJob(j *gemmJob, nnz int) {
	if nnz*j.n >= splitFlops {
		runGemmJob(j)
		return
	}
	j.run(0, 1)
	*j = gemmJob{}
	gemmJobs.Put(j)
}
