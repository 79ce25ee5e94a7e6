package mat32

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// sparseDense is a rows x cols matrix whose entries are 0 with probability
// 1-density, else uniform in (0, 1] (pixel-like).
func sparseDense(r *rand.Rand, rows, cols int, density float64) *Dense {
	m := New(rows, cols)
	for i := range m.Data {
		if r.Float64() < density {
			m.Data[i] = float32(1 - r.Float64())
		}
	}
	return m
}

// SetFrom on every path: each row's and each column's entries, in order,
// for shapes that leave every remainder of the vector widths.
func TestSparseSetFromRoundTrip(t *testing.T) {
	forPaths(t, testSetFrom)
}

func testSetFrom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var s Sparse
	for _, shape := range [][3]float64{{7, 13, 0.3}, {100, 784, 0.19}, {1, 1, 1}, {5, 9, 0}, {30, 4, 1}, {9, 17, 0.5}, {3, 31, 0.9}, {0, 5, 1}, {101, 400, 1}, {3, 20000, 0.5}, {2, 16400, 0.97}} {
		d := sparseDense(r, int(shape[0]), int(shape[1]), shape[2])
		if len(d.Data) > 3 {
			d.Data[1] = float32(math.Copysign(0, -1)) // -0 is zero
			d.Data[2] = float32(math.NaN())           // NaN is not
		}
		s.SetFrom(d) // reuses the storage of the previous shape
		s.byColumn()
		rows, cols := s.Dims()
		if rows != d.Rows || cols != d.Cols {
			t.Fatalf("Dims %dx%d, want %dx%d", rows, cols, d.Rows, d.Cols)
		}
		if got, want := s.Density(), Density(d); got != want {
			t.Fatalf("%v: density %v, want %v", shape, got, want)
		}
		byRow, byCol := New(d.Rows, d.Cols), New(d.Rows, d.Cols)
		for i := range d.Rows {
			for p := s.ptr[i]; p < s.ptr[i+1]; p++ {
				if p > s.ptr[i] && s.idx[p] <= s.idx[p-1] {
					t.Fatalf("%v: row %d columns out of order", shape, i)
				}
				byRow.Set(i, int(s.idx[p]), s.val[p])
			}
		}
		for c := range d.Cols {
			for p := s.tptr[c]; p < s.tptr[c+1]; p++ {
				if p > s.tptr[c] && s.tidx[p] <= s.tidx[p-1] {
					t.Fatalf("%v: column %d rows out of order", shape, c)
				}
				byCol.Set(int(s.tidx[p]), c, s.tval[p])
			}
		}
		for i, x := range d.Data {
			if !same(byRow.Data[i], x) && x != 0 || !same(byCol.Data[i], x) && x != 0 || x == 0 && (byRow.Data[i] != 0 || byCol.Data[i] != 0) {
				t.Fatalf("%v: entry %d: rows give %v, columns %v, want %v", shape, i, byRow.Data[i], byCol.Data[i], x)
			}
		}
	}
}

// Every kernel path computes the Go reference's sums bit for bit, over
// widths that leave every remainder of the vector blocks, inner sizes of
// one and of several chunks of b's rows (HM_SPK), and more rows than a
// group (HM_SPG), some of them empty; binary matrices (all values 1) take
// the sums without products and must give the same bits.
func TestSpmmPathsMatchGoReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const ldb = 300
	for _, shape := range [][3]int{{37, 50, 0}, {300, 200, 0}, {130, 129, 0}, {100, 500, 1}, {37, 50, 1}} {
		a := sparseDense(r, shape[0], shape[1], 0.25)
		if shape[2] == 1 {
			for i, x := range a.Data {
				if x != 0 {
					a.Data[i] = 1
				}
			}
		}
		for i := 0; i < a.Rows; i += 7 {
			clear(a.Row(i)) // empty rows
		}
		for i := 3; i < a.Rows; i += 11 {
			clear(a.Row(i)[a.Cols/2:]) // rows that end early
		}
		var s Sparse
		s.SetFrom(a)
		if s.ones != (shape[2] == 1) {
			t.Fatalf("%v: ones = %v", shape, s.ones)
		}
		val := s.val
		if s.ones {
			val = nil
		}
		b := randDense(r, a.Cols, ldb)
		for _, cols := range []int{1, 7, 8, 15, 16, 17, 63, 64, 65, 100, 127, 128, 129, 200, 255, 256, 257, 300} {
			for _, ab := range [][2]float32{{1, 0}, {0.37, 0}, {-0.01, 1}, {0.5, 0.9}} {
				alpha, beta := ab[0], ab[1]
				init := randDense(r, a.Rows, ldb)
				want := init.Clone()
				spmmGo(s.ptr, s.idx, s.val, b.Data, ldb, cols, alpha, beta, want.Data, ldb)
				forPaths(t, func(t *testing.T) {
					got := init.Clone()
					spmm(s.ptr, s.idx, val, b.Data, ldb, cols, alpha, beta, got.Data, ldb)
					sameSlices(t, fmt.Sprintf("%v cols %d alpha %v beta %v", shape, cols, alpha, beta), got.Data, want.Data)
				})
			}
		}
	}
}

func closeTo(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	for i := range want {
		if d := math.Abs(float64(got[i]) - float64(want[i])); d > tol*(1+math.Abs(float64(want[i]))) || math.IsNaN(float64(got[i])) {
			t.Fatalf("%s: element %d is %v, want %v", what, i, got[i], want[i])
		}
	}
}

func TestMulSparseMatchesGemm(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var s Sparse
	for _, shape := range [][3]int{{100, 784, 500}, {3, 5, 7}, {200, 64, 33}} {
		m, k, n := shape[0], shape[1], shape[2]
		a := sparseDense(r, m, k, 0.2)
		s.SetFrom(a)
		b, bt := randDense(r, k, n), randDense(r, m, n)
		c0, ct0 := randDense(r, m, n), randDense(r, k, n)
		for _, beta := range []float32{0, 0.7} {
			want, got := c0.Clone(), c0.Clone()
			Gemm(false, false, 0.3, a, b, beta, want)
			MulSparse(false, 0.3, &s, b, beta, got)
			closeTo(t, fmt.Sprintf("%v beta %v", shape, beta), got.Data, want.Data, 1e-5)
			want, got = ct0.Clone(), ct0.Clone()
			Gemm(true, false, 0.3, a, bt, beta, want)
			MulSparse(true, 0.3, &s, bt, beta, got)
			closeTo(t, fmt.Sprintf("%v transposed beta %v", shape, beta), got.Data, want.Data, 1e-5)
		}
	}
}

// MulSigmoidSparse gives MulSigmoid's probabilities (to rounding) and, from
// the same stream, the same samples wherever a probability is not within
// rounding of the uniform it is compared with.
func TestMulSigmoidSparseMatchesDense(t *testing.T) {
	a, w, bias, s := sigmoidProductCase(rand.New(rand.NewPCG(7, 8)), 100, 784, 500, 0.19)
	want, wantS := New(100, 500), New(100, 500)
	MulSigmoid(a, w, false, bias, want, wantS, NewRNG(9, 9))
	got, gotS := New(100, 500), New(100, 500)
	MulSigmoidSparse(s, w, bias, got, gotS, NewRNG(9, 9))
	closeTo(t, "probabilities", got.Data, want.Data, 1e-5)
	differ := 0
	for i := range gotS.Data {
		if gotS.Data[i] != wantS.Data[i] {
			differ++
		}
	}
	if differ > 5 {
		t.Fatalf("%d of %d samples differ", differ, len(gotS.Data))
	}
	plain := New(100, 500)
	MulSigmoidSparse(s, w, bias, plain, nil, nil)
	sameSlices(t, "without samples", plain.Data, got.Data)
}

// sigmoidProductCase returns an n x k sparse matrix (dense and compressed)
// of the given density, k x m weights and m biases for a sigmoid product.
func sigmoidProductCase(r *rand.Rand, n, k, m int, density float64) (a, w *Dense, bias []float32, s *Sparse) {
	a = sparseDense(r, n, k, density)
	w = randDense(r, k, m)
	Scale(w, 0.05)
	bias = randDense(r, 1, m).Data
	s = new(Sparse)
	s.SetFrom(a)
	return a, w, bias, s
}

// MulSigmoidSparseScaled gives MulSigmoidScaled's probabilities, to
// rounding, for a negative and a fractional scale, and scale 1 is
// MulSigmoidSparse bit for bit.
func TestMulSigmoidSparseScaledMatchesDense(t *testing.T) {
	a, w, bias, s := sigmoidProductCase(rand.New(rand.NewPCG(12, 13)), 60, 300, 200, 0.3)
	for _, alpha := range []float32{-0.7, 0.25} {
		want, got := New(60, 200), New(60, 200)
		MulSigmoidScaled(alpha, a, w, false, bias, want, nil, nil)
		MulSigmoidSparseScaled(alpha, s, w, bias, got, nil, nil)
		closeTo(t, fmt.Sprintf("alpha %v", alpha), got.Data, want.Data, 1e-5)
	}
	one, plain := New(60, 200), New(60, 200)
	MulSigmoidSparseScaled(1, s, w, bias, one, nil, nil)
	MulSigmoidSparse(s, w, bias, plain, nil, nil)
	sameSlices(t, "scale 1", one.Data, plain.Data)
}

func TestGradientStepSparseMatchesDense(t *testing.T) {
	r := rand.New(rand.NewPCG(10, 11))
	const nb, nv, nh = 100, 784, 500
	vst := New(2*nb+2, nv)
	copy(vst.Data, sparseDense(r, nb, nv, 0.19).Data)
	copy(vst.Data[nb*nv:], randDense(r, nb+2, nv).Data)
	hst := randDense(r, 2*nb+2, nh)
	var s Sparse
	s.SetFrom(vst.Slice(0, nb))
	vel, w := randDense(r, nv, nh), randDense(r, nv, nh)
	for _, rows := range []int{2 * nb, 2*nb + 2} {
		v2, w2 := vel.Clone(), w.Clone()
		GradientStep(0.01, vst.Slice(0, rows), hst.Slice(0, rows), 0.9, v2, w2, 0.001)
		v1, w1 := vel.Clone(), w.Clone()
		GradientStepSparse(0.01, &s, hst.Slice(0, nb), vst.Slice(nb, rows), hst.Slice(nb, rows), 0.9, v1, w1, 0.001)
		closeTo(t, "velocity", v1.Data, v2.Data, 1e-5)
		closeTo(t, "weights", w1.Data, w2.Data, 1e-5)
	}
	// Without w: the plain gradient into the weights, all rows sparse.
	s.SetFrom(vst.Slice(0, nb))
	want, got := w.Clone(), w.Clone()
	Gemm(true, false, 0.01, vst.Slice(0, nb), hst.Slice(0, nb), 1, want)
	GradientStepSparse(0.01, &s, hst.Slice(0, nb), nil, nil, 1, got, nil, 0)
	closeTo(t, "plain gradient", got.Data, want.Data, 1e-5)
}

// Sparse products are the same bit for bit whatever the number of workers.
func TestSparseProductsIndependentOfWorkers(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 13))
	a := sparseDense(r, 100, 784, 0.19)
	dense := randDense(r, 100, 784)
	w, hs := randDense(r, 784, 500), randDense(r, 100, 500)
	Scale(w, 0.05)
	bias := randDense(r, 1, 500).Data
	vel := randDense(r, 784, 500)
	run := func(procs int) (p, s, v, wt *Dense) {
		old := runtime.GOMAXPROCS(procs)
		defer runtime.GOMAXPROCS(old)
		var sp Sparse
		sp.SetFrom(a)
		p, s = New(100, 500), New(100, 500)
		MulSigmoidSparse(&sp, w, bias, p, s, NewRNG(3, 1))
		v, wt = vel.Clone(), w.Clone()
		GradientStepSparse(0.01, &sp, hs, dense, hs, 0.5, v, wt, 0.001)
		return
	}
	p1, s1, v1, w1 := run(1)
	p3, s3, v3, w3 := run(3)
	sameSlices(t, "probabilities", p3.Data, p1.Data)
	sameSlices(t, "samples", s3.Data, s1.Data)
	sameSlices(t, "velocity", v3.Data, v1.Data)
	sameSlices(t, "weights", w3.Data, w1.Data)
}

func TestSparseShapePanics(t *testing.T) {
	var s Sparse
	s.SetFrom(New(3, 4))
	mustPanic(t, "MulSparse with mismatched shapes", func() { MulSparse(false, 1, &s, New(5, 2), 0, New(3, 2)) })
}

func BenchmarkSparseCD(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, density := range []float64{0.05, 0.19, 0.3, 0.5} {
		a := sparseDense(r, 100, 784, density)
		w := randDense(r, 784, 500)
		bias := randDense(r, 1, 500).Data
		out, s := New(100, 500), New(100, 500)
		hs := randDense(r, 100, 500)
		vel := New(784, 500)
		rng := NewRNG(1, 1)
		var sp Sparse
		flops := 2 * 100 * 784 * 500.0
		b.Run(fmt.Sprintf("dense-up/%.2f", density), func(b *testing.B) {
			for b.Loop() {
				MulSigmoid(a, w, false, bias, out, s, rng)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s-dense-equiv")
		})
		sp.SetFrom(a)
		b.Run(fmt.Sprintf("sparse-up/%.2f", density), func(b *testing.B) {
			for b.Loop() {
				MulSigmoidSparse(&sp, w, bias, out, s, rng)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s-dense-equiv")
		})
		b.Run(fmt.Sprintf("dense-grad/%.2f", density), func(b *testing.B) {
			for b.Loop() {
				Gemm(true, false, 0.01, a, hs, 1, vel)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s-dense-equiv")
		})
		b.Run(fmt.Sprintf("sparse-grad/%.2f", density), func(b *testing.B) {
			for b.Loop() {
				GradientStepSparse(0.01, &sp, hs, nil, nil, 1, vel, nil, 0)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s-dense-equiv")
		})
	}
}

func BenchmarkSparseSetFrom(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	a := sparseDense(r, 100, 784, 0.19)
	var sp Sparse
	for b.Loop() {
		sp.SetFrom(a)
	}
}

// GradientStepSparseT makes GradientStepSparse's update and leaves the
// updated weights transposed, bit for bit, with and without a separate
// velocity, with more weight columns than rows (which GradientStepSparse
// splits by columns) and fewer.
func TestGradientStepSparseTransposes(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for _, shape := range [][3]int{{100, 300, 400}, {100, 400, 300}, {7, 5, 9}} {
		n, m, k := shape[0], shape[1], shape[2]
		var sp Sparse
		sp.SetFrom(sparseDense(r, n, m, 0.2))
		sb, a, b := randDense(r, n, k), randDense(r, n, m), randDense(r, n, k)
		for _, withW := range []bool{false, true} {
			vel, w := randDense(r, m, k), randDense(r, m, k)
			wantVel, wantW := vel.Clone(), w.Clone()
			wT := New(k, m)
			if withW {
				GradientStepSparse(0.1, &sp, sb, a, b, 0.5, wantVel, wantW, 0.01)
				GradientStepSparseT(0.1, &sp, sb, a, b, 0.5, vel, w, 0.01, wT)
			} else {
				GradientStepSparse(0.1, &sp, sb, a, b, 1, wantVel, nil, 0)
				GradientStepSparseT(0.1, &sp, sb, a, b, 1, vel, nil, 0, wT)
				wantW, w = wantVel, vel
			}
			// Split by rows rather than columns, the dense part may round
			// differently.
			closeTo(t, fmt.Sprintf("%v weights", shape), w.Data, wantW.Data, 1e-5)
			for i := range m {
				for j := range k {
					if wT.At(j, i) != w.At(i, j) {
						t.Fatalf("%v with w %v: transposed (%d, %d) = %v, want %v", shape, withW, j, i, wT.At(j, i), w.At(i, j))
					}
				}
			}
		}
	}
}

// BenchmarkSparseDown compares, for binary hidden samples of a 784-500 RBM
// (batch 100) at several densities, the dense product down with the
// sparse one, counting the compression of the samples and the weights'
// transposition that it needs once a step.
func BenchmarkSparseDown(b *testing.B) {
	r := rand.New(rand.NewPCG(2, 2))
	w := randDense(r, 784, 500)
	wT := New(500, 784)
	bias := randDense(r, 1, 784).Data
	out := New(100, 784)
	for _, density := range []float64{0.2, 0.35, 0.45, 0.55} {
		h := New(100, 500)
		for i := range h.Data {
			if r.Float64() < density {
				h.Data[i] = 1
			}
		}
		b.Run(fmt.Sprintf("dense/%.2f", density), func(b *testing.B) {
			for b.Loop() {
				MulSigmoid(h, w, true, bias, out, nil, nil)
			}
		})
		var sp Sparse
		b.Run(fmt.Sprintf("sparse/%.2f", density), func(b *testing.B) {
			for b.Loop() {
				sp.SetFrom(h)
				TransposeInto(wT, w)
				MulSigmoidSparse(&sp, wT, bias, out, nil, nil)
			}
		})
	}
}

// GradientStepSparseT refuses transposed weights of the wrong shape.
func TestGradientStepSparseTransposedShapePanics(t *testing.T) {
	var s Sparse
	s.SetFrom(New(2, 3))
	mustPanic(t, "GradientStepSparseT with a 3x4 transpose of 3x4 weights", func() {
		GradientStepSparseT(1, &s, New(2, 4), nil, nil, 1, New(3, 4), nil, 0, New(3, 4))
	})
}
