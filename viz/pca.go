package viz

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/harmonium-ml/harmonium/mat32"
)

// PCA iteration limits: an eigenvector is accepted when the residual
// |Cv - λv| is below pcaTol times the total variance.
const (
	pcaTol     = 1e-7
	pcaMaxIter = 2000
)

// PCA2 returns the projections of the rows of x (n x d, n >= 2, d >= 2,
// finite values) on their first two principal components, as an n x 2
// matrix, and the fraction of the total variance each component explains.
// The components are the eigenvectors of the sample covariance with the
// largest eigenvalues, computed in float64 to a relative residual of 1e-7;
// each is signed so that its largest coefficient is positive, so the
// result is the same on every call. Constant data project to zeros.
func PCA2(x *mat32.Dense) (*mat32.Dense, [2]float64, error) {
	var explained [2]float64
	switch {
	case x == nil || x.Rows < 2:
		return nil, explained, errors.New("PCA: need at least 2 samples")
	case x.Cols < 2:
		return nil, explained, fmt.Errorf("PCA: need at least 2 values per sample, got %d", x.Cols)
	}
	for i, v := range x.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, explained, fmt.Errorf("PCA: sample %d, value %d is %v", i/x.Cols+1, i%x.Cols+1, v)
		}
	}
	n, d := x.Rows, x.Cols
	mean := make([]float64, d)
	for i := range n {
		for j, v := range x.Row(i) {
			mean[j] += float64(v)
		}
	}
	for j := range mean {
		mean[j] /= float64(n)
	}
	total := 0.0
	for i := range n {
		for j, v := range x.Row(i) {
			c := float64(v) - mean[j]
			total += c * c
		}
	}
	total /= float64(n - 1)

	var comps [][]float64
	var lambdas [2]float64
	for k := range 2 {
		v, lambda := powerIteration(x, mean, total, comps, uint64(k+1))
		comps = append(comps, v)
		lambdas[k] = lambda
	}
	out := mat32.New(n, 2)
	for i := range n {
		row := x.Row(i)
		for k, v := range comps {
			s := 0.0
			for j, xv := range row {
				s += (float64(xv) - mean[j]) * v[j]
			}
			out.Set(i, k, float32(s))
		}
	}
	if total > 0 {
		explained = [2]float64{lambdas[0] / total, lambdas[1] / total}
	}
	return out, explained, nil
}

// powerIteration returns the unit eigenvector with the largest eigenvalue
// of the covariance of x (centred on mean) restricted to the complement of
// the orthonormal vectors prev, and its eigenvalue.
func powerIteration(x *mat32.Dense, mean []float64, total float64, prev [][]float64, seed uint64) ([]float64, float64) {
	d := x.Cols
	rng := rand.New(rand.NewPCG(seed, 0x9ca))
	v := make([]float64, d)
	for j := range v {
		v[j] = rng.NormFloat64()
	}
	orthonormalize(v, prev)
	w := make([]float64, d)
	lambda := 0.0
	for range pcaMaxIter {
		covTimes(w, x, mean, v)
		orthogonalize(w, prev)
		lambda = dot(v, w)
		r := 0.0
		for j := range w {
			e := w[j] - lambda*v[j]
			r += e * e
		}
		if math.Sqrt(r) <= pcaTol*total {
			break
		}
		copy(v, w)
		orthonormalize(v, prev)
	}
	orthonormalize(v, prev)
	signLargestPositive(v)
	return v, max(lambda, 0)
}

// covTimes sets w to C v, C the sample covariance of the rows of x centred
// on mean, in one pass over x: w = Xcᵀ (Xc v) / (n-1).
func covTimes(w []float64, x *mat32.Dense, mean, v []float64) {
	clear(w)
	mv := dot(mean, v)
	sumU := 0.0
	for i := range x.Rows {
		row := x.Row(i)
		u := -mv
		for j, xv := range row {
			u += float64(xv) * v[j]
		}
		for j, xv := range row {
			w[j] += u * float64(xv)
		}
		sumU += u
	}
	scale := 1 / float64(x.Rows-1)
	for j := range w {
		w[j] = (w[j] - mean[j]*sumU) * scale
	}
}

// orthogonalize makes v orthogonal to the orthonormal vectors prev
// (Gram-Schmidt, twice for accuracy).
func orthogonalize(v []float64, prev [][]float64) {
	for range 2 {
		for _, p := range prev {
			axpy(v, -dot(v, p), p)
		}
	}
}

// orthonormalize makes v orthogonal to the orthonormal vectors prev and of
// unit length (a vanishing v is left alone).
func orthonormalize(v []float64, prev [][]float64) {
	orthogonalize(v, prev)
	if n := math.Sqrt(dot(v, v)); n > 0 {
		for j := range v {
			v[j] /= n
		}
	}
}

// signLargestPositive flips v so that its coefficient of largest
// magnitude (the first of equals) is positive.
func signLargestPositive(v []float64) {
	best := 0
	for j := range v {
		if math.Abs(v[j]) > math.Abs(v[best])+1e-12 {
			best = j
		}
	}
	if v[best] < 0 {
		for j := range v {
			v[j] = -v[j]
		}
	}
}

// dot returns the inner product of a and b.
func dot(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// axpy sets y += a x.
func axpy(y []float64, a float64, x []float64) {
	for i := range y {
		y[i] += a * x[i]
	}
}
