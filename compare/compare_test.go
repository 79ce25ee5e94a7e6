package compare

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/harmonium-ml/harmonium/ae"
	"github.com/harmonium-ml/harmonium/mat32"
	"github.com/harmonium-ml/harmonium/nn"
	"github.com/harmonium-ml/harmonium/rbm"
)

// clusters returns n samples of 12 values in [0, 1] in three classes (a
// bright third of the values each) and their labels.
func clusters(n int, seed uint64) Data {
	r := rand.New(rand.NewPCG(seed, 2))
	d := Data{X: mat32.New(n, 12), Labels: make([]int, n)}
	for i := range n {
		c := r.IntN(3)
		d.Labels[i] = c
		for j := range 12 {
			v := 0.3 * r.Float64()
			if j/4 == c {
				v += 0.6
			}
			d.X.Set(i, j, float32(v))
		}
	}
	return d
}

func TestLogisticAccuracy(t *testing.T) {
	train, test := clusters(300, 1), clusters(100, 2)
	acc, err := LogisticAccuracy(context.Background(), train, test, 3, 20, 1)
	if err != nil || acc < 0.97 {
		t.Errorf("separable clusters: accuracy %.3f, %v", acc, err)
	}
	// Features with no information about the labels: chance level.
	noise := Data{X: mat32.New(300, 4), Labels: train.Labels}
	r := rand.New(rand.NewPCG(3, 3))
	for i := range noise.X.Data {
		noise.X.Data[i] = float32(r.Float64())
	}
	acc, _ = LogisticAccuracy(context.Background(), noise, Data{X: noise.X.Slice(0, 100), Labels: clusters(100, 9).Labels}, 3, 20, 1)
	if acc > 0.5 {
		t.Errorf("uninformative features: accuracy %.3f, want about 1/3", acc)
	}
}

func TestRunMeasuresEachKind(t *testing.T) {
	train, test := clusters(200, 4), clusters(60, 5)
	binary := mat32.New(test.X.Rows, test.X.Cols)
	mat32.Bernoulli(binary, test.X, mat32.NewRNG(1, 1))
	r := rbm.NewInit(12, 6, train.X, 1)
	vae, err := ae.New(ae.Spec{Kind: ae.VAE, Input: nn.Flat(12), Layers: []int{6}, Code: 2}, 1)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := ae.New(ae.Spec{Kind: ae.AE, Input: nn.Flat(12), Code: 6}, 1)
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Seed: 1, AISRuns: 10, AISBetas: 100, IWAESamples: 10, LogisticEpochs: 5}
	subjects := []Subject{FromRBM("rbm", r, 12.5, o), FromAE("vae", vae, math.NaN(), o), FromAE("ae", plain, 1, o)}
	rows, err := Run(context.Background(), subjects, train, test, binary, []int{0, 1}, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, row := range rows {
		hasLL := !math.IsNaN(row.LogLikelihood)
		if hasLL != (i < 2) || !(row.ReconError > 0) || math.IsNaN(row.Accuracy) || row.Reconstructions.Rows != 2 || row.Params != subjects[i].Params {
			t.Errorf("%s: %+v", row.Name, row)
		}
	}
	if rows[0].TrainSeconds != 12.5 || !math.IsNaN(rows[1].TrainSeconds) {
		t.Errorf("training times %v, %v", rows[0].TrainSeconds, rows[1].TrainSeconds)
	}
	// The RBM is small enough for the exact likelihood (enumeration), which
	// AIS must find.
	want := r.LogLikelihood(binary, exactLogZ(r))
	if math.Abs(rows[0].LogLikelihood-want) > 0.05 {
		t.Errorf("RBM log-likelihood %.4f, exact %.4f", rows[0].LogLikelihood, want)
	}
	wide := FromAE("wide", plain, 1, o)
	wide.Inputs = 13
	if _, err := Run(context.Background(), []Subject{wide}, train, test, binary, nil, o, nil); !errors.Is(err, ErrInputs) {
		t.Errorf("a model of another input size: %v", err)
	}
}

func exactLogZ(m *rbm.RBM) float64 {
	z, err := m.LogPartitionFast()
	if err != nil {
		panic(err)
	}
	return z
}
