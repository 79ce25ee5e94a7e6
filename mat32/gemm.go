package mat32

import "fmt"

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
	w := Workers()
	if !be.single() || w < 2 || m*n*k < splitFlops {
		be.sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	// Split the larger output dimension into w parts of whole 16-float
	// blocks; each part is an independent single-threaded product.
	if n >= m {
		parts := splitRange(n, w, 16)
		forkJoin(len(parts)-1, func(p int) {
			j0, j1 := parts[p], parts[p+1]
			be.sgemm(tA, tB, m, j1-j0, k, alpha, a, lda, b[colOff(tB, j0, ldb):], ldb, beta, c[j0:], ldc)
		})
	} else {
		parts := splitRange(m, w, 16)
		forkJoin(len(parts)-1, func(p int) {
			i0, i1 := parts[p], parts[p+1]
			be.sgemm(tA, tB, i1-i0, n, k, alpha, a[rowOff(tA, i0, lda):], lda, b, ldb, beta, c[i0*ldc:], ldc)
		})
	}
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

// splitRange cuts [0, n) into at most w parts whose inner boundaries are
// multiples of align, and returns the w+1 (or fewer) boundaries.
func splitRange(n, w, align int) []int {
	bounds := make([]int, 1, w+1)
	for p := 1; p < w; p++ {
		b := (n * p / w) / align * align
		if b > bounds[len(bounds)-1] && b < n {
			bounds = append(bounds, b)
		}
	}
	return append(bounds, n)
}
