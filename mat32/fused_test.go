package mat32

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
)

// unfusedDiff is what MulSigmoidDiff and MulSigmoidSparseDiff must equal:
// the product with its sigmoid, DiffStats, then the negation.
func unfusedDiff(out *Dense, d Diff) float64 {
	total := DiffStats(d.Ref, out, d.ColSum, d.Alpha)
	if d.Negate {
		Scale(out, -1)
	}
	return total
}

// The fused products equal the product, DiffStats and Scale in turn, bit
// for bit, on every kernel path, with one worker and with three, for
// shapes split by columns and ones that are not (more rows than columns,
// products too small to split).
func TestMulSigmoidDiffMatchesUnfused(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	shapes := [][3]int{{100, 784, 500}, {100, 500, 784}, {7, 9, 13}, {300, 40, 50}, {64, 257, 130}}
	for _, sh := range shapes {
		m, k, n := sh[0], sh[1], sh[2]
		a, bt := sparseDense(r, m, k, 0.3), randDense(r, n, k)
		b := New(k, n)
		for i := range k {
			for j := range n {
				b.Data[i*n+j] = bt.Data[j*k+i]
			}
		}
		Scale(b, 0.1)
		Scale(bt, 0.1)
		bias, ref := randDense(r, 1, n).Data, randDense(r, m, n)
		col0 := randDense(r, 1, n).Data
		var sp Sparse
		sp.SetFrom(a)
		for _, neg := range []bool{false, true} {
			for _, procs := range []int{1, 3} {
				name := fmt.Sprintf("%dx%dx%d negate %v procs %d", m, k, n, neg, procs)
				forPaths(t, func(t *testing.T) {
					old := runtime.GOMAXPROCS(procs)
					defer runtime.GOMAXPROCS(old)
					diff := func(col []float32) Diff { return Diff{Ref: ref, ColSum: col, Alpha: 0.3, Negate: neg} }

					wantOut, wantCol := New(m, n), append([]float32(nil), col0...)
					MulSigmoid(a, bt, true, bias, wantOut, nil, nil)
					want := unfusedDiff(wantOut, diff(wantCol))

					gotOut, gotCol := New(m, n), append([]float32(nil), col0...)
					got := MulSigmoidDiff(a, bt, true, bias, gotOut, diff(gotCol))
					check(t, name+" dense transB", got, want, gotOut, wantOut, gotCol, wantCol)

					gotOut, gotCol = New(m, n), append([]float32(nil), col0...)
					got = MulSigmoidDiff(a, b, false, bias, gotOut, diff(gotCol))
					MulSigmoid(a, b, false, bias, wantOut, nil, nil)
					wantCol = append(wantCol[:0], col0...)
					want = unfusedDiff(wantOut, diff(wantCol))
					check(t, name+" dense", got, want, gotOut, wantOut, gotCol, wantCol)

					MulSigmoidSparse(&sp, b, bias, wantOut, nil, nil)
					wantCol = append(wantCol[:0], col0...)
					want = unfusedDiff(wantOut, diff(wantCol))
					gotOut, gotCol = New(m, n), append([]float32(nil), col0...)
					got = MulSigmoidSparseDiff(&sp, b, bias, gotOut, diff(gotCol))
					check(t, name+" sparse", got, want, gotOut, wantOut, gotCol, wantCol)
				})
			}
		}
	}
}

func check(t *testing.T, what string, got, want float64, gotOut, wantOut *Dense, gotCol, wantCol []float32) {
	t.Helper()
	if !same64(got, want) {
		t.Fatalf("%s: sum of squares %v, unfused %v", what, got, want)
	}
	sameSlices(t, what+" product", gotOut.Data, wantOut.Data)
	sameSlices(t, what+" column sums", gotCol, wantCol)
}

func TestDiffShapePanics(t *testing.T) {
	mustPanic(t, "MulSigmoidDiff with a reference of another shape", func() {
		MulSigmoidDiff(New(2, 3), New(3, 4), false, make([]float32, 4), New(2, 4), Diff{Ref: New(2, 5), ColSum: make([]float32, 4)})
	})
}

func TestSparseDiffShapePanics(t *testing.T) {
	var s Sparse
	s.SetFrom(New(2, 3))
	mustPanic(t, "MulSigmoidSparseDiff with mismatched shapes", func() {
		MulSigmoidSparseDiff(&s, New(4, 5), make([]float32, 5), New(2, 5), Diff{Ref: New(2, 5), ColSum: make([]float32, 5)})
	})
}
