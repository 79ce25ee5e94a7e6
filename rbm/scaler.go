package rbm

import (
	"errors"
	"fmt"
	"math"

	"github.com/harmonium-ml/harmonium/mat32"
)

// Scaler standardises data feature by feature: x -> (x - Mean) / Std. A
// model trained on standardised data keeps its Scaler, so every command
// that reads data for the model applies the same mapping.
type Scaler struct {
	Mean []float32
	// Std is the divisor of each feature: its standard deviation in the
	// training data, or 1 for a feature that is constant there (such a
	// feature is only centred, so it is 0 on every training sample).
	Std []float32
}

// ErrConstantData is returned by FitScaler when every feature is constant:
// there is nothing to standardise.
var ErrConstantData = errors.New("every feature is constant")

// FitScaler returns the Scaler of data (each column's mean and standard
// deviation, population, divisor n) and the indices of the constant
// features, which it only centres.
func FitScaler(data *mat32.Dense) (*Scaler, []int, error) {
	if data.Rows == 0 {
		return nil, nil, errors.New("standardise: no samples")
	}
	mean := make([]float32, data.Cols)
	sum := make([]float64, data.Cols)
	for i := 0; i < data.Rows; i++ {
		for j, x := range data.Row(i) {
			sum[j] += float64(x)
		}
	}
	for j := range mean {
		mean[j] = float32(sum[j] / float64(data.Rows))
	}
	std := columnStd(data, mean)
	var constant []int
	for j, s := range std {
		if !(s > 1e-6*max(1, float32(math.Abs(float64(mean[j]))))) {
			std[j] = 1
			constant = append(constant, j)
		}
	}
	if len(constant) == data.Cols {
		return nil, nil, fmt.Errorf("standardise: %w (%d features)", ErrConstantData, data.Cols)
	}
	return &Scaler{Mean: mean, Std: std}, constant, nil
}

func (s *Scaler) check(n int) error {
	if len(s.Mean) != n || len(s.Std) != n {
		return fmt.Errorf("rbm: standardisation has %d means and %d deviations for %d visible units", len(s.Mean), len(s.Std), n)
	}
	for j := range s.Mean {
		if m, d := float64(s.Mean[j]), float64(s.Std[j]); math.IsNaN(m) || math.IsInf(m, 0) || !(d > 0) || math.IsInf(d, 0) {
			return fmt.Errorf("rbm: standardisation of feature %d is not finite and positive (mean %g, deviation %g)", j+1, m, d)
		}
	}
	return nil
}

// Apply standardises data in place.
func (s *Scaler) Apply(data *mat32.Dense) {
	if data.Cols != len(s.Mean) {
		panic(fmt.Sprintf("rbm: Scaler of %d features applied to %d columns", len(s.Mean), data.Cols))
	}
	for i := 0; i < data.Rows; i++ {
		row := data.Row(i)
		for j, x := range row {
			row[j] = (x - s.Mean[j]) / s.Std[j]
		}
	}
}

// Invert maps standardised data back to the original scale in place.
func (s *Scaler) Invert(data *mat32.Dense) {
	if data.Cols != len(s.Mean) {
		panic(fmt.Sprintf("rbm: Scaler of %d features applied to %d columns", len(s.Mean), data.Cols))
	}
	for i := 0; i < data.Rows; i++ {
		row := data.Row(i)
		for j, x := range row {
			row[j] = x*s.Std[j] + s.Mean[j]
		}
	}
}
