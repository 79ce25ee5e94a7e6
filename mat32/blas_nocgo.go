//go:build !cgo

package mat32

func loadNative(choice string) (backend, string) {
	if choice != "" && choice != "auto" {
		return nil, "HARMONIUM_BLAS=" + choice + " needs a cgo build"
	}
	return nil, ""
}
