package modelfile

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/harmonium-ml/harmonium/mat32"
	"github.com/harmonium-ml/harmonium/rbm"
)

// A Gaussian-Bernoulli model with variances, training statistics and a
// standardisation keeps all of them through a file, and a checkpoint keeps
// the variances' velocity.
func TestGaussianRoundTrip(t *testing.T) {
	data := mat32.FromSlice(4, 3, []float32{1, 2, 3, 2, 2, 5, 0, 2, 4, 1, 2, 8})
	sc, _, err := rbm.FitScaler(data)
	if err != nil {
		t.Fatal(err)
	}
	sc.Apply(data)
	m := rbm.NewInitUnits(3, 2, rbm.Gaussian, rbm.ReLU, true, data, 1)
	m.Scaler = sc
	m.LogVar[0] = -0.5
	p := filepath.Join(t.TempDir(), "g.safetensors")
	tr, err := rbm.NewTrainer(m, rbm.Config{Epochs: 1, BatchSize: 2, LearningRate: 0.01, Steps: 1, LearnSigma: true})
	if err != nil {
		t.Fatal(err)
	}
	tr.State.VelLogVar[2] = 0.125
	if err := SaveRBM(p, m, nil, &tr.State); err != nil {
		t.Fatal(err)
	}
	got, meta, st, err := LoadRBM(p)
	if err != nil {
		t.Fatal(err)
	}
	if meta["visible_units"] != "gaussian" || meta["hidden_units"] != "relu" || got.VisUnits != rbm.Gaussian || got.HidUnits != rbm.ReLU {
		t.Fatalf("unit types: metadata %s/%s, model %v/%v", meta["visible_units"], meta["hidden_units"], got.VisUnits, got.HidUnits)
	}
	for name, pair := range map[string][2][]float32{
		"log variances": {m.LogVar, got.LogVar}, "data deviation": {m.VisStd, got.VisStd},
		"standardisation means": {m.Scaler.Mean, got.Scaler.Mean}, "standardisation divisors": {m.Scaler.Std, got.Scaler.Std},
		"variance velocity": {tr.State.VelLogVar, st.VelLogVar},
	} {
		if !slices.Equal(pair[0], pair[1]) || pair[1] == nil {
			t.Fatalf("%s: saved %v, loaded %v", name, pair[0], pair[1])
		}
	}
	// A Bernoulli model gains none of them.
	b := rbm.NewInit(3, 2, nil, 1)
	if err := SaveRBM(p, b, nil, nil); err != nil {
		t.Fatal(err)
	}
	if got, _, _, err := LoadRBM(p); err != nil || got.LogVar != nil || got.Scaler != nil || got.VisUnits != rbm.Bernoulli {
		t.Fatalf("Bernoulli model after a round trip: %+v, %v", got, err)
	}
	// Variances on Bernoulli units, and a standardisation with a zero
	// divisor, are refused.
	b.LogVar = make([]float32, 3)
	if err := SaveRBM(p, b, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := LoadRBM(p); err == nil || !strings.Contains(err.Error(), "only Gaussian visible units have a variance") {
		t.Fatalf("variances on Bernoulli units: %v", err)
	}
	m.Scaler.Std[1] = 0
	if err := SaveRBM(p, m, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := LoadRBM(p); err == nil || !strings.Contains(err.Error(), "standardisation of feature 2") {
		t.Fatalf("zero divisor: %v", err)
	}
}
