package mat32

import (
	"math"
	"testing"
)

// TestGemmSerial compares GemmSerial on parts of larger matrices (leading
// dimensions above the widths) with a float64 product, for every
// combination of transpositions and for beta 0 and 1.
func TestGemmSerial(t *testing.T) {
	r := NewRNG(3, 3)
	const m, n, k, pad = 7, 5, 9, 3
	for _, tA := range []bool{false, true} {
		for _, tB := range []bool{false, true} {
			for _, beta := range []float32{0, 1} {
				ar, ac := m, k
				if tA {
					ar, ac = k, m
				}
				br, bc := k, n
				if tB {
					br, bc = n, k
				}
				lda, ldb, ldc := ac+pad, bc+pad, n+pad
				a, b, c := make([]float32, ar*lda), make([]float32, br*ldb), make([]float32, m*ldc)
				r.Uniform(a)
				r.Uniform(b)
				r.Uniform(c)
				old := append([]float32(nil), c...)
				GemmSerial(tA, tB, m, n, k, 2, a, lda, b, ldb, beta, c, ldc)
				at := func(i, l int) float64 {
					if tA {
						return float64(a[l*lda+i])
					}
					return float64(a[i*lda+l])
				}
				bt := func(l, j int) float64 {
					if tB {
						return float64(b[j*ldb+l])
					}
					return float64(b[l*ldb+j])
				}
				for i := range m {
					for j := range ldc {
						got := c[i*ldc+j]
						if j >= n {
							if got != old[i*ldc+j] {
								t.Fatalf("tA %v tB %v: c[%d,%d] outside the product changed", tA, tB, i, j)
							}
							continue
						}
						want := float64(beta) * float64(old[i*ldc+j])
						for l := range k {
							want += 2 * at(i, l) * bt(l, j)
						}
						if math.Abs(float64(got)-want) > 1e-4 {
							t.Fatalf("tA %v tB %v beta %v: c[%d,%d] = %v, want %v", tA, tB, beta, i, j, got, want)
						}
					}
				}
			}
		}
	}
}

func TestGemmSerialShapes(t *testing.T) {
	a, b, c := make([]float32, 6), make([]float32, 6), make([]float32, 4)
	mustPanic(t, "short a", func() { GemmSerial(false, false, 2, 2, 4, 1, a, 4, b, 2, 0, c, 2) })
	mustPanic(t, "small lda", func() { GemmSerial(false, false, 2, 2, 3, 1, a, 2, b, 2, 0, c, 2) })
	// k = 0 scales c by beta.
	c = []float32{1, 2, 3, 4}
	GemmSerial(false, false, 2, 2, 0, 1, nil, 1, nil, 2, 0.5, c, 2)
	if c[0] != 0.5 || c[3] != 2 {
		t.Errorf("k = 0: c = %v, want it halved", c)
	}
}

func TestAddTo(t *testing.T) {
	for n := range 20 {
		dst, src := make([]float32, n), make([]float32, n+3)
		for i := range src {
			src[i] = float32(i)
		}
		for i := range dst {
			dst[i] = 1
		}
		AddTo(dst, src)
		for i, v := range dst {
			if v != float32(i)+1 {
				t.Fatalf("n %d: dst[%d] = %v", n, i, v)
			}
		}
	}
}
