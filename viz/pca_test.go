package viz

import (
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/harmonium-ml/harmonium/mat32"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestPCA2PointsOnALine(t *testing.T) {
	// Points (3, -1) + s (1, 2): the first component is (1, 2)/sqrt(5)
	// (its largest coefficient positive), so the projections are s sqrt(5);
	// nothing is left for the second.
	ss := []float64{-2, -1, 0, 0.5, 1, 1.5}
	x := mat32.New(len(ss), 2)
	for i, s := range ss {
		x.Set(i, 0, float32(3+s))
		x.Set(i, 1, float32(-1+2*s))
	}
	p, explained, err := PCA2(x)
	if err != nil {
		t.Fatal(err)
	}
	mean := 0.0
	for _, s := range ss {
		mean += s / float64(len(ss))
	}
	for i, s := range ss {
		if !near(float64(p.At(i, 0)), (s-mean)*math.Sqrt(5), 1e-5) || !near(float64(p.At(i, 1)), 0, 1e-5) {
			t.Errorf("point %d: projections %v, want (%.4f, 0)", i, p.Row(i), (s-mean)*math.Sqrt(5))
		}
	}
	if !near(explained[0], 1, 1e-9) || !near(explained[1], 0, 1e-9) {
		t.Errorf("explained variance %v, want [1 0]", explained)
	}
}

// ellipse returns n points (3 cos a, sin a, 0.5 cos 3a) for angles a evenly
// around the circle, the first two coordinates rotated by 30 degrees and
// everything shifted by (1, 2, 3).
func ellipse(n int) *mat32.Dense {
	x := mat32.New(n, 3)
	c, s := math.Cos(math.Pi/6), math.Sin(math.Pi/6)
	for i := range n {
		a := 2 * math.Pi * float64(i) / float64(n)
		u, v := 3*math.Cos(a), math.Sin(a)
		x.Set(i, 0, float32(1+c*u-s*v))
		x.Set(i, 1, float32(2+s*u+c*v))
		x.Set(i, 2, float32(3+0.5*math.Cos(3*a)))
	}
	return x
}

func TestPCA2Ellipse(t *testing.T) {
	// The axes of the ellipse are the components: the long one
	// (cos 30, sin 30, 0) with variance 4.5, the short one (-sin 30,
	// cos 30, 0) with 0.5, ahead of the third coordinate's 0.125. Both are
	// signed so their largest coefficient (cos 30) is positive, so the
	// projections are 3 cos a and sin a.
	const n = 360
	p, explained, err := PCA2(ellipse(n))
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		a := 2 * math.Pi * float64(i) / n
		if !near(float64(p.At(i, 0)), 3*math.Cos(a), 1e-4) || !near(float64(p.At(i, 1)), math.Sin(a), 1e-4) {
			t.Fatalf("point %d: projections %v, want (%.4f, %.4f)", i, p.Row(i), 3*math.Cos(a), math.Sin(a))
		}
	}
	total := 4.5 + 0.5 + 0.125
	if !near(explained[0], 4.5/total, 1e-6) || !near(explained[1], 0.5/total, 1e-6) {
		t.Errorf("explained variance %v, want [%.4f %.4f]", explained, 4.5/total, 0.5/total)
	}
	again, _, _ := PCA2(ellipse(n))
	for i, v := range p.Data {
		if again.Data[i] != v {
			t.Fatal("two calls gave different projections")
		}
	}
}

func TestPCA2NotFooledByTheLargestRow(t *testing.T) {
	// 100 points at (±1, 0) and two far ones at (0, ±5): x has the larger
	// variance (100/101 against 50/101), though the largest rows lie along y.
	x := mat32.New(102, 2)
	for i := range 100 {
		x.Set(i, 0, float32(1-2*(i%2)))
	}
	x.Set(100, 1, 5)
	x.Set(101, 1, -5)
	p, explained, err := PCA2(x)
	if err != nil {
		t.Fatal(err)
	}
	if !near(float64(p.At(0, 0)), 1, 1e-5) || !near(float64(p.At(0, 1)), 0, 1e-5) || !near(float64(p.At(100, 1)), 5, 1e-5) || !near(explained[0], 2.0/3, 1e-6) {
		t.Errorf("projections %v %v, explained %v", p.Row(0), p.Row(100), explained)
	}
}

func TestPCA2MatchesEigendecomposition(t *testing.T) {
	// Random data with different scales per column, against gonum's
	// symmetric eigendecomposition of the sample covariance.
	r := rand.New(rand.NewPCG(3, 4))
	const n, d = 300, 7
	x := mat32.New(n, d)
	for i := range n {
		z := r.NormFloat64()
		for j := range d {
			x.Set(i, j, float32(float64(j+1)*r.NormFloat64()+2*z+float64(j)))
		}
	}
	p, explained, err := PCA2(x)
	if err != nil {
		t.Fatal(err)
	}
	means := make([]float64, d)
	for i := range n {
		for j := range d {
			means[j] += float64(x.At(i, j)) / n
		}
	}
	xc := mat.NewDense(n, d, nil)
	for i := range n {
		for j := range d {
			xc.Set(i, j, float64(x.At(i, j))-means[j])
		}
	}
	var cov mat.SymDense
	cov.SymOuterK(1.0/(n-1), xc.T())
	var eig mat.EigenSym
	if !eig.Factorize(&cov, true) {
		t.Fatal("eigendecomposition failed")
	}
	vals := eig.Values(nil)
	var vecs mat.Dense
	eig.VectorsTo(&vecs)
	order := []int{0, 1, 2, 3, 4, 5, 6}
	sort.Slice(order, func(a, b int) bool { return vals[order[a]] > vals[order[b]] })
	total := 0.0
	for _, v := range vals {
		total += v
	}
	for k := range 2 {
		col := order[k]
		if !near(explained[k], vals[col]/total, 1e-6) {
			t.Errorf("component %d explains %.6f, eigendecomposition %.6f", k+1, explained[k], vals[col]/total)
		}
		var proj mat.VecDense
		proj.MulVec(xc, vecs.ColView(col))
		sign := 1.0
		if proj.AtVec(0)*float64(p.At(0, k)) < 0 {
			sign = -1
		}
		for i := range n {
			if !near(float64(p.At(i, k)), sign*proj.AtVec(i), 1e-3) {
				t.Fatalf("component %d, sample %d: %.5f, eigendecomposition %.5f", k+1, i, p.At(i, k), sign*proj.AtVec(i))
			}
		}
	}
}

func TestPCA2EdgeCases(t *testing.T) {
	p, explained, err := PCA2(mat32.FromSlice(3, 2, []float32{1, 2, 1, 2, 1, 2}))
	if err != nil || explained != [2]float64{} {
		t.Fatalf("constant data: %v %v", explained, err)
	}
	for _, v := range p.Data {
		if v != 0 {
			t.Fatalf("constant data project to %v", p.Data)
		}
	}
	for _, c := range []struct {
		x    *mat32.Dense
		want string
	}{
		{mat32.New(1, 3), "at least 2 samples"},
		{nil, "at least 2 samples"},
		{mat32.New(5, 1), "at least 2 values"},
		{mat32.FromSlice(2, 2, []float32{0, 1, float32(math.NaN()), 0}), "sample 2, value 1 is NaN"},
	} {
		if _, _, err := PCA2(c.x); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want an error with %q, got %v", c.want, err)
		}
	}
}
