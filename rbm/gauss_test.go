package rbm

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/harmonium-ml/harmonium/mat32"
)

// tinyGauss returns a Gaussian-Bernoulli RBM with random parameters and
// standard deviations between about 0.8 and 1.3.
func tinyGauss(seed uint64, nv, nh int) *RBM {
	r := rand.New(rand.NewPCG(seed, 10))
	m := New(nv, nh)
	m.VisUnits = Gaussian
	m.LogVar = make([]float32, nv)
	for i := range m.W.Data {
		m.W.Data[i] = float32(0.5 * r.NormFloat64())
	}
	for i := range m.VisBias {
		m.VisBias[i] = float32(0.3 * r.NormFloat64())
		m.LogVar[i] = float32(r.Float64() - 0.5)
	}
	for j := range m.HidBias {
		m.HidBias[j] = float32(0.5 * r.NormFloat64())
	}
	return m
}

func gaussData() *mat32.Dense {
	return mat32.FromSlice(5, 2, []float32{1, 0.5, -1, -0.3, 0.2, 1.5, 0.8, -1, -0.5, 0.2})
}

// bruteFree returns -log sum_h e^{-E(v,h)} by enumerating h.
func bruteFree(m *RBM, v []float32) float64 {
	acc := newLogSum()
	for s := uint64(0); s < 1<<m.Hidden(); s++ {
		acc.add(-m.Energy(v, bits(s, m.Hidden())))
	}
	return -acc.value()
}

// The free energy, log Z (closed-form integral over v) and both batch
// paths agree with enumeration over h and numerical integration over a
// two-dimensional visible space.
func TestGaussianFreeEnergyAndLogZByIntegration(t *testing.T) {
	m := tinyGauss(1, 2, 3)
	data := gaussData()
	fs := m.FreeEnergies(data)
	for r := 0; r < data.Rows; r++ {
		want := bruteFree(m, data.Row(r))
		if got := m.FreeEnergy(data.Row(r)); math.Abs(got-want) > 1e-9 {
			t.Fatalf("F(%v) = %.10f, enumeration %.10f", data.Row(r), got, want)
		}
		if math.Abs(fs[r]-want) > 1e-5 {
			t.Fatalf("FreeEnergies row %d = %.7f, enumeration %.7f", r, fs[r], want)
		}
	}
	// log Z = log of the integral of e^{-F(v)} over the plane, on a grid.
	const lim, step = 12.0, 0.02
	acc := newLogSum()
	v := make([]float32, 2)
	for x := -lim; x <= lim; x += step {
		for y := -lim; y <= lim; y += step {
			v[0], v[1] = float32(x), float32(y)
			acc.add(-m.FreeEnergy(v))
		}
	}
	want := acc.value() + 2*math.Log(step)
	exact, err := m.LogPartition()
	if err != nil {
		t.Fatal(err)
	}
	fast, err := m.LogPartitionFast()
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(exact-want) > 1e-4 || math.Abs(fast-exact) > 1e-4 {
		t.Fatalf("log Z: closed form %.6f, fast %.6f, numerical integration %.6f", exact, fast, want)
	}
}

// d mean log p(data) / d theta by central differences of the exact
// log-likelihood, for one parameter p.
func numGrad(t *testing.T, m *RBM, data *mat32.Dense, p *float32) float64 {
	const h = 1e-3
	old := *p
	*p = old + h
	up := exactLL(t, m, data)
	*p = old - h
	down := exactLL(t, m, data)
	*p = old
	return (up - down) / (2 * h)
}

// A CD-200 step with learned variances and many samples moves every
// parameter of visible unit i by sigma_i^2 times the exact gradient of the
// log-likelihood (the documented preconditioning), and the hidden biases
// by the exact gradient.
func TestGaussianLongChainStepMatchesExactGradient(t *testing.T) {
	if testing.Short() {
		t.Skip("long; runs in the full suite (make test)")
	}
	m := tinyGauss(2, 2, 3)
	data := gaussData()
	const reps = 8000
	big := mat32.New(data.Rows*reps, 2)
	for r := 0; r < big.Rows; r++ {
		copy(big.Row(r), data.Row(r%data.Rows))
	}
	type param struct {
		name string
		p    func(m *RBM) *float32
		pre  func(m *RBM) float64 // preconditioner
	}
	var params []param
	sigma2 := func(i int) func(m *RBM) float64 {
		return func(m *RBM) float64 { return 1 / m.precision(i) }
	}
	for i := 0; i < 2; i++ {
		for j := 0; j < 3; j++ {
			params = append(params, param{"W", func(m *RBM) *float32 { return &m.W.Data[i*3+j] }, sigma2(i)})
		}
		params = append(params, param{"b", func(m *RBM) *float32 { return &m.VisBias[i] }, sigma2(i)},
			param{"log sigma^2", func(m *RBM) *float32 { return &m.LogVar[i] }, sigma2(i)})
	}
	for j := 0; j < 3; j++ {
		params = append(params, param{"c", func(m *RBM) *float32 { return &m.HidBias[j] }, func(*RBM) float64 { return 1 }})
	}
	want := make([]float64, len(params))
	for k, p := range params {
		want[k] = numGrad(t, m, data, p.p(m)) * p.pre(m)
	}
	for _, cfg := range []Config{
		{Epochs: 1, BatchSize: big.Rows, LearningRate: 1, Steps: 200, LearnSigma: true, SigmaRate: 1, Seed: 5},
		{Epochs: 1, BatchSize: big.Rows, LearningRate: 1, Steps: 100, Tempering: 3, LearnSigma: true, SigmaRate: 1, Seed: 6},
	} {
		mm := m.Clone()
		if _, err := mm.Fit(context.Background(), big, cfg, Hooks{}); err != nil {
			t.Fatal(err)
		}
		for k, p := range params {
			got := float64(*p.p(mm) - *p.p(m))
			if math.Abs(got-want[k]) > 0.03+0.05*math.Abs(want[k]) {
				t.Fatalf("tempering %d: %s (parameter %d): step %.4f, sigma^2 x exact gradient %.4f", cfg.Tempering, p.name, k, got, want[k])
			}
		}
	}
}

// Trained with learned variances on independent Gaussian data, the model
// recovers each feature's mean and standard deviation.
func TestLearnSigmaRecoversVariances(t *testing.T) {
	means, stds := []float64{1, -1, 0.5}, []float64{0.5, 1, 2}
	r := rand.New(rand.NewPCG(3, 3))
	data := mat32.New(3000, 3)
	for i := 0; i < data.Rows; i++ {
		for j := range means {
			data.Set(i, j, float32(means[j]+stds[j]*r.NormFloat64()))
		}
	}
	m := NewInitUnits(3, 2, Gaussian, Bernoulli, true, data, 1)
	clear(m.LogVar) // start every sigma at 1, away from the answer
	clear(m.VisBias)
	cfg := DefaultConfigFor(Gaussian, Bernoulli, data.Cols, 0, data.Rows)
	// 1,800 updates: the average's horizon (1,000 updates by default) is
	// set to a fortieth of the run, as train --epochs does.
	cfg.Epochs, cfg.LRDecay, cfg.SigmaRate = 60, 0, 1
	cfg.Average = AverageDecay(cfg.Epochs * data.Rows / cfg.BatchSize)
	if _, err := m.Fit(context.Background(), data, cfg, Hooks{}); err != nil {
		t.Fatal(err)
	}
	std := m.VisibleStd()
	for j := range means {
		if math.Abs(float64(m.VisBias[j])-means[j]) > 0.15 || math.Abs(float64(std[j])/stds[j]-1) > 0.15 {
			t.Fatalf("feature %d: bias %.3f, sigma %.3f; data mean %.2f, deviation %.2f", j, m.VisBias[j], std[j], means[j], stds[j])
		}
	}
}

func TestGaussianAISMatchesExact(t *testing.T) {
	m := tinyGauss(4, 6, 8)
	exact, err := m.LogPartition()
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := m.DefaultAISBase(gaussData6())
	cfg.Runs, cfg.Betas, cfg.Seed = 200, DefaultBetas(2000), 1
	res, err := m.AIS(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(res.LogZ-exact) > 0.1 {
		t.Fatalf("AIS log Z %.4f [%.4f, %.4f], exact %.4f", res.LogZ, res.LogZLow, res.LogZHigh, exact)
	}
}

func gaussData6() *mat32.Dense {
	r := rand.New(rand.NewPCG(6, 6))
	d := mat32.New(200, 6)
	for i := range d.Data {
		d.Data[i] = float32(r.NormFloat64())
	}
	return d
}

// A Gaussian model trained with the defaults is deterministic and raises
// the exact likelihood of its data.
func TestGaussianTrainingIsDeterministicAndLearns(t *testing.T) {
	// Three clusters with deviation 0.3 around centres at +-1.5.
	data := gaussData6()
	centres := [3][6]float32{{1.5, 1.5, -1.5, 1.5, -1.5, 1.5}, {-1.5, 1.5, 1.5, -1.5, 1.5, 1.5}, {-1.5, -1.5, -1.5, 1.5, 1.5, -1.5}}
	for i := 0; i < data.Rows; i++ {
		for j, x := range data.Row(i) {
			data.Set(i, j, centres[i%3][j]+0.3*x)
		}
	}
	fit := func(learn bool) *RBM {
		m := NewInitUnits(6, 4, Gaussian, Bernoulli, learn, data, 2)
		cfg := DefaultConfigFor(Gaussian, Bernoulli, data.Cols, 0, data.Rows)
		cfg.LearnSigma, cfg.Epochs, cfg.LRDecay = learn, 1000, 0.01
		if _, err := m.Fit(context.Background(), data, cfg, Hooks{}); err != nil {
			t.Fatal(err)
		}
		return m
	}
	for _, learn := range []bool{false, true} {
		a, b := fit(learn), fit(learn)
		for i := range a.W.Data {
			if a.W.Data[i] != b.W.Data[i] {
				t.Fatalf("learnSigma=%v: same seed, different weights", learn)
			}
		}
		start := NewInitUnits(6, 4, Gaussian, Bernoulli, learn, data, 2)
		before, after := exactLL(t, start, data), exactLL(t, a, data)
		if !(after > before+1) {
			t.Fatalf("learnSigma=%v: exact log-likelihood %.3f -> %.3f, want a rise of more than 1 nat", learn, before, after)
		}
		t.Logf("learnSigma=%v: exact log-likelihood %.3f -> %.3f", learn, before, after)
	}
}

func TestReLUHiddenUnits(t *testing.T) {
	// The free-energy term is the sum of the stepped sigmoid units' terms.
	for _, x := range []float64{-30, -2, 0, 0.7, 5, 40} {
		want := 0.0
		for k := 1; k < 2000; k++ {
			want += softplus(x - float64(k) + 0.5)
		}
		if got := reluFree(x); math.Abs(got-want) > 1e-9*max(1, want) {
			t.Fatalf("reluFree(%g) = %.12g, sum %.12g", x, got, want)
		}
	}
	data := tinyData()
	m := NewInitUnits(6, 4, Bernoulli, ReLU, false, data, 1)
	for r := 0; r < data.Rows; r++ {
		fe := m.FreeEnergies(data)
		if got := m.FreeEnergy(data.Row(r)); math.Abs(got-fe[r]) > 1e-4 {
			t.Fatalf("FreeEnergy %.6f, FreeEnergies %.6f", got, fe[r])
		}
	}
	cfg := DefaultConfigFor(Bernoulli, ReLU, data.Cols, 0, data.Rows)
	cfg.Epochs, cfg.BatchSize = 300, 5
	stats, err := m.Fit(context.Background(), data, cfg, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	if first, last := stats[0].ReconError, stats[len(stats)-1].ReconError; !(last < 0.7*first) {
		t.Fatalf("reconstruction error %.4f -> %.4f: ReLU hidden units did not learn", first, last)
	}
	for _, h := range m.Transform(data).Data {
		if h < 0 {
			t.Fatalf("ReLU feature %g < 0", h)
		}
	}
	// log Z of the stepped sigmoid units sums e^{-F(v)} over the binary v.
	acc := newLogSum()
	for s := uint64(0); s < 1<<6; s++ {
		acc.add(-m.FreeEnergy(bits(s, 6)))
	}
	exact, err := m.LogPartition()
	fast, err2 := m.LogPartitionFast()
	if err != nil || err2 != nil || math.Abs(exact-acc.value()) > 1e-6 || math.Abs(fast-exact) > 1e-4 {
		t.Fatalf("log Z of ReLU units: %v (%v), fast %v (%v), sum over v %v", exact, err, fast, err2, acc.value())
	}
	if _, err := m.AIS(context.Background(), AISConfig{Runs: 2, Betas: DefaultBetas(10), BaseBias: make([]float32, 6)}, nil); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("AIS of ReLU units: %v, want ErrUnsupported", err)
	}
}

// Gaussian hidden units (linear code units): the free energy integrates
// the hidden units out (checked by numerical integration), log Z
// enumerates the visible states, and training raises the likelihood.
func TestGaussianHiddenUnits(t *testing.T) {
	m := tiny(7, 3, 2)
	m.HidUnits = Gaussian
	for i := range m.W.Data {
		m.W.Data[i] *= 0.5
	}
	for s := uint64(0); s < 8; s++ {
		v := bits(s, 3)
		const lim, step = 8.0, 0.02
		acc := newLogSum()
		h := make([]float32, 2)
		for a := -lim; a <= lim; a += step {
			for b := -lim; b <= lim; b += step {
				h[0], h[1] = float32(a), float32(b)
				acc.add(-m.Energy(v, h))
			}
		}
		want := -(acc.value() + 2*math.Log(step))
		if got := m.FreeEnergy(v); math.Abs(got-want) > 1e-4 {
			t.Fatalf("F(%v) = %.6f, numerical integration %.6f", v, got, want)
		}
	}
	data := tinyData()
	g := NewInitUnits(6, 2, Bernoulli, Gaussian, false, data, 1)
	before := exactLL(t, g, data)
	cfg := DefaultConfig()
	cfg.Epochs, cfg.BatchSize, cfg.LearningRate = 300, 5, 0.01
	if _, err := g.Fit(context.Background(), data, cfg, Hooks{}); err != nil {
		t.Fatal(err)
	}
	if after := exactLL(t, g, data); !(after > before+0.5) {
		t.Fatalf("exact log-likelihood %.3f -> %.3f with Gaussian hidden units", before, after)
	}
	bad := g.Clone()
	bad.VisUnits = Gaussian
	if bad.Validate() == nil {
		t.Fatal("Gaussian units in both layers validated")
	}
}

func TestScaler(t *testing.T) {
	data := mat32.FromSlice(3, 3, []float32{1, 5, 2, 3, 5, 4, 5, 5, 9})
	s, constant, err := FitScaler(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(constant) != 1 || constant[0] != 1 || s.Std[1] != 1 {
		t.Fatalf("constant features %v, divisors %v", constant, s.Std)
	}
	x := data.Clone()
	s.Apply(x)
	for j := 0; j < 3; j++ {
		mean, sq := 0.0, 0.0
		for i := 0; i < 3; i++ {
			mean += float64(x.At(i, j)) / 3
			sq += float64(x.At(i, j)) * float64(x.At(i, j)) / 3
		}
		wantSq := 1.0
		if j == 1 {
			wantSq = 0
		}
		if math.Abs(mean) > 1e-6 || math.Abs(sq-wantSq) > 1e-5 {
			t.Fatalf("feature %d after standardising: mean %g, mean square %g", j, mean, sq)
		}
	}
	s.Invert(x)
	for i := range x.Data {
		if math.Abs(float64(x.Data[i]-data.Data[i])) > 1e-5 {
			t.Fatalf("Invert(Apply(x)) = %v, want %v", x.Data, data.Data)
		}
	}
	if _, _, err := FitScaler(mat32.FromSlice(2, 2, []float32{1, 2, 1, 2})); !errors.Is(err, ErrConstantData) {
		t.Fatalf("constant data: %v", err)
	}
}

func TestUnitTypeErrors(t *testing.T) {
	data := gaussData6()
	g := NewInitUnits(6, 3, Gaussian, Bernoulli, false, data, 1)
	b := NewInit(6, 3, nil, 1)
	cfg := DefaultConfig()
	for _, c := range []struct {
		m    *RBM
		cfg  func(Config) Config
		want string
	}{
		{b, func(c Config) Config { c.LearnSigma = true; return c }, "Gaussian visible units"},
		{g, func(c Config) Config { c.LearnSigma = true; return c }, "variances"},
		{g, func(c Config) Config { c.SampleData = true; return c }, "Bernoulli visible units"},
		{NewInitUnits(6, 3, Gaussian, Bernoulli, true, data, 1), func(c Config) Config { c.Centered = true; return c }, "centred"},
		{NewInitUnits(6, 3, Bernoulli, ReLU, false, nil, 1), func(c Config) Config { c.SparsityTarget, c.SparsityCost = 0.1, 1; return c }, "sparsity"},
	} {
		if _, err := NewTrainer(c.m, c.cfg(cfg)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("NewTrainer: %v, want an error containing %q", err, c.want)
		}
	}
	nan := data.Clone()
	nan.Data[7] = float32(math.NaN())
	if err := CheckData(g, nan); err == nil || !strings.Contains(err.Error(), "sample 2, feature 2 is not a finite number") {
		t.Fatalf("NaN data: %v", err)
	}
	if err := CheckData(g, data); err != nil {
		t.Fatalf("Gaussian data: %v", err)
	}
	if _, err := g.PseudoLogLikelihood(data, 1); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("PLL of a Gaussian model: %v, want ErrUnsupported", err)
	}
	if u, err := ParseUnits("relu"); err != nil || u != ReLU || u.String() != "relu" {
		t.Fatalf("ParseUnits(relu) = %v, %v", u, err)
	}
	if _, err := ParseUnits("softmax"); err == nil {
		t.Fatal("ParseUnits accepted softmax")
	}
	bad := g.Clone()
	bad.HidUnits = Units(7)
	if bad.Validate() == nil {
		t.Fatal("unknown hidden units validated")
	}
}

// A Gaussian model given unstandardised data and a large learning rate
// stops with an error that names the epoch and what to change, and the
// error is ErrDiverged.
func TestGaussianDivergenceAdvice(t *testing.T) {
	data := gaussData6()
	mat32.Scale(data, 1000)
	m := NewInitUnits(6, 4, Gaussian, Bernoulli, false, nil, 1)
	cfg := DefaultConfigFor(Gaussian, Bernoulli, data.Cols, 0, data.Rows)
	cfg.LearnSigma, cfg.LearningRate, cfg.LRDecay = false, 1, 0
	_, err := m.Fit(context.Background(), data, cfg, Hooks{})
	if !errors.Is(err, ErrDiverged) || !strings.Contains(err.Error(), "epoch ") || !strings.Contains(err.Error(), "standardise") {
		t.Fatalf("error %v, want ErrDiverged naming the epoch and advising to standardise", err)
	}
}

// The recipe for σ fixed at 1 is PCD-5 for about 40,000 updates, and it
// raises the exact likelihood of clustered data.
func TestFixedSigmaRecipe(t *testing.T) {
	data := gaussData6()
	for i := 0; i < data.Rows; i++ {
		for j := range data.Row(i) {
			data.Set(i, j, float32(2*(i%2)-1)*1.2+0.4*data.At(i, j))
		}
	}
	cfg := DefaultFixedSigmaConfig(Bernoulli, data.Cols, 0, data.Rows)
	batches := (data.Rows + cfg.BatchSize - 1) / cfg.BatchSize
	if !cfg.Persistent || cfg.LearnSigma || cfg.Steps != 5 || cfg.Epochs != 1000 || batches*cfg.Epochs < 2000 {
		t.Fatalf("recipe %+v", cfg)
	}
	if big := DefaultFixedSigmaConfig(Bernoulli, 0, 0, 400000); big.Epochs != 10 {
		t.Fatalf("400,000 samples: %d epochs, want the floor of 10", big.Epochs)
	}
	if mid := DefaultFixedSigmaConfig(Bernoulli, 0, 0, 50000); mid.Epochs != 80 || math.Abs(mid.LRDecay-10.0/80) > 1e-12 {
		t.Fatalf("50,000 samples: %d epochs, decay %g; want 80 (40,000 updates of 100), 10/80", mid.Epochs, mid.LRDecay)
	}
	cfg.Epochs, cfg.LRDecay = 300, 10.0/300
	m := NewInitUnits(6, 4, Gaussian, Bernoulli, false, data, 3)
	before := exactLL(t, m, data)
	if _, err := m.Fit(context.Background(), data, cfg, Hooks{}); err != nil {
		t.Fatal(err)
	}
	after := exactLL(t, m, data)
	if !(after > before+1) {
		t.Fatalf("exact log-likelihood %.3f -> %.3f, want a rise of more than 1 nat", before, after)
	}
	t.Logf("exact log-likelihood %.3f -> %.3f", before, after)
}

// The recipe's rate for Gaussian visible units is the tuned one up to the
// tuned size and falls as sqrt(nv*nh) beyond it.
func TestGaussianLearningRate(t *testing.T) {
	if r := GaussianLearningRate(Bernoulli, 62, 20); r != 0.05 {
		t.Errorf("62x20: %g, want 0.05", r)
	}
	if r := GaussianLearningRate(Bernoulli, 0, 0); r != 0.05 {
		t.Errorf("unknown size: %g, want 0.05", r)
	}
	if r := GaussianLearningRate(ReLU, 10, 10); r != 0.001 {
		t.Errorf("ReLU 10x10: %g, want 0.001", r)
	}
	prev := 0.05
	for _, nh := range []int{100, 200, 500, 2000} {
		r := GaussianLearningRate(Bernoulli, 62, nh)
		want := 0.05 * math.Sqrt(1240/float64(62*nh))
		if !(r < prev) || math.Abs(r-want) > 0.005*want {
			t.Errorf("62x%d: %g, want %.4g and below %g", nh, r, want, prev)
		}
		prev = r
	}
	if c := DefaultConfigFor(Gaussian, Bernoulli, 784, 500, 60000); c.LearningRate != GaussianLearningRate(Bernoulli, 784, 500) {
		t.Errorf("DefaultConfigFor's rate %g", c.LearningRate)
	}
}

// Gaussian visible units under ReLU hidden units keep σ fixed and take
// CD-1 at the ReLU rate: the combinations that diverged on the digits
// (learned σ, PCD-5 at 0.01) are not the recipe.
func TestGaussianReLURecipe(t *testing.T) {
	c := DefaultConfigFor(Gaussian, ReLU, 62, 20, 3823)
	if c.LearnSigma || c.Persistent || c.Steps != 1 || c.LearningRate != 0.001 || c.Average == 0 {
		t.Errorf("Gaussian-ReLU recipe %+v", c)
	}
	if f := DefaultFixedSigmaConfig(ReLU, 62, 20, 3823); f != c {
		t.Errorf("fixed-σ ReLU recipe %+v differs from %+v", f, c)
	}
	if b := DefaultFixedSigmaConfig(Bernoulli, 62, 20, 3823); !b.Persistent || b.Steps != 5 || b.LearningRate != 0.01 {
		t.Errorf("fixed-σ Bernoulli recipe %+v", b)
	}
}
