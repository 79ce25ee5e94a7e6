package mat32

import (
	"fmt"
	"sync"
)

// Gemm computes c = alpha*op(a)*op(b) + beta*c, where op(x) is x or, when the
// matching trans flag is set, its transpose. With beta 0, c's old contents
// are ignored. It panics if the shapes do not agree.
func Gemm(transA, transB bool, alpha float32, a, b *Dense, beta float32, c *Dense) {
	m, k := a.Rows, a.Cols
	if transA {
		m, k = k, m
	}
	kb, n := b.Rows, b.Cols
	if transB {
		kb, n = n, kb
	}
	if k != kb || c.Rows != m || c.Cols != n {
		panic(fmt.Sprintf("mat32: Gemm shapes %s%dx%d * %s%dx%d -> %dx%d",
			tmark(transA), a.Rows, a.Cols, tmark(transB), b.Rows, b.Cols, c.Rows, c.Cols))
	}
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		Scale(c, beta)
		return
	}
	gemm(current(), transA, transB, m, n, k, alpha, a.Data, a.Cols, b.Data, b.Cols, beta, c.Data, c.Cols)
}

func tmark(t bool) string {
	if t {
		return "T"
	}
	return ""
}

// splitFlops is the size of product (in multiply-adds) above which a
// single-threaded backend's call is split between workers.
const splitFlops = 1 << 19

func gemm(be backend, tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if !splits(be, m, n, k) {
		be.sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	j := gemmJobs.Get().(*gemmJob)
	*j = gemmJob{be: be, tA: tA, tB: tB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc}
	runGemmJob(j)
}

// gemmParts is the number of parts a large product is split into, which
// the workers claim: a constant, not the number of workers, because
// OpenBLAS's AVX2 kernels (Haswell, Zen) round an element differently
// depending on the shape of the call that computes it, and the same seed
// must give the same model on any number of cores.
const gemmParts = 2

// splits reports whether Gemm splits a product into gemmParts parts.
func splits(be backend, m, n, k int) bool {
	return be.single() && gemmStrategy(gemmMode.Load()) == gemmSplit && m*n*k >= splitFlops
}

func runGemmJob(j *gemmJob) {
	split(gemmParts, j, &j.sy)
	*j = gemmJob{}
	gemmJobs.Put(j)
}

// GradientStep sets vel = mom*vel + alpha*a'*b and then applies
// MomentumStep(w, vel, decay). Each worker updates its rows of w while they
// are still in its cache. vel and w have the shape of a'*b.
func GradientStep(alpha float32, a, b *Dense, mom float32, vel, w *Dense, decay float32) {
	if !vel.SameShape(w) {
		panic("mat32: GradientStep velocity and weights differ in shape")
	}
	be := current()
	m, n, k := a.Cols, b.Cols, a.Rows
	// The fused path splits rows, which needs more rows than columns.
	if !splits(be, m, n, k) || m < n {
		Gemm(true, false, alpha, a, b, mom, vel)
		MomentumStep(w.Data, vel.Data, decay)
		return
	}
	if b.Rows != k || vel.Rows != m || vel.Cols != n {
		panic(fmt.Sprintf("mat32: GradientStep shapes T%dx%d * %dx%d -> %dx%d", a.Rows, a.Cols, b.Rows, b.Cols, vel.Rows, vel.Cols))
	}
	j := gemmJobs.Get().(*gemmJob)
	*j = gemmJob{be: be, tA: true, m: m, n: n, k: k, alpha: alpha, a: a.Data, lda: a.Cols, b: b.Data, ldb: b.Cols, beta: mom, c: vel.Data, ldc: vel.Cols,
		w: w.Data, decay: decay}
	runGemmJob(j)
}

// MulSigmoid sets out = sigmoid(a*op(b) + bias), where op(b) is b or, with
// transB, its transpose. When s is non-nil it also sets s[i,j] to 1 with
// probability out[i,j], else 0, drawing from r. The result equals Gemm
// followed by SigmoidBias or SigmoidBiasSample, but each worker applies the
// sigmoid to its own part of the product while it is still in its cache.
func MulSigmoid(a, b *Dense, transB bool, bias []float32, out, s *Dense, r *RNG) {
	MulSigmoidScaled(1, a, b, transB, bias, out, s, r)
}

// MulSigmoidScaled is MulSigmoid of alpha*a*op(b) + bias.
func MulSigmoidScaled(alpha float32, a, b *Dense, transB bool, bias []float32, out, s *Dense, r *RNG) {
	checkBias(out, bias)
	if s != nil && !s.SameShape(out) {
		panic("mat32: MulSigmoid sample shape differs")
	}
	k := a.Cols
	be := current()
	if !splits(be, out.Rows, out.Cols, k) {
		Gemm(false, transB, alpha, a, b, 0, out)
		if s != nil {
			SigmoidBiasSample(out, s, bias, r)
		} else {
			SigmoidBias(out, bias)
		}
		return
	}
	j := sigmoidJob(be, alpha, a, b, transB, bias, out)
	if s != nil {
		j.s, j.key, j.base = s.Data, r.key, r.take(len(out.Data))
	}
	runGemmJob(j)
}

// sigmoidJob returns a pooled job for out = sigmoid(alpha*a*op(b) + bias),
// after checking the shapes.
func sigmoidJob(be backend, alpha float32, a, b *Dense, transB bool, bias []float32, out *Dense) *gemmJob {
	k, kb, n := a.Cols, b.Rows, b.Cols
	if transB {
		kb, n = n, kb
	}
	if kb != k || out.Rows != a.Rows || out.Cols != n {
		panic(fmt.Sprintf("mat32: MulSigmoid shapes %dx%d * %s%dx%d -> %dx%d", a.Rows, a.Cols, tmark(transB), b.Rows, b.Cols, out.Rows, out.Cols))
	}
	j := gemmJobs.Get().(*gemmJob)
	*j = gemmJob{be: be, tB: transB, m: out.Rows, n: n, k: k, alpha: alpha, a: a.Data, lda: a.Cols, b: b.Data, ldb: b.Cols, c: out.Data, ldc: out.Cols,
		sigmoid: true, bias: bias}
	return j
}

// gemmJob is a product split along its larger output dimension into parts
// of whole blocks of blockAlign floats; each part is an independent
// single-threaded product.
type gemmJob struct {
	be      backend
	tA, tB  bool
	m, n, k int
	alpha   float32
	a       []float32
	lda     int
	b       []float32
	ldb     int
	beta    float32
	c       []float32
	ldc     int
	sy      splitSync

	// With sigmoid set, each part then applies sigmoid(x + bias) to its
	// block of c and, when s is non-nil, samples it into s.
	sigmoid   bool
	bias      []float32
	s         []float32
	key, base uint64

	// With w set, each part then applies MomentumStep(w, c, decay) to its
	// rows of c (the velocity).
	w     []float32
	decay float32
	// With t set (GradientStepSparseT), each part then transposes its rows
	// of the weights (w, or c when w is nil) into t (n x m).
	t []float32

	// With sp set, alpha times sp (its transpose with spT) times sb (ldsb
	// apart) is added to the dense product, or is the product when a is
	// nil.
	sp   *Sparse
	spT  bool
	sb   []float32
	ldsb int

	// With diff.Ref set (only in products split by columns), each part
	// then makes the comparison diff on its columns of c, keeping the
	// columns' sums of squares in dsq.
	diff Diff
	dsq  []float32
}

var gemmJobs = sync.Pool{New: func() any { return new(gemmJob) }}

func (j *gemmJob) run(p, parts int) {
	// Split columns when there are at least as many as rows, except for
	// GradientStep (w set), whose weight step needs whole rows, and for
	// transposed weights (t set).
	if j.n >= j.m && j.w == nil && j.t == nil {
		j0, j1 := blockBound(j.n, p, parts), blockBound(j.n, p+1, parts)
		if j1 > j0 {
			j.mul(0, j.m, j0, j1)
			if j.sigmoid {
				j.post(j0, j.bias[j0:j1], j.m)
			}
			if d := j.diff; d.Ref != nil {
				diffStats(d.Ref.Data[j0:], j.c[j0:], j.m, j1-j0, j.ldc, d.ColSum[j0:], d.Alpha, j.dsq[j0:], d.Negate)
			}
		}
		return
	}
	i0, i1 := blockBound(j.m, p, parts), blockBound(j.m, p+1, parts)
	if i1 > i0 {
		j.mul(i0, i1, 0, j.n)
		if j.sigmoid {
			j.post(i0*j.ldc, j.bias, i1-i0)
		}
		wts := j.c
		if j.w != nil {
			lo, hi := i0*j.ldc, i1*j.ldc
			momentumStep(j.w[lo:hi], j.c[lo:hi], j.decay)
			wts = j.w
		}
		if j.t != nil {
			transpose(j.t[i0:], j.m, wts[i0*j.ldc:], j.ldc, i1-i0, j.n)
		}
	}
}

// mul computes rows i0 ... i1-1, columns c0 ... c1-1 of the product.
func (j *gemmJob) mul(i0, i1, c0, c1 int) {
	beta := j.beta
	if j.a != nil {
		j.be.sgemm(j.tA, j.tB, i1-i0, c1-c0, j.k, j.alpha, j.a[rowOff(j.tA, i0, j.lda):], j.lda, j.b[colOff(j.tB, c0, j.ldb):], j.ldb,
			beta, j.c[i0*j.ldc+c0:], j.ldc)
		beta = 1
	}
	if j.sp != nil {
		ptr, idx, val := j.sp.ptr, j.sp.idx, j.sp.val
		if j.spT {
			ptr, idx, val = j.sp.tptr, j.sp.tidx, j.sp.tval
		}
		if j.sp.ones {
			val = nil
		}
		spmm(ptr[i0:i1+1], idx, val, j.sb[c0:], j.ldsb, c1-c0, j.alpha, beta, j.c[i0*j.ldc+c0:], j.ldc)
	}
}

// post applies the sigmoid (and sampling) to rows rows of c starting at
// offset off, each len(bias) wide.
func (j *gemmJob) post(off int, bias []float32, rows int) {
	if j.s != nil {
		sigmoidBiasSample(j.c[off:], j.s[off:], bias, rows, j.ldc, j.key, j.base+uint64(off))
	} else {
		sigmoidBias(j.c[off:], bias, rows, j.ldc)
	}
}

// blockBound is the start of part p of [0, n) cut into parts pieces whose
// inner boundaries are the multiples of blockAlign nearest the even cut
// (the lower one on a tie; the end, n, for p == parts). Nearest, not
// below: cut below, the 500 hidden units of an RBM made parts of 240 and
// 260 columns, the second a fifth slower in the sparse products (5 blocks
// of 64 columns against 4); 256 and 244 take 4 each, and a CD-1 step
// 0.97-0.99 times as long (AVX-512 and AVX2 kernels).
func blockBound(n, p, parts int) int {
	if p >= parts {
		return n
	}
	a := int(blockAlign.Load())
	return min(n, (n*p/parts+(a-1)/2)/a*a)
}

// colOff is the offset in b's storage of column j of op(b).
func colOff(tB bool, j, ldb int) int {
	if tB {
		return j * ldb
	}
	return j
}

// rowOff is the offset in a's storage of row i of op(a).
func rowOff(tA bool, i, lda int) int {
	if tA {
		return i
	}
	return i * lda
}
