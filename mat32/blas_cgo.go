//go:build cgo

package mat32

/*
#cgo CFLAGS: -O3 -std=c11
#cgo LDFLAGS: -lm
#cgo linux LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>
#include "kernels.h"

typedef void (*hm_sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int, float, float *, int);
static hm_sgemm_fn hm_sgemm_p;
static char *(*hm_corename_p)(void);
static void (*hm_set_threads_p)(int);
static char *(*hm_config_p)(void);

static int hm_blas_open(const char *path) {
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) return 0;
	hm_sgemm_p = (hm_sgemm_fn)dlsym(h, "cblas_sgemm");
	if (!hm_sgemm_p) {
		dlclose(h);
		return 0;
	}
	hm_set_threads_p = (void (*)(int))dlsym(h, "openblas_set_num_threads");
	if (hm_set_threads_p) hm_set_threads_p(1);
	hm_corename_p = (char *(*)(void))dlsym(h, "openblas_get_corename");
	hm_config_p = (char *(*)(void))dlsym(h, "openblas_get_config");
	return 1;
}

static void hm_sgemm(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                     const float *b, int ldb, float beta, float *c, int ldc) {
	HM_FTZ_ON
	hm_sgemm_p(101, ta ? 112 : 111, tb ? 112 : 111, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
	HM_FTZ_OFF
}

static int hm_blas_threads(int n) {
	if (!hm_set_threads_p) return 0;
	hm_set_threads_p(n);
	return 1;
}

static const char *hm_corename(void) { return hm_corename_p ? hm_corename_p() : ""; }
static const char *hm_config(void) { return hm_config_p ? hm_config_p() : ""; }
*/
import "C"

import (
	"os"
	"strings"
	"unsafe"

	"golang.org/x/sys/cpu"
)

// openBLAS calls cblas_sgemm of a BLAS library loaded at run time, with the
// library's own threading off: Gemm splits large products between workers.
type openBLAS struct{ desc string }

func (o *openBLAS) sgemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	C.hm_sgemm(cbool(tA), cbool(tB), C.int(m), C.int(n), C.int(k), C.float(alpha),
		(*C.float)(unsafe.Pointer(&a[0])), C.int(lda), (*C.float)(unsafe.Pointer(&b[0])), C.int(ldb),
		C.float(beta), (*C.float)(unsafe.Pointer(&c[0])), C.int(ldc))
}
func (o *openBLAS) single() bool { return true }
func (o *openBLAS) name() string { return o.desc }

// setThreads sets the number of threads of the library's own threading
// (1: off), reporting whether the library lets harmonium set it.
func (o *openBLAS) setThreads(n int) bool { return C.hm_blas_threads(C.int(n)) == 1 }

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// libraries are the names tried, in order, when HARMONIUM_BLAS names none.
var libraries = []string{"libopenblas.so.0", "libopenblas.so", "libopenblas.dylib", "libopenblas64_.so.0"}

// loadNative loads OpenBLAS (or the library at path choice). Before loading
// it sets, unless the user already did, OPENBLAS_NUM_THREADS=1: Gemm does its
// own splitting, so BLAS threads would only compete with it. It also chooses
// OpenBLAS's kernels (OPENBLAS_CORETYPE, read once when the library loads):
// HARMONIUM_OPENBLAS_CORETYPE, when set, is passed on as it is; otherwise, on
// a CPU with AVX-512, an inherited OPENBLAS_CORETYPE naming older kernels
// (machines often set Haswell for every program) is replaced by SkylakeX,
// about twice as fast for float32 products.
func loadNative(choice string) (backend, string) {
	names := libraries
	if choice != "" && choice != "auto" {
		names = []string{choice}
	}
	if os.Getenv("OPENBLAS_NUM_THREADS") == "" {
		os.Setenv("OPENBLAS_NUM_THREADS", "1")
	}
	note := ""
	if want := os.Getenv("HARMONIUM_OPENBLAS_CORETYPE"); want != "" {
		os.Setenv("OPENBLAS_CORETYPE", want)
	} else if have := os.Getenv("OPENBLAS_CORETYPE"); hasAVX512() && !avx512Core(have) {
		os.Setenv("OPENBLAS_CORETYPE", "SkylakeX")
		if have != "" {
			note = "; OPENBLAS_CORETYPE=" + have + " replaced, set HARMONIUM_OPENBLAS_CORETYPE to choose"
		}
	}
	for _, name := range names {
		cs := C.CString(name)
		ok := C.hm_blas_open(cs)
		C.free(unsafe.Pointer(cs))
		if ok == 1 {
			return &openBLAS{desc: describe(name) + note}, ""
		}
	}
	return nil, "could not load " + strings.Join(names, " or ") + " (install libopenblas0 for fast products)"
}

// avx512Core reports whether an OPENBLAS_CORETYPE value names AVX-512 kernels.
func avx512Core(core string) bool {
	switch strings.ToLower(core) {
	case "skylakex", "cooperlake", "sapphirerapids":
		return true
	}
	return false
}

func hasAVX512() bool {
	x := cpu.X86
	return x.HasAVX512F && x.HasAVX512CD && x.HasAVX512BW && x.HasAVX512DQ && x.HasAVX512VL
}

func describe(name string) string {
	config := C.GoString(C.hm_config())
	core := C.GoString(C.hm_corename())
	if config == "" {
		return name
	}
	fields := strings.Fields(config) // "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ..."
	s := "openblas"
	if len(fields) > 1 {
		s += " " + fields[1]
	}
	if core != "" {
		s += " (" + core + " kernels)"
	}
	return s
}
