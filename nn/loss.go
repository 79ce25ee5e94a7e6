package nn

import (
	"fmt"
	"math"
	"sync"

	"github.com/harmonium-ml/harmonium/mat32"
)

// Targets are what a loss compares a network's outputs with, one per row:
// class labels, or target values.
type Targets struct {
	Labels []int        // class of each sample, in [0, outputs) (SoftmaxCrossEntropy)
	Values *mat32.Dense // target values, one row per sample (BinaryCrossEntropy, SquaredError)
}

// Loss measures a network's outputs against targets.
type Loss interface {
	// Loss returns the mean over the rows of out of the per-sample loss
	// against t and, when grad is non-nil, sets grad (the shape of out) to
	// the gradient of that mean with respect to out.
	Loss(out *mat32.Dense, t Targets, grad *mat32.Dense) float64
	// Check reports whether t holds suitable targets for rows samples of
	// outputs values each.
	Check(t Targets, rows, outputs int) error
}

// SoftmaxCrossEntropy is the cross-entropy of the softmax of the outputs
// (logits z) with integer labels y: log(sum_j e^z_j) - z_y per sample. Its
// gradient is softmax(z) - onehot(y), divided by the number of samples.
type SoftmaxCrossEntropy struct{}

// Loss returns the mean cross-entropy and sets its gradient.
func (SoftmaxCrossEntropy) Loss(out *mat32.Dense, t Targets, grad *mat32.Dense) float64 {
	checkGrad(out, grad)
	inv := 1 / float64(max(out.Rows, 1))
	var sum float64
	for i := range out.Rows {
		z := out.Row(i)
		m := z[0]
		for _, v := range z {
			m = max(m, v)
		}
		var s float64
		for _, v := range z {
			s += math.Exp(float64(v - m))
		}
		lse := float64(m) + math.Log(s)
		y := t.Labels[i]
		sum += lse - float64(z[y])
		if grad != nil {
			g := grad.Row(i)
			for j, v := range z {
				g[j] = float32(math.Exp(float64(v)-lse) * inv)
			}
			g[y] -= float32(inv)
		}
	}
	return sum * inv
}

// Check requires one label in [0, outputs) per sample.
func (SoftmaxCrossEntropy) Check(t Targets, rows, outputs int) error {
	return checkLabels(t.Labels, rows, outputs)
}

func checkLabels(labels []int, rows, outputs int) error {
	if len(labels) != rows {
		return fmt.Errorf("%d labels for %d samples", len(labels), rows)
	}
	for i, y := range labels {
		if y < 0 || y >= outputs {
			return fmt.Errorf("label %d of sample %d is outside 0..%d (the network has %d outputs)", y, i+1, outputs-1, outputs)
		}
	}
	return nil
}

// BinaryCrossEntropy is the cross-entropy of independent Bernoulli outputs
// given as logits z with targets t in [0, 1], summed over the outputs of a
// sample: max(z,0) - z*t + log(1+e^-|z|) per value, which is -t*log(p) -
// (1-t)*log(1-p) for p = sigmoid(z) without overflow. Its gradient is
// sigmoid(z) - t, divided by the number of samples.
type BinaryCrossEntropy struct{}

// Loss returns the mean over samples of the summed cross-entropy and sets
// its gradient. The softplus and sigmoid terms go through mat32's
// vectorised kernels, spread over the cores.
func (BinaryCrossEntropy) Loss(out *mat32.Dense, t Targets, grad *mat32.Dense) float64 {
	checkGrad(out, grad)
	inv := 1 / float64(max(out.Rows, 1))
	b := bceBufs.Get().(*bceBuf)
	defer bceBufs.Put(b)
	if len(b.zero) < out.Cols {
		b.zero = make([]float32, out.Cols)
	}
	if len(b.sp) < out.Rows {
		b.sp = make([]float64, out.Rows)
	}
	// sum softplus(z) - t*z per value: -t*log(p) - (1-t)*log(1-p).
	mat32.SoftplusRowSums(out, b.zero[:out.Cols], 1, b.sp)
	var sum float64
	for _, v := range b.sp[:out.Rows] {
		sum += v
	}
	sum -= dotF64(out.Data, t.Values.Data)
	if grad != nil {
		copy(grad.Data, out.Data)
		mat32.SigmoidBias(grad, b.zero[:out.Cols])
		f := float32(inv)
		for i, y := range t.Values.Data {
			grad.Data[i] = (grad.Data[i] - y) * f
		}
	}
	return sum * inv
}

// bceBuf holds BinaryCrossEntropy's scratch space: zero biases for the
// kernels and per-row sums.
type bceBuf struct {
	zero []float32
	sp   []float64
}

var bceBufs = sync.Pool{New: func() any { return new(bceBuf) }}

// dotF64 returns the dot product of a and b, accumulated in float64.
func dotF64(a, b []float32) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += float64(a[i]) * float64(b[i])
		s1 += float64(a[i+1]) * float64(b[i+1])
		s2 += float64(a[i+2]) * float64(b[i+2])
		s3 += float64(a[i+3]) * float64(b[i+3])
	}
	for ; i < len(a); i++ {
		s0 += float64(a[i]) * float64(b[i])
	}
	return (s0 + s1) + (s2 + s3)
}

// Check requires target values in [0, 1], one row per sample.
func (BinaryCrossEntropy) Check(t Targets, rows, outputs int) error {
	return checkTargets(t.Values, rows, outputs, true)
}

// SquaredError is half the squared difference between outputs o and
// targets t, summed over the outputs of a sample: sum_j (o_j - t_j)^2 / 2.
// Its gradient is o - t, divided by the number of samples.
type SquaredError struct{}

// Loss returns the mean over samples of the summed squared error and sets
// its gradient.
func (SquaredError) Loss(out *mat32.Dense, t Targets, grad *mat32.Dense) float64 {
	checkGrad(out, grad)
	inv := 1 / float64(max(out.Rows, 1))
	var sum float64
	for i, v := range out.Data {
		d := float64(v) - float64(t.Values.Data[i])
		sum += d * d / 2
		if grad != nil {
			grad.Data[i] = float32(d * inv)
		}
	}
	return sum * inv
}

// Check requires finite target values, one row per sample.
func (SquaredError) Check(t Targets, rows, outputs int) error {
	return checkTargets(t.Values, rows, outputs, false)
}

// checkTargets checks the shape of target values and that they are finite
// or, with unit, in [0, 1].
func checkTargets(v *mat32.Dense, rows, outputs int, unit bool) error {
	if v == nil {
		return fmt.Errorf("no target values")
	}
	if v.Rows != rows || v.Cols != outputs {
		return fmt.Errorf("targets are %dx%d, the outputs %dx%d", v.Rows, v.Cols, rows, outputs)
	}
	for i, x := range v.Data {
		if unit && !(x >= 0 && x <= 1) {
			return fmt.Errorf("target %g of sample %d, output %d is outside [0, 1]", x, i/outputs+1, i%outputs+1)
		}
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Errorf("target %g of sample %d, output %d is not finite", x, i/outputs+1, i%outputs+1)
		}
	}
	return nil
}

func checkGrad(out, grad *mat32.Dense) {
	if grad != nil && !grad.SameShape(out) {
		panic(fmt.Sprintf("nn: gradient %dx%d for outputs %dx%d", grad.Rows, grad.Cols, out.Rows, out.Cols))
	}
}
