package mat32

import (
	"os"
	"runtime"
	"strings"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// backend computes C = alpha*op(A)*op(B) + beta*C on row-major storage.
type backend interface {
	sgemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)
	// single reports whether one call uses one core, so that Gemm should
	// split large products between workers itself.
	single() bool
	name() string
}

// pureGo is gonum's native Go BLAS (parallel on its own).
type pureGo struct{}

func (pureGo) sgemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if tA {
		// gonum's transposed-A product is several times slower than
		// transposing A first.
		buf := scratch.Get().(*[]float32)
		if cap(*buf) < m*k {
			*buf = make([]float32, m*k)
		}
		at := (*buf)[:m*k]
		for l := 0; l < k; l++ {
			for i, v := range a[l*lda : l*lda+m] {
				at[i*k+l] = v
			}
		}
		gonum.Implementation{}.Sgemm(blas.NoTrans, trans(tB), m, n, k, alpha, at, k, b, ldb, beta, c, ldc)
		scratch.Put(buf)
		return
	}
	gonum.Implementation{}.Sgemm(trans(tA), trans(tB), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}
func (pureGo) single() bool { return false }
func (pureGo) name() string { return "pure Go (gonum)" }

func trans(t bool) blas.Transpose {
	if t {
		return blas.Trans
	}
	return blas.NoTrans
}

var scratch = sync.Pool{New: func() any { return new([]float32) }}

var (
	once    sync.Once
	active  backend
	loadMsg string
)

// current returns the backend, choosing it on first use.
//
// HARMONIUM_BLAS selects it: "go" forces the pure-Go backend; a path loads
// that BLAS library; unset (or "auto") tries the system's OpenBLAS and falls
// back to pure Go when it cannot be loaded (or the binary has no cgo).
func current() backend {
	once.Do(func() {
		choice := strings.TrimSpace(os.Getenv("HARMONIUM_BLAS"))
		if choice == "go" {
			active = pureGo{}
			return
		}
		if b, msg := loadNative(choice); b != nil {
			active = b
			initStrategy(b)
		} else {
			active, loadMsg = pureGo{}, msg
		}
	})
	return active
}

// Backend describes the matrix-product backend in use, for example
// "openblas 0.3.21 (SkylakeX kernels), 2 workers" or "pure Go (gonum)".
func Backend() string {
	b := current()
	s := b.name()
	if b.single() {
		s += ", " + itoa(Workers()) + " workers"
	}
	return s
}

// Native reports whether products run on a native BLAS library (as opposed
// to the pure-Go fallback, whose products allocate for their goroutines).
func Native() bool { return current().single() }

// BackendNote explains why the native backend is not in use, or why
// HARMONIUM_GEMM could not be followed ("" when all is as asked).
func BackendNote() string {
	current()
	if loadMsg != "" && strategyNote != "" {
		return loadMsg + "; " + strategyNote
	}
	return loadMsg + strategyNote
}

// Workers is the number of goroutines that kernels and products use: GOMAXPROCS.
func Workers() int { return runtime.GOMAXPROCS(0) }

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for ; n > 0; n /= 10 {
		i--
		b[i] = byte('0' + n%10)
	}
	return string(b[i:])
}
