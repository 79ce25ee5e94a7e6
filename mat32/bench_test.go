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

// BenchmarkGemmStrategies compares, for the products of a CD-1 step and
// the native backend, harmonium's split of each product into Workers()
// single-threaded calls (blocks aligned to 16 or 64 columns or rows),
// OpenBLAS's own threads, and one call on one thread. Run it with each
// OPENBLAS_CORETYPE (HARMONIUM_OPENBLAS_CORETYPE=Haswell, SkylakeX).
func BenchmarkGemmStrategies(b *testing.B) {
	be := current()
	if _, ok := be.(threadSetter); !ok {
		b.Skip("no native backend")
	}
	b.Logf("%s", be.name())
	for _, st := range []struct {
		name  string
		s     gemmStrategy
		align int
	}{{"split16", gemmSplit, 16}, {"split64", gemmSplit, 64}, {"split128", gemmSplit, 128}, {"openblas", gemmBLAS, 16}, {"single", gemmSingle, 16}} {
		for _, sh := range []struct {
			name    string
			tA, tB  bool
			m, n, k int
		}{{"vW", false, false, 100, 500, 784}, {"hWt", false, true, 100, 784, 500}, {"vtH", true, false, 784, 500, 100}, {"vtH200", true, false, 784, 500, 200}} {
			b.Run(st.name+"/"+sh.name, func(b *testing.B) {
				restore, ok := setGemmStrategy(st.s, st.align)
				if !ok {
					b.Skip("cannot set OpenBLAS threads")
				}
				defer restore()
				benchGemm(b, be, sh.tA, sh.tB, sh.m, sh.n, sh.k)
			})
		}
	}
}

// benchKernel runs the kernel benchmark called name on every kernel path
// that can run here (sub-benchmarks go, scalar, avx2, avx512), reporting
// millions of elements per second. Kernels split between Workers() as in
// training.
func benchKernel(b *testing.B, name string) {
	for _, kb := range kernelBenches() {
		if kb.name != name {
			continue
		}
		for _, p := range allPaths {
			b.Run(p.String(), func(b *testing.B) {
				restore, err := setPath(p)
				if err != nil {
					b.Skip(err)
				}
				defer restore()
				for b.Loop() {
					kb.run()
				}
				b.ReportMetric(float64(kb.elems)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Melem/s")
			})
		}
		return
	}
	b.Fatalf("no kernel benchmark %s", name)
}

func BenchmarkSigmoidBias(b *testing.B)       { benchKernel(b, "SigmoidBias") }
func BenchmarkSigmoidBiasSample(b *testing.B) { benchKernel(b, "SigmoidBiasSample") }
func BenchmarkBernoulli(b *testing.B)         { benchKernel(b, "Bernoulli") }
func BenchmarkDiffStats(b *testing.B)         { benchKernel(b, "DiffStats") }
func BenchmarkMomentumStep(b *testing.B)      { benchKernel(b, "MomentumStep") }
func BenchmarkAdamStep(b *testing.B)          { benchKernel(b, "AdamStep") }
func BenchmarkScale(b *testing.B)             { benchKernel(b, "Scale") }
func BenchmarkSoftplusRowSums(b *testing.B)   { benchKernel(b, "SoftplusRowSums") }
func BenchmarkAISHidden(b *testing.B)         { benchKernel(b, "AISHidden") }
func BenchmarkFlipSoftplusSums(b *testing.B)  { benchKernel(b, "FlipSoftplusSums") }

// benchKernelSizes runs the kernel benchmarks called name/size for each
// size, as sub-benchmarks size/path.
func benchKernelSizes(b *testing.B, name string, sizes ...string) {
	for _, size := range sizes {
		b.Run(size, func(b *testing.B) { benchKernel(b, name+"/"+size) })
	}
}

func BenchmarkGaussianSample(b *testing.B) {
	benchKernelSizes(b, "GaussianSample", "100x784", "100x500")
}
func BenchmarkReLUBiasSample(b *testing.B) {
	benchKernelSizes(b, "ReLUBiasSample", "100x784", "100x500")
}
func BenchmarkReLUBias(b *testing.B)   { benchKernelSizes(b, "ReLUBias", "100x500") }
func BenchmarkLinearBias(b *testing.B) { benchKernelSizes(b, "LinearBias", "100x500") }
func BenchmarkActivate(b *testing.B)   { benchKernelSizes(b, "Activate", "relu", "sigmoid") }
func BenchmarkActivateGrad(b *testing.B) {
	benchKernelSizes(b, "ActivateGrad", "relu", "sigmoid")
}

// BenchmarkUniform measures the random numbers alone (one goroutine).
func BenchmarkUniform(b *testing.B) {
	for _, p := range allPaths {
		b.Run(p.String(), func(b *testing.B) {
			if !pathSupported(p) {
				b.Skip("cannot run here")
			}
			out := make([]uint32, 50000)
			for b.Loop() {
				philoxFill(p, 7, 3, out)
			}
			b.ReportMetric(float64(len(out))*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mnum/s")
		})
	}
}
