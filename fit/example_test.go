package fit_test

import (
	"context"
	"fmt"

	"github.com/harmonium-ml/harmonium/fit"
)

// mean learns the mean of some numbers by stochastic gradient descent on
// the squared error.
type mean struct {
	data  []float64
	m, lr float64
}

// BeginEpoch decays the step size, so that the estimate settles.
func (t *mean) BeginEpoch(epoch int) error {
	t.lr = 0.5 / float64(epoch+1)
	return nil
}

func (t *mean) Step(idx []int) (float64, error) {
	g, loss := 0.0, 0.0
	for _, i := range idx {
		d := t.m - t.data[i]
		g += d
		loss += d * d
	}
	t.m -= t.lr * g / float64(len(idx))
	return loss, nil
}

func (t *mean) EndEpoch(e fit.Epoch) error { return nil }

func Example() {
	t := &mean{data: []float64{1, 2, 3, 4, 5, 6}}
	err := fit.Run(context.Background(), fit.Config{Epochs: 50, BatchSize: 2, Seed: 1}, len(t.data), 0, t)
	fmt.Printf("%.1f %v\n", t.m, err)
	// Output: 3.5 <nil>
}
