package mat32

import "fmt"

// The operations of this file serve the convolutions of package nn, which
// spread their own work over the cores (one image per worker at a time)
// and multiply parts of larger matrices.

// GemmSerial computes c = alpha*op(a)*op(b) + beta*c like Gemm, for
// matrices given as row-major slices with leading dimensions: op(a) is
// m x k, op(b) k x n and c m x n; lda, ldb and ldc are the distances
// between the starts of consecutive rows of a, b and c as stored (before
// any transposition), so that parts of larger matrices can be multiplied
// without allocating. With beta 0, c's old contents are ignored.
//
// It makes one call to the backend on the calling goroutine and never
// splits the product between workers: it is for callers that spread their
// own products over the cores (from within ParallelRows). Its result does
// not depend on the number of workers. It panics if a slice is too short
// for its shape.
func GemmSerial(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("mat32: GemmSerial negative dimension %dx%dx%d", m, n, k))
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	checkStrided("a", a, ar, ac, lda)
	checkStrided("b", b, br, bc, ldb)
	checkStrided("c", c, m, n, ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		for i := range m {
			row := c[i*ldc : i*ldc+n]
			for j := range row {
				if beta == 0 {
					row[j] = 0
				} else {
					row[j] *= beta
				}
			}
		}
		return
	}
	current().sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// checkStrided panics unless s holds a rows x cols matrix whose rows
// start ld apart.
func checkStrided(name string, s []float32, rows, cols, ld int) {
	if ld < max(cols, 1) {
		panic(fmt.Sprintf("mat32: GemmSerial leading dimension of %s is %d, less than its %d columns", name, ld, cols))
	}
	if rows > 0 && cols > 0 && len(s) < (rows-1)*ld+cols {
		panic(fmt.Sprintf("mat32: GemmSerial %s has %d values, too few for %dx%d with leading dimension %d", name, len(s), rows, cols, ld))
	}
}

// AddTo sets dst[i] += src[i] for every i < len(dst).
func AddTo(dst, src []float32) {
	src = src[:len(dst)]
	i := 0
	for ; i+8 <= len(dst); i += 8 {
		d, s := (*[8]float32)(dst[i:]), (*[8]float32)(src[i:])
		d[0] += s[0]
		d[1] += s[1]
		d[2] += s[2]
		d[3] += s[3]
		d[4] += s[4]
		d[5] += s[5]
		d[6] += s[6]
		d[7] += s[7]
	}
	for ; i < len(dst); i++ {
		dst[i] += src[i]
	}
}
