//go:build !cgo

package mat32

func loadNative(choice string) (backend, string) {
	if choice != "" && choice != "auto" {
		return nil, "HARMONIUM_BLAS=" + choice + " needs a cgo build"
	}
	return nil, ""
}

func sigmoidBias(x, bias []float32, rows int) { sigmoidBiasGo(x[:rows*len(bias)], bias) }

func sigmoidBiasSample(x, s, bias []float32, rows int, key, base uint64) {
	n := rows * len(bias)
	sigmoidBiasSampleGo(x[:n], s[:n], bias, key, base)
}

func bernoulli(s, p []float32, key, base uint64) { bernoulliGo(s, p, key, base) }

// KernelImpl names the element-wise kernel implementation in use.
const KernelImpl = "Go"
