//go:build cgo

package mat32

/*
#cgo CFLAGS: -O3 -std=c11
#include "kernels.h"
*/
import "C"

import "unsafe"

// KernelImpl names the language of the element-wise kernels compiled in:
// "C" in cgo builds (which can still run the Go ones, see KernelPath), "Go"
// otherwise. KernelPath tells which implementation runs.
const KernelImpl = "C"

const cgoKernels = true

// cPathOK reports whether the C side can run path p on this CPU.
func cPathOK(p kernelPath) bool { return C.hm_path_ok(C.int(p)) == 1 }

func fptr(x []float32) *C.float { return (*C.float)(unsafe.Pointer(&x[0])) }

// philoxFill computes numbers c0 ... c0+len(out)-1 of stream key with path
// p (for tests).
func philoxFill(p kernelPath, key, c0 uint64, out []uint32) {
	if len(out) == 0 {
		return
	}
	if p == pathGo {
		philoxFillGo(key, c0, out)
		return
	}
	C.hm_philox_fill(C.int(p), C.uint64_t(key), C.uint64_t(c0), C.int64_t(len(out)), (*C.uint32_t)(unsafe.Pointer(&out[0])))
}

// sigmoidBias and sigmoidBiasSample work on rows rows of len(bias) values,
// ld apart; see the Go references.
func sigmoidBias(x, bias []float32, rows, ld int) {
	if rows == 0 || len(bias) == 0 {
		return
	}
	_ = x[(rows-1)*ld+len(bias)-1]
	p := currentPath()
	if p == pathGo {
		sigmoidBiasGo(x, bias, rows, ld)
		return
	}
	C.hm_sigmoid_bias(C.int(p), fptr(x), fptr(bias), C.int64_t(rows), C.int64_t(len(bias)), C.int64_t(ld))
}

func sigmoidBiasSample(x, s, bias []float32, rows, ld int, key, base uint64) {
	if rows == 0 || len(bias) == 0 {
		return
	}
	_, _ = x[(rows-1)*ld+len(bias)-1], s[(rows-1)*ld+len(bias)-1]
	p := currentPath()
	if p == pathGo {
		sigmoidBiasSampleGo(x, s, bias, rows, ld, key, base)
		return
	}
	C.hm_sigmoid_bias_sample(C.int(p), fptr(x), fptr(s), fptr(bias),
		C.int64_t(rows), C.int64_t(len(bias)), C.int64_t(ld), C.uint64_t(key), C.uint64_t(base))
}

func bernoulli(s, prob []float32, key, base uint64) {
	if len(s) == 0 {
		return
	}
	_ = prob[len(s)-1]
	p := currentPath()
	if p == pathGo {
		bernoulliGo(s, prob, key, base)
		return
	}
	C.hm_bernoulli(C.int(p), fptr(s), fptr(prob), C.int64_t(len(s)), C.uint64_t(key), C.uint64_t(base))
}

func diffStats(a, b []float32, rows, cols, ld int, colsum []float32, alpha float32, sq []float32, negb bool) float64 {
	if rows == 0 || cols == 0 {
		return 0
	}
	last := (rows-1)*ld + cols - 1
	_, _, _, _ = a[last], b[last], colsum[cols-1], sq[cols-1]
	p := currentPath()
	if p == pathGo {
		return diffStatsGo(a, b, rows, cols, ld, colsum, alpha, sq, negb)
	}
	neg := C.int(0)
	if negb {
		neg = 1
	}
	return float64(C.hm_diff_stats(C.int(p), fptr(a), fptr(b), C.int64_t(rows), C.int64_t(cols), C.int64_t(ld), fptr(colsum), C.float(alpha), fptr(sq), neg))
}

func momentumStep(w, vel []float32, decay float32) {
	if len(w) == 0 {
		return
	}
	_ = vel[len(w)-1]
	p := currentPath()
	if p == pathGo {
		momentumStepGo(w, vel, decay)
		return
	}
	C.hm_momentum_step(C.int(p), fptr(w), fptr(vel), C.int64_t(len(w)), C.float(decay))
}

// adamStep is one Adam update of len(w) values; see adamStepGo.
func adamStep(w, g, m, v []float32, b1, b2, step, c2, eps float32) {
	if len(w) == 0 {
		return
	}
	_, _, _ = g[len(w)-1], m[len(w)-1], v[len(w)-1]
	p := currentPath()
	if p == pathGo {
		adamStepGo(w, g, m, v, b1, b2, step, c2, eps)
		return
	}
	C.hm_adam_step(C.int(p), fptr(w), fptr(g), fptr(m), fptr(v), C.int64_t(len(w)),
		C.float(b1), C.float(b2), C.float(step), C.float(c2), C.float(eps))
}

func scale(x []float32, f float32) {
	if len(x) == 0 {
		return
	}
	p := currentPath()
	if p == pathGo {
		scaleGo(x, f)
		return
	}
	C.hm_scale(C.int(p), fptr(x), C.int64_t(len(x)), C.float(f))
}

func softplusRowSum(x, bias []float32, rows, ld int, beta float32, out []float64) {
	if rows == 0 {
		return
	}
	if len(bias) == 0 {
		clear(out[:rows])
		return
	}
	_, _ = x[(rows-1)*ld+len(bias)-1], out[rows-1]
	p := currentPath()
	if p == pathGo {
		softplusRowSumGo(x, bias, rows, ld, beta, out)
		return
	}
	C.hm_softplus_rowsum(C.int(p), fptr(x), fptr(bias), C.int64_t(rows), C.int64_t(len(bias)), C.int64_t(ld), C.float(beta), (*C.double)(unsafe.Pointer(&out[0])))
}

func aisHidden(x, bias []float32, rows int, bk, bp float32, s []float32, key, base uint64, delta []float64) {
	if rows == 0 || len(bias) == 0 {
		return
	}
	_, _, _ = x[rows*len(bias)-1], s[rows*len(bias)-1], delta[rows-1]
	p := currentPath()
	if p == pathGo {
		aisHiddenGo(x, bias, rows, bk, bp, s, key, base, delta)
		return
	}
	C.hm_ais_hidden(C.int(p), fptr(x), fptr(bias), C.int64_t(rows), C.int64_t(len(bias)), C.float(bk), C.float(bp),
		fptr(s), C.uint64_t(key), C.uint64_t(base), (*C.double)(unsafe.Pointer(&delta[0])))
}

func flipRowSum(w, wneg, v []float32, rows, cols int, x []float32, out []float64) {
	if rows == 0 || cols == 0 {
		clear(out[:rows])
		return
	}
	_, _, _, _, _ = w[rows*cols-1], wneg[rows*cols-1], v[rows-1], x[cols-1], out[rows-1]
	p := currentPath()
	if p == pathGo {
		flipRowSumGo(w, wneg, v, rows, cols, x, out)
		return
	}
	C.hm_flip_rowsum(C.int(p), fptr(w), fptr(wneg), fptr(v), C.int64_t(rows), C.int64_t(cols), fptr(x), (*C.double)(unsafe.Pointer(&out[0])))
}

// normals sets out[i] to the normal deviate of element c0+i of the block
// of stream key at base; see normalsGo.
func normals(key, base, c0 uint64, out []float32) {
	if len(out) == 0 {
		return
	}
	p := currentPath()
	if p == pathGo {
		normalsGo(key, base, c0, out)
		return
	}
	C.hm_normals(C.int(p), C.uint64_t(key), C.uint64_t(base), C.uint64_t(c0), C.int64_t(len(out)), fptr(out))
}

// gaussianSample, reluBias, reluBiasSample and addRow work on rows whole
// rows of len(std) (len(bias), len(v)) values; see the Go references.
func gaussianSample(s, mean, std []float32, rows int, key, base, c0 uint64) {
	if rows == 0 || len(std) == 0 {
		return
	}
	_, _ = s[rows*len(std)-1], mean[rows*len(std)-1]
	p := currentPath()
	if p == pathGo {
		gaussianSampleGo(s, mean, std, rows, key, base, c0)
		return
	}
	C.hm_gaussian_sample(C.int(p), fptr(s), fptr(mean), fptr(std), C.int64_t(rows), C.int64_t(len(std)),
		C.uint64_t(key), C.uint64_t(base), C.uint64_t(c0))
}

func reluBias(x, bias []float32, rows int) {
	if rows == 0 || len(bias) == 0 {
		return
	}
	_ = x[rows*len(bias)-1]
	p := currentPath()
	if p == pathGo {
		reluBiasGo(x, bias, rows)
		return
	}
	C.hm_relu_bias(C.int(p), fptr(x), fptr(bias), C.int64_t(rows), C.int64_t(len(bias)))
}

func reluBiasSample(x, s, bias []float32, rows int, key, base, c0 uint64) {
	if rows == 0 || len(bias) == 0 {
		return
	}
	_, _ = x[rows*len(bias)-1], s[rows*len(bias)-1]
	p := currentPath()
	if p == pathGo {
		reluBiasSampleGo(x, s, bias, rows, key, base, c0)
		return
	}
	C.hm_relu_bias_sample(C.int(p), fptr(x), fptr(s), fptr(bias), C.int64_t(rows), C.int64_t(len(bias)),
		C.uint64_t(key), C.uint64_t(base), C.uint64_t(c0))
}

func addRow(x, v []float32, rows int) {
	if rows == 0 || len(v) == 0 {
		return
	}
	_ = x[rows*len(v)-1]
	p := currentPath()
	if p == pathGo {
		addRowGo(x, v, rows)
		return
	}
	C.hm_add_row(C.int(p), fptr(x), fptr(v), C.int64_t(rows), C.int64_t(len(v)))
}

// spmm is hm_spmm over the len(ptr)-1 rows of a sparse matrix; see spmmGo.
func spmm(ptr, idx []int32, val, b []float32, ldb, cols int, alpha, beta float32, out []float32, ldo int) {
	rows := len(ptr) - 1
	if rows <= 0 || cols == 0 {
		return
	}
	_ = out[(rows-1)*ldo+cols-1]
	p := currentPath()
	if p == pathGo || ptr[rows] == ptr[0] {
		// No entries (idx and val may be empty): nothing for C to read.
		spmmGo(ptr, idx, val, b, ldb, cols, alpha, beta, out, ldo)
		return
	}
	var vp *C.float
	if val != nil {
		vp = fptr(val)
	}
	C.hm_spmm(C.int(p), (*C.int32_t)(unsafe.Pointer(&ptr[0])), (*C.int32_t)(unsafe.Pointer(&idx[0])), vp,
		C.int64_t(rows), fptr(b), C.int64_t(ldb), C.int64_t(cols), C.float(alpha), C.float(beta), fptr(out), C.int64_t(ldo))
}

// allOnes is hm_all_ones; see allOnesGo.
func allOnes(v []float32) bool {
	if len(v) == 0 {
		return true
	}
	return C.hm_all_ones(fptr(v), C.int64_t(len(v))) != 0
}

// sparseFrom is hm_sparse_from; see sparseFromGo.
func sparseFrom(d []float32, rows, cols int, ptr, idx []int32, val []float32, count []int32) int {
	p := currentPath()
	if p == pathGo || len(d) == 0 {
		return sparseFromGo(d, rows, cols, ptr, idx, val, count)
	}
	_, _ = idx[len(d)+15], val[len(d)+15]
	_, _ = ptr[rows], count[cols-1]
	return int(C.hm_sparse_from(C.int(p), fptr(d), C.int64_t(rows), C.int64_t(cols), i32p(ptr), i32p(idx), fptr(val), i32p(count)))
}

// sparseTranspose is hm_sparse_transpose; see sparseTransposeGo.
func sparseTranspose(rows, cols int, ptr, idx []int32, val []float32, tptr, tidx []int32, tval []float32) {
	if currentPath() == pathGo || len(idx) == 0 {
		sparseTransposeGo(rows, cols, ptr, idx, val, tptr, tidx, tval)
		return
	}
	_, _ = ptr[rows], tptr[cols]
	_, _ = tidx[len(idx)-1], tval[len(idx)-1]
	C.hm_sparse_transpose(C.int64_t(rows), C.int64_t(cols), i32p(ptr), i32p(idx), fptr(val), i32p(tptr), i32p(tidx), fptr(tval))
}

func i32p(s []int32) *C.int32_t { return (*C.int32_t)(unsafe.Pointer(&s[0])) }

// activate is hm_act over len(out) values; see activateGo.
func activate(kind int, alpha float32, x, y, dy, out []float32) {
	n := len(out)
	if n == 0 {
		return
	}
	p := currentPath()
	if p == pathGo {
		activateGo(kind, alpha, x, y, dy, out)
		return
	}
	var xp, yp, gp *C.float
	if kind <= actLeaky || kind >= actReLUGrad {
		_ = x[n-1]
		xp = fptr(x)
	}
	if kind == actSigmoidGrad || kind == actTanhGrad {
		_ = y[n-1]
		yp = fptr(y)
	}
	if kind >= actSigmoidGrad {
		_ = dy[n-1]
		gp = fptr(dy)
	}
	C.hm_act(C.int(p), C.int(kind), C.float(alpha), xp, yp, gp, fptr(out), C.int64_t(n))
}

func cTiling(t Tiling) C.hm_tiling {
	return C.hm_tiling{h: C.int64_t(t.H), w: C.int64_t(t.W), ch: C.int64_t(t.Ch), tiles_y: C.int64_t(t.TilesY),
		tiles_x: C.int64_t(t.TilesX), step: C.int64_t(t.Step), pad: C.int64_t(t.Pad)}
}

// tilesFwd is hm_tiles_fwd; see tilesFwdGo. The caller has checked the
// sizes.
func tilesFwd(img []float32, t Tiling, l []float32, p, q int, dst []float32, ld int) {
	path := currentPath()
	if path == pathGo {
		tilesFwdGo(img, t, l, p, q, dst, ld)
		return
	}
	C.hm_tiles_fwd(C.int(path), fptr(img), cTiling(t), fptr(l), C.int64_t(p), C.int64_t(q), fptr(dst), C.int64_t(ld))
}

// tilesBack is hm_tiles_back; see tilesBackGo. The caller has checked the
// sizes.
func tilesBack(src []float32, ld int, l []float32, p, q int, img []float32, t Tiling, bias []float32) {
	path := currentPath()
	if path == pathGo {
		tilesBackGo(src, ld, l, p, q, img, t, bias)
		return
	}
	var bp *C.float
	if bias != nil {
		bp = fptr(bias)
	}
	C.hm_tiles_back(C.int(path), fptr(src), C.int64_t(ld), fptr(l), C.int64_t(p), C.int64_t(q), fptr(img), cTiling(t), bp)
}

// transpose is hm_transpose; see transposeGo. The caller has checked the
// sizes.
func transpose(dst []float32, ldd int, src []float32, lds, rows, cols int) {
	p := currentPath()
	if p == pathGo {
		transposeGo(dst, ldd, src, lds, rows, cols)
		return
	}
	C.hm_transpose(C.int(p), fptr(dst), C.int64_t(ldd), fptr(src), C.int64_t(lds), C.int64_t(rows), C.int64_t(cols))
}
