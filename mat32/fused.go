package mat32

import "fmt"

// Diff is a comparison that MulSigmoidDiff and MulSigmoidSparseDiff make
// between their result out and Ref, a matrix of out's shape: as
// DiffStats(Ref, out, ColSum, Alpha) does, they add Alpha times the column
// sums of Ref - out to ColSum; then, with Negate, they negate out.
type Diff struct {
	Ref    *Dense
	ColSum []float32
	Alpha  float32
	Negate bool
}

func (d Diff) check(out *Dense) {
	if d.Ref == nil || !d.Ref.SameShape(out) {
		panic("mat32: Diff reference shape differs from the product's")
	}
	checkBias(out, d.ColSum)
}

// apply does d to the whole of out, after the product.
func (d Diff) apply(out *Dense) float64 {
	buf := sqPool.Get().(*[]float32)
	*buf = resizeF(*buf, out.Cols)
	total := diffStats(d.Ref.Data, out.Data, out.Rows, out.Cols, out.Cols, d.ColSum, d.Alpha, *buf, d.Negate)
	sqPool.Put(buf)
	return total
}

// MulSigmoidDiff sets out = sigmoid(a*op(b) + bias) as MulSigmoid does
// (without sampling), then makes the comparison d, and returns the sum of
// the squares of d.Ref - out. The results equal those of MulSigmoid,
// DiffStats and Scale(out, -1) in turn, bit for bit; each worker does all
// three on its own columns of out while they are still in its cache.
func MulSigmoidDiff(a, b *Dense, transB bool, bias []float32, out *Dense, d Diff) float64 {
	d.check(out)
	be := current()
	if !splits(be, out.Rows, out.Cols, a.Cols) || out.Cols < out.Rows {
		MulSigmoid(a, b, transB, bias, out, nil, nil)
		return d.apply(out)
	}
	checkBias(out, bias)
	j := sigmoidJob(be, 1, a, b, transB, bias, out)
	return runDiffJob(j, d, func() { runGemmJob(j) })
}

// MulSigmoidSparseDiff is MulSigmoidDiff with a sparse left factor, as
// MulSigmoidSparse.
func MulSigmoidSparseDiff(a *Sparse, b *Dense, bias []float32, out *Dense, d Diff) float64 {
	d.check(out)
	if out.Cols < out.Rows {
		MulSigmoidSparse(a, b, bias, out, nil, nil)
		return d.apply(out)
	}
	checkBias(out, bias)
	if b.Rows != a.cols || out.Rows != a.rows || out.Cols != b.Cols {
		panic(fmt.Sprintf("mat32: MulSigmoidSparseDiff shapes %dx%d * %dx%d -> %dx%d", a.rows, a.cols, b.Rows, b.Cols, out.Rows, out.Cols))
	}
	j := gemmJobs.Get().(*gemmJob)
	*j = gemmJob{m: out.Rows, n: out.Cols, alpha: 1, c: out.Data, ldc: out.Cols, sp: a, sb: b.Data, ldsb: b.Cols, sigmoid: true, bias: bias}
	nnz := a.NNZ()
	return runDiffJob(j, d, func() { runSparseJob(j, nnz) })
}

// runDiffJob gives j (a product split by columns) the comparison d, runs
// it with run, and returns the sum of squares, added in column order as
// DiffStats adds them.
func runDiffJob(j *gemmJob, d Diff, run func()) float64 {
	buf := sqPool.Get().(*[]float32)
	sq := resizeF(*buf, j.n)
	j.diff, j.dsq = d, sq
	run()
	total := 0.0
	for _, s := range sq {
		total += float64(s)
	}
	*buf = sq
	sqPool.Put(buf)
	return total
}
