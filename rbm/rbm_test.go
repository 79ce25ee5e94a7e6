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

// tiny returns a 6x4 RBM with random parameters large enough to matter.
func tiny(seed uint64, nv, nh int) *RBM {
	r := rand.New(rand.NewPCG(seed, 9))
	m := New(nv, nh)
	for i := range m.W.Data {
		m.W.Data[i] = float32(r.NormFloat64())
	}
	for i := range m.VisBias {
		m.VisBias[i] = float32(r.NormFloat64())
	}
	for i := range m.HidBias {
		m.HidBias[i] = float32(r.NormFloat64())
	}
	return m
}

func bits(s uint64, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(s >> i & 1)
	}
	return v
}

// logSumExpEnergy returns log sum over h of e^{-E(v,h)} by enumeration.
func bruteMarginal(m *RBM, v []float32) float64 {
	acc := newLogSum()
	for s := uint64(0); s < 1<<m.Hidden(); s++ {
		acc.add(-m.Energy(v, bits(s, m.Hidden())))
	}
	return acc.value()
}

func TestEnergyByHand(t *testing.T) {
	m := New(2, 1)
	m.W.Data = []float32{2, 3}
	m.VisBias = []float32{0.5, -1}
	m.HidBias = []float32{0.25}
	// E = -(0.5*1 + -1*1) - 0.25*1 - (1*2*1 + 1*3*1) = 0.5 - 0.25 - 5
	if e := m.Energy([]float32{1, 1}, []float32{1}); math.Abs(e-(-4.75)) > 1e-12 {
		t.Fatalf("E = %g, want -4.75", e)
	}
}

func TestFreeEnergyMatchesEnumeration(t *testing.T) {
	m := tiny(1, 6, 4)
	vs := mat32.New(64, 6)
	for s := uint64(0); s < 64; s++ {
		v := bits(s, 6)
		copy(vs.Row(int(s)), v)
		want := -bruteMarginal(m, v)
		if f := m.FreeEnergy(v); math.Abs(f-want) > 1e-9*(1+math.Abs(want)) {
			t.Fatalf("F(%v) = %.12g, enumeration %.12g", v, f, want)
		}
	}
	batch := m.FreeEnergies(vs)
	for s, f := range batch {
		if want := m.FreeEnergy(vs.Row(s)); math.Abs(f-want) > 1e-4*(1+math.Abs(want)) {
			t.Fatalf("FreeEnergies[%d] = %g, FreeEnergy %g", s, f, want)
		}
	}
}

func TestConditionalsMatchEnumeration(t *testing.T) {
	m := tiny(2, 6, 4)
	nv, nh := 6, 4
	vs, hs := mat32.New(1<<nv, nv), mat32.New(1<<nh, nh)
	for s := 0; s < 1<<nv; s++ {
		copy(vs.Row(s), bits(uint64(s), nv))
	}
	for s := 0; s < 1<<nh; s++ {
		copy(hs.Row(s), bits(uint64(s), nh))
	}
	ph := mat32.New(1<<nv, nh)
	m.HiddenProbs(ph, vs)
	for s := 0; s < 1<<nv; s++ {
		v := vs.Row(s)
		// p(h_j=1|v) = sum over h with h_j=1 of e^{-E(v,h)} / sum over all h.
		for j := 0; j < nh; j++ {
			num, den := newLogSum(), newLogSum()
			for hsIdx := 0; hsIdx < 1<<nh; hsIdx++ {
				e := -m.Energy(v, hs.Row(hsIdx))
				den.add(e)
				if hs.At(hsIdx, j) == 1 {
					num.add(e)
				}
			}
			want := math.Exp(num.value() - den.value())
			if got := float64(ph.At(s, j)); math.Abs(got-want) > 1e-6 {
				t.Fatalf("p(h%d=1|v=%v) = %g, enumeration %g", j, v, got, want)
			}
		}
	}
	pv := mat32.New(1<<nh, nv)
	m.VisibleProbs(pv, hs)
	for s := 0; s < 1<<nh; s++ {
		h := hs.Row(s)
		for i := 0; i < nv; i++ {
			num, den := newLogSum(), newLogSum()
			for vsIdx := 0; vsIdx < 1<<nv; vsIdx++ {
				e := -m.Energy(vs.Row(vsIdx), h)
				den.add(e)
				if vs.At(vsIdx, i) == 1 {
					num.add(e)
				}
			}
			want := math.Exp(num.value() - den.value())
			if got := float64(pv.At(s, i)); math.Abs(got-want) > 1e-6 {
				t.Fatalf("p(v%d=1|h=%v) = %g, enumeration %g", i, h, got, want)
			}
		}
	}
}

func TestLogPartitionMatchesEnumeration(t *testing.T) {
	for _, shape := range [][2]int{{6, 4}, {4, 7}} {
		m := tiny(3, shape[0], shape[1])
		acc := newLogSum()
		for sv := uint64(0); sv < 1<<shape[0]; sv++ {
			for sh := uint64(0); sh < 1<<shape[1]; sh++ {
				acc.add(-m.Energy(bits(sv, shape[0]), bits(sh, shape[1])))
			}
		}
		got, err := m.LogPartition()
		if err != nil {
			t.Fatal(err)
		}
		if want := acc.value(); math.Abs(got-want) > 1e-9*math.Abs(want) {
			t.Fatalf("%v: log Z = %.12g, enumeration %.12g", shape, got, want)
		}
	}
	if _, err := New(30, 30).LogPartition(); err == nil {
		t.Fatal("log Z of a 30x30 model did not refuse")
	}
}

// tinyData is a small binary data set with structure for a 6x4 RBM.
func tinyData() *mat32.Dense {
	rows := [][]float32{{1, 1, 1, 0, 0, 0}, {0, 0, 0, 1, 1, 1}, {1, 1, 0, 0, 0, 0}, {0, 0, 0, 0, 1, 1}, {1, 0, 1, 0, 1, 0}}
	d := mat32.New(len(rows), 6)
	for i, r := range rows {
		copy(d.Row(i), r)
	}
	return d
}

// exactGradW returns d mean log p(data) / dW by enumeration:
// E_data[v p(h|v)'] - E_model[v h'].
func exactGradW(m *RBM, data *mat32.Dense) []float64 {
	nv, nh := m.Visible(), m.Hidden()
	grad := make([]float64, nv*nh)
	ph := mat32.New(data.Rows, nh)
	m.HiddenProbs(ph, data)
	for r := 0; r < data.Rows; r++ {
		for i := 0; i < nv; i++ {
			for j := 0; j < nh; j++ {
				grad[i*nh+j] += float64(data.At(r, i)) * float64(ph.At(r, j)) / float64(data.Rows)
			}
		}
	}
	logZ, _ := m.LogPartition()
	for sv := uint64(0); sv < 1<<nv; sv++ {
		v := bits(sv, nv)
		for sh := uint64(0); sh < 1<<nh; sh++ {
			h := bits(sh, nh)
			p := math.Exp(-m.Energy(v, h) - logZ)
			for i := 0; i < nv; i++ {
				for j := 0; j < nh; j++ {
					grad[i*nh+j] -= p * float64(v[i]) * float64(h[j])
				}
			}
		}
	}
	return grad
}

// gradientCase returns a small model with moderate weights, tinyData, and
// tinyData repeated reps times: a minibatch large enough that one update
// estimates the exact gradient.
func gradientCase(reps int) (*RBM, *mat32.Dense, *mat32.Dense) {
	m := tiny(4, 6, 4)
	for i := range m.W.Data {
		m.W.Data[i] *= 0.5
	}
	data := tinyData()
	big := mat32.New(data.Rows*reps, 6)
	for r := 0; r < big.Rows; r++ {
		copy(big.Row(r), data.Row(r%data.Rows))
	}
	return m, data, big
}

// A CD-k update with long chains and many samples estimates the exact
// log-likelihood gradient.
func TestLongChainCDMatchesExactGradient(t *testing.T) {
	if testing.Short() {
		t.Skip("long; runs in the full suite (make test)")
	}
	m, data, big := gradientCase(8000)
	want := exactGradW(m, data)
	before := m.Clone()
	cfg := Config{Epochs: 1, BatchSize: big.Rows, LearningRate: 1, Steps: 200, SampleVisible: true, Seed: 5}
	if _, err := m.Fit(context.Background(), big, cfg, Hooks{}); err != nil {
		t.Fatal(err)
	}
	maxErr, norm := 0.0, 0.0
	for i := range want {
		got := float64(m.W.Data[i] - before.W.Data[i])
		maxErr = max(maxErr, math.Abs(got-want[i]))
		norm = max(norm, math.Abs(want[i]))
	}
	// Monte Carlo error with 40000 chains is about 0.005 per entry.
	if maxErr > 0.02 {
		t.Fatalf("CD-200 gradient differs from the exact gradient by %g (largest exact entry %g)", maxErr, norm)
	}
	t.Logf("largest |CD-200 - exact| = %.4f, largest exact entry %.4f", maxErr, norm)
}

func exactLL(t *testing.T, m *RBM, data *mat32.Dense) float64 {
	logZ, err := m.LogPartition()
	if err != nil {
		t.Fatal(err)
	}
	return m.LogLikelihood(data, logZ)
}

func TestTrainingRaisesExactLikelihood(t *testing.T) {
	if testing.Short() {
		t.Skip("long; runs in the full suite (make test)")
	}
	data := tinyData()
	for _, cfg := range []Config{
		{Epochs: 300, BatchSize: 5, LearningRate: 0.1, Steps: 1, Seed: 1},
		{Epochs: 1000, BatchSize: 5, LearningRate: 0.05, Steps: 1, Persistent: true, Momentum: 0.5, WeightDecay: 0.0001, Seed: 2},
		{Epochs: 300, BatchSize: 2, LearningRate: 0.05, Steps: 3, Momentum: 0.9, InitialMomentum: 0.5, MomentumWarmup: 5, SparsityTarget: 0.2, SparsityCost: 0.1, Seed: 3},
		{Epochs: 300, BatchSize: 5, LearningRate: 0.1, Steps: 1, SampleData: true, Seed: 4},
		{Epochs: 1000, BatchSize: 5, LearningRate: 0.05, Steps: 1, Persistent: true, Centered: true, OffsetRate: 0.01, Seed: 5},
		{Epochs: 1000, BatchSize: 5, LearningRate: 0.05, Steps: 1, Tempering: 4, Momentum: 0.5, Seed: 6},
	} {
		m := NewInit(6, 4, data, 7)
		before := exactLL(t, m, data)
		if _, err := m.Fit(context.Background(), data, cfg, Hooks{}); err != nil {
			t.Fatal(err)
		}
		after := exactLL(t, m, data)
		if !(after > before+1) {
			t.Fatalf("%+v: exact log-likelihood %g -> %g, want a rise of more than 1 nat", cfg, before, after)
		}
		t.Logf("k=%d persistent=%v: exact log-likelihood %.3f -> %.3f (uniform: %.3f)", cfg.Steps, cfg.Persistent, before, after, -6*math.Ln2)
	}
}

func TestSameSeedSameModelAndResume(t *testing.T) {
	data := tinyData()
	cfg := Config{Epochs: 6, BatchSize: 2, LearningRate: 0.1, Steps: 1, Persistent: true, Momentum: 0.9, InitialMomentum: 0.5, MomentumWarmup: 2, WeightDecay: 0.001, Centered: true, OffsetRate: 0.01, Seed: 11}
	a, b := NewInit(6, 4, data, 1), NewInit(6, 4, data, 1)
	if _, err := a.Fit(context.Background(), data, cfg, Hooks{}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Fit(context.Background(), data, cfg, Hooks{}); err != nil {
		t.Fatal(err)
	}
	for i := range a.W.Data {
		if a.W.Data[i] != b.W.Data[i] {
			t.Fatal("same seed gave different weights")
		}
	}
	// Stop after 3 epochs, carry the state over, and finish: the result must
	// equal the uninterrupted run.
	c := NewInit(6, 4, data, 1)
	tr, _ := NewTrainer(c, cfg)
	stop := Hooks{Epoch: func(s EpochStats) error {
		if s.Epoch == 3 {
			return context.Canceled
		}
		return nil
	}}
	if _, err := tr.Fit(context.Background(), data, stop); err != context.Canceled {
		t.Fatalf("stop hook: %v", err)
	}
	tr2, _ := NewTrainer(c.Clone(), cfg)
	tr2.State = tr.State
	if _, err := tr2.Fit(context.Background(), data, Hooks{}); err != nil {
		t.Fatal(err)
	}
	for i := range a.W.Data {
		if a.W.Data[i] != tr2.Model.W.Data[i] {
			t.Fatal("resumed training differs from uninterrupted training")
		}
	}
	d := NewInit(6, 4, data, 1)
	cfg.Seed = 12
	if _, err := d.Fit(context.Background(), data, cfg, Hooks{}); err != nil {
		t.Fatal(err)
	}
	if d.W.Data[0] == a.W.Data[0] && d.W.Data[5] == a.W.Data[5] {
		t.Fatal("different seeds gave the same weights")
	}
}

// A persistent run resumed with a larger minibatch keeps its chains and
// starts the extra ones at the data; with a smaller one the first continue.
func TestPersistentResumeWithOtherBatchSize(t *testing.T) {
	data := tinyData()
	cfg := Config{Epochs: 1, BatchSize: 2, LearningRate: 0.1, Steps: 1, Persistent: true, Seed: 3}
	tr, _ := NewTrainer(NewInit(6, 4, data, 1), cfg)
	if _, err := tr.Fit(context.Background(), data, Hooks{}); err != nil {
		t.Fatal(err)
	}
	before := tr.State.Chains.Clone()
	for _, bs := range []int{4, 1} {
		cfg.Epochs++
		cfg.BatchSize = bs
		next, _ := NewTrainer(tr.Model, cfg)
		next.State = tr.State
		if _, err := next.Fit(context.Background(), data, Hooks{}); err != nil {
			t.Fatalf("batch %d after %d: %v", bs, before.Rows, err)
		}
		if next.State.Chains.Rows != bs || next.State.Epoch != cfg.Epochs {
			t.Fatalf("batch %d: %d chains after epoch %d", bs, next.State.Chains.Rows, next.State.Epoch)
		}
		tr = next
	}
	if before.Rows != 2 {
		t.Fatalf("%d chains for batch 2", before.Rows)
	}
}

// OffsetRate 0 keeps the offsets where they start.
func TestZeroOffsetRateKeepsOffsets(t *testing.T) {
	data := tinyData()
	tr, _ := NewTrainer(NewInit(6, 4, data, 1), Config{Epochs: 2, BatchSize: 2, LearningRate: 0.1, Steps: 1, Centered: true, Seed: 3})
	if _, err := tr.Fit(context.Background(), data, Hooks{}); err != nil {
		t.Fatal(err)
	}
	mean := make([]float32, 6)
	mat32.ColumnSums(mean, 1/float32(data.Rows), data)
	for i, x := range tr.State.VisOffset {
		if x != mean[i] {
			t.Fatalf("visible offset %d moved to %g from the mean %g", i, x, mean[i])
		}
	}
	for _, x := range tr.State.HidOffset {
		if x != 0.5 {
			t.Fatalf("hidden offset moved to %g", x)
		}
	}
}

func TestFitStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	m := NewInit(6, 4, tinyData(), 1)
	if _, err := m.Fit(ctx, tinyData(), Config{Epochs: 5, BatchSize: 1, LearningRate: 0.1, Steps: 1}, Hooks{}); err != context.Canceled {
		t.Fatalf("Fit on a cancelled context returned %v", err)
	}
}

func TestConfigAndDataErrors(t *testing.T) {
	ok := Config{Epochs: 1, BatchSize: 1, LearningRate: 0.1, Steps: 1}
	for _, bad := range []func(*Config){
		func(c *Config) { c.Epochs = 0 }, func(c *Config) { c.BatchSize = -1 }, func(c *Config) { c.LearningRate = 0 },
		func(c *Config) { c.LearningRate = math.NaN() }, func(c *Config) { c.Steps = 0 }, func(c *Config) { c.Momentum = 1 },
		func(c *Config) { c.WeightDecay = -1 }, func(c *Config) { c.SparsityTarget = 1 },
		func(c *Config) { c.SparsityTarget = 0.1 }, // no cost: the penalty would do nothing
		// NaN passes every comparison; it once trained to "diverged: lower
		// the learning rate" or, as a sparsity target, turned it off.
		func(c *Config) { c.LRDecay = math.NaN() }, func(c *Config) { c.LRDecay = math.Inf(1) },
		func(c *Config) { c.Momentum = math.NaN() }, func(c *Config) { c.InitialMomentum = math.NaN() },
		func(c *Config) { c.WeightDecay = math.NaN() }, func(c *Config) { c.WeightDecay = math.Inf(1) },
		func(c *Config) { c.SparsityTarget = math.NaN() }, func(c *Config) { c.OffsetRate = math.NaN() },
		func(c *Config) { c.SparsityTarget, c.SparsityCost = 0.1, math.NaN() },
		func(c *Config) { c.SparsityTarget, c.SparsityCost = 0.1, math.Inf(1) }, func(c *Config) { c.SigmaRate = math.NaN() },
	} {
		c := ok
		bad(&c)
		if c.Validate() == nil {
			t.Fatalf("%+v accepted", c)
		}
	}
	c := ok
	c.InitialMomentum = 1
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "initial momentum") {
		t.Fatalf("initial momentum 1: %v", err)
	}
	m := New(6, 4)
	d := tinyData()
	d.Set(2, 3, 1.5)
	if _, err := m.Fit(context.Background(), d, ok, Hooks{}); err == nil {
		t.Fatal("value 1.5 accepted for Bernoulli units")
	}
	if _, err := m.Fit(context.Background(), mat32.New(3, 5), ok, Hooks{}); err == nil {
		t.Fatal("5 columns accepted for 6 visible units")
	}
	m.W.Data[0] = float32(math.NaN())
	if _, err := m.Fit(context.Background(), tinyData(), ok, Hooks{}); err == nil {
		t.Fatal("NaN weights accepted")
	}
}

// A model that turns NaN during an epoch stops training with ErrDiverged.
// (The NaN is planted by the batch hook: real divergence depends on the
// numerics of a particular run.)
func TestDivergenceIsReported(t *testing.T) {
	m := NewInit(6, 4, tinyData(), 1)
	plant := Hooks{Batch: func(epoch, done, total int) {
		if epoch == 2 {
			m.W.Data[3] = float32(math.Inf(1))
		}
	}}
	stats, err := m.Fit(context.Background(), tinyData(), Config{Epochs: 3, BatchSize: 5, LearningRate: 0.1, Steps: 1}, plant)
	if !errors.Is(err, ErrDiverged) || len(stats) != 1 || !strings.Contains(err.Error(), "epoch 2") {
		t.Fatalf("Fit returned %v after %d epochs, want ErrDiverged in epoch 2", err, len(stats))
	}
}

// A training step allocates nothing once its buffers exist (with the native
// backend; gonum's pure-Go products allocate for their own goroutines).
func TestStepDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	limit := 1.0
	if !mat32.Native() {
		limit = 500
		t.Logf("pure-Go products (%s): allowing gonum's own allocations", mat32.Backend())
	}
	r := rand.New(rand.NewPCG(1, 1))
	data := mat32.New(100, 200)
	for i := range data.Data {
		data.Data[i] = float32(r.IntN(2))
	}
	for k, cfg := range []Config{
		{Epochs: 1, BatchSize: 100, LearningRate: 0.01, Steps: 1},
		{Epochs: 1, BatchSize: 100, LearningRate: 0.01, Steps: 2, Persistent: true, Momentum: 0.9, WeightDecay: 0.001, SparsityTarget: 0.1, SparsityCost: 0.1},
		{Epochs: 1, BatchSize: 100, LearningRate: 0.01, Steps: 5, LearnSigma: true, Momentum: 0.9, WeightDecay: 0.001},
		{Epochs: 1, BatchSize: 100, LearningRate: 0.01, Steps: 1, Persistent: true},
	} {
		m := NewInit(200, 300, data, 1)
		switch k {
		case 2:
			m = NewInitUnits(200, 300, Gaussian, Bernoulli, true, data, 1)
		case 3:
			m = NewInitUnits(200, 300, Gaussian, ReLU, false, data, 1)
		}
		tr, err := NewTrainer(m, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tr.Fit(context.Background(), data, Hooks{}); err != nil {
			t.Fatal(err)
		}
		buf := tr.buffers(100)
		copy(buf.v0.Data, data.Data)
		rng := mat32.NewRNG(1, 1)
		if a := testing.AllocsPerRun(20, func() { tr.step(buf, 0.01, float32(cfg.Momentum), rng) }); a >= limit {
			t.Fatalf("%+v: a step allocates %.1f times", cfg, a)
		}
	}
}

// With SampleData the trainer sees binary samples of the grey-level data.
func TestSampleDataBinarisesMinibatches(t *testing.T) {
	data := mat32.New(400, 50)
	for i := range data.Data {
		data.Data[i] = 0.3
	}
	for _, sample := range []bool{false, true} {
		tr, _ := NewTrainer(NewInit(50, 8, data, 1), Config{Epochs: 1, BatchSize: 400, LearningRate: 0.01, Steps: 1, SampleData: sample, Seed: 2})
		if _, err := tr.Fit(context.Background(), data, Hooks{}); err != nil {
			t.Fatal(err)
		}
		v0 := tr.buffers(400).v0
		ones, grey := 0, 0
		for _, x := range v0.Data {
			switch x {
			case 1:
				ones++
			case 0:
			default:
				grey++
			}
		}
		frac := float64(ones) / float64(len(v0.Data))
		if sample && (grey != 0 || math.Abs(frac-0.3) > 0.02) {
			t.Fatalf("sampled minibatch: %d grey values, %.3f ones", grey, frac)
		}
		if !sample && grey != len(v0.Data) {
			t.Fatalf("minibatch without sampling changed: %d grey of %d", grey, len(v0.Data))
		}
	}
}

// One centred step equals the centred gradient written out by hand.
func TestCentredStepAlgebra(t *testing.T) {
	data := tinyData()
	m := NewInit(6, 4, data, 3)
	cfg := Config{Epochs: 1, BatchSize: 5, LearningRate: 0.3, Steps: 1, Centered: true, OffsetRate: 0.2, Seed: 1}
	tr, err := NewTrainer(m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	tr.startCentring(data)
	for i := range tr.State.HidOffset {
		tr.State.HidOffset[i] = 0.2 + 0.1*float32(i)
	}
	buf := tr.buffers(5)
	copy(buf.v0.Data, data.Data)
	before := m.Clone()
	mu := append([]float32(nil), tr.State.VisOffset...)
	lam := append([]float32(nil), tr.State.HidOffset...)
	tr.step(buf, 0.3, 0, mat32.NewRNG(1, 1))
	scale := 0.3 / 5.0
	gv, gh := make([]float64, 6), make([]float64, 4)
	for r := 0; r < 5; r++ {
		for i := 0; i < 6; i++ {
			gv[i] += float64(buf.v0.At(r, i) - buf.vr.At(r, i))
		}
		for j := 0; j < 4; j++ {
			gh[j] += float64(buf.h0p.At(r, j) + buf.hp.At(r, j)) // hp holds -p(h|vneg)
		}
	}
	dW := make([]float64, 24)
	for i := 0; i < 6; i++ {
		for j := 0; j < 4; j++ {
			g := 0.0
			for r := 0; r < 5; r++ {
				g += float64(buf.v0.At(r, i)*buf.h0p.At(r, j) + buf.vr.At(r, i)*buf.hp.At(r, j))
			}
			g -= float64(mu[i])*gh[j] + gv[i]*float64(lam[j])
			dW[i*4+j] = scale * g
			if got := float64(m.W.At(i, j) - before.W.At(i, j)); math.Abs(got-dW[i*4+j]) > 1e-5 {
				t.Fatalf("dW[%d,%d] = %g, want %g", i, j, got, dW[i*4+j])
			}
		}
	}
	for i := 0; i < 6; i++ {
		want := scale * gv[i]
		for j := 0; j < 4; j++ {
			want -= dW[i*4+j] * float64(lam[j])
		}
		if got := float64(m.VisBias[i] - before.VisBias[i]); math.Abs(got-want) > 1e-5 {
			t.Fatalf("db[%d] = %g, want %g", i, got, want)
		}
	}
	for j := 0; j < 4; j++ {
		want := scale * gh[j]
		for i := 0; i < 6; i++ {
			want -= dW[i*4+j] * float64(mu[i])
		}
		if got := float64(m.HidBias[j] - before.HidBias[j]); math.Abs(got-want) > 1e-5 {
			t.Fatalf("dc[%d] = %g, want %g", j, got, want)
		}
	}
	// The offsets moved 20% of the way to this minibatch's means.
	if want := 0.8*mu[0] + 0.2*float32(3.0/5); math.Abs(float64(tr.State.VisOffset[0]-want)) > 1e-6 {
		t.Fatalf("visible offset %g, want %g", tr.State.VisOffset[0], want)
	}
}
