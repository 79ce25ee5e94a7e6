package mat32

import (
	"math/rand/v2"
	"testing"
)

func benchGemm(b *testing.B, be backend, tA, tB bool, m, n, k int) {
	r := rand.New(rand.NewPCG(1, 1))
	a, bm, c := randDense(r, m, k), randDense(r, k, n), New(m, n)
	if tA {
		a = randDense(r, k, m)
	}
	if tB {
		bm = randDense(r, n, k)
	}
	b.SetBytes(0)
	for b.Loop() {
		gemm(be, tA, tB, m, n, k, 1, a.Data, a.Cols, bm.Data, bm.Cols, 0, c.Data, c.Cols)
	}
	b.ReportMetric(2*float64(m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkGemm measures the products of one CD-1 step at 784-500, batch 100.
func BenchmarkGemm(b *testing.B) {
	for _, be := range []backend{current(), pureGo{}} {
		name := "go"
		if be.single() {
			name = "native"
		}
		b.Logf("%s: %s", name, be.name())
		b.Run(name+"/vW", func(b *testing.B) { benchGemm(b, be, false, false, 100, 500, 784) })
		b.Run(name+"/hWt", func(b *testing.B) { benchGemm(b, be, false, true, 100, 784, 500) })
		b.Run(name+"/vtH", func(b *testing.B) { benchGemm(b, be, true, false, 784, 500, 100) })
	}
}

func BenchmarkSigmoidBiasSample(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	x, s := randDense(r, 100, 500), New(100, 500)
	bias := make([]float32, 500)
	rng := NewRNG(1, 1)
	for b.Loop() {
		SigmoidBiasSample(x, s, bias, rng)
	}
	b.ReportMetric(float64(len(x.Data))*float64(b.N)/b.Elapsed().Seconds()/1e6, "Melem/s")
}
