//go:build !cgo

package mat32

// KernelImpl names the language of the element-wise kernels compiled in:
// "C" in cgo builds (which can still run the Go ones, see KernelPath), "Go"
// otherwise. KernelPath tells which implementation runs.
const KernelImpl = "Go"

const cgoKernels = false

func cPathOK(kernelPath) bool { return false }

func philoxFill(_ kernelPath, key, c0 uint64, out []uint32) { philoxFillGo(key, c0, out) }

func sigmoidBias(x, bias []float32, rows, ld int) { sigmoidBiasGo(x, bias, rows, ld) }

func sigmoidBiasSample(x, s, bias []float32, rows, ld int, key, base uint64) {
	sigmoidBiasSampleGo(x, s, bias, rows, ld, key, base)
}

func bernoulli(s, p []float32, key, base uint64) { bernoulliGo(s, p, key, base) }

func diffStats(a, b []float32, rows, cols, ld int, colsum []float32, alpha float32, sq []float32, negb bool) float64 {
	return diffStatsGo(a, b, rows, cols, ld, colsum, alpha, sq, negb)
}

func momentumStep(w, vel []float32, decay float32) { momentumStepGo(w, vel, decay) }

func adamStep(w, g, m, v []float32, b1, b2, step, c2, eps float32) {
	adamStepGo(w, g, m, v, b1, b2, step, c2, eps)
}

func scale(x []float32, f float32) { scaleGo(x, f) }

func softplusRowSum(x, bias []float32, rows, ld int, beta float32, out []float64) {
	softplusRowSumGo(x, bias, rows, ld, beta, out)
}

func aisHidden(x, bias []float32, rows int, bk, bp float32, s []float32, key, base uint64, delta []float64) {
	aisHiddenGo(x, bias, rows, bk, bp, s, key, base, delta)
}

func flipRowSum(w, wneg, v []float32, rows, cols int, x []float32, out []float64) {
	flipRowSumGo(w, wneg, v, rows, cols, x, out)
}

func normals(key, base, c0 uint64, out []float32) { normalsGo(key, base, c0, out) }

func gaussianSample(s, mean, std []float32, rows int, key, base, c0 uint64) {
	gaussianSampleGo(s, mean, std, rows, key, base, c0)
}

func reluBias(x, bias []float32, rows int) { reluBiasGo(x, bias, rows) }

func reluBiasSample(x, s, bias []float32, rows int, key, base, c0 uint64) {
	reluBiasSampleGo(x, s, bias, rows, key, base, c0)
}

func addRow(x, v []float32, rows int) { addRowGo(x, v, rows) }

func spmm(ptr, idx []int32, val, b []float32, ldb, cols int, alpha, beta float32, out []float32, ldo int) {
	spmmGo(ptr, idx, val, b, ldb, cols, alpha, beta, out, ldo)
}

func allOnes(v []float32) bool { return allOnesGo(v) }

func sparseFrom(d []float32, rows, cols int, ptr, idx []int32, val []float32, count []int32) int {
	return sparseFromGo(d, rows, cols, ptr, idx, val, count)
}

func sparseTranspose(rows, cols int, ptr, idx []int32, val []float32, tptr, tidx []int32, tval []float32) {
	sparseTransposeGo(rows, cols, ptr, idx, val, tptr, tidx, tval)
}

func activate(kind int, alpha float32, x, y, dy, out []float32) {
	activateGo(kind, alpha, x, y, dy, out)
}

func tilesFwd(img []float32, t Tiling, l []float32, p, q int, dst []float32, ld int) {
	tilesFwdGo(img, t, l, p, q, dst, ld)
}

func tilesBack(src []float32, ld int, l []float32, p, q int, img []float32, t Tiling, bias []float32) {
	tilesBackGo(src, ld, l, p, q, img, t, bias)
}

func transpose(dst []float32, ldd int, src []float32, lds, rows, cols int) {
	transposeGo(dst, ldd, src, lds, rows, cols)
}
