package rbm

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/harmonium-ml/harmonium/mat32"
)

// sparseData returns n samples of nv pixel-like values, a fraction density
// of them nonzero.
func sparseData(n, nv int, density float64, seed uint64) *mat32.Dense {
	r := rand.New(rand.NewPCG(seed, seed))
	x := mat32.New(n, nv)
	for i := range x.Data {
		if r.Float64() < density {
			x.Data[i] = float32(1 - r.Float64())
		}
	}
	return x
}

func TestChooseSparse(t *testing.T) {
	sparse, dense := sparseData(50, 40, 0.1, 1), sparseData(50, 40, 0.8, 2)
	for _, c := range []struct {
		m    *RBM
		data *mat32.Dense
		want bool
	}{
		{NewInit(40, 10, sparse, 1), sparse, true},
		{NewInit(40, 10, dense, 1), dense, false},
		{NewInitUnits(40, 10, Bernoulli, ReLU, false, sparse, 1), sparse, true},
		// Learned variances carry the data up through other weights.
		{NewInitUnits(40, 10, Gaussian, Bernoulli, true, sparse, 1), sparse, false},
	} {
		tr, err := NewTrainer(c.m, DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		tr.chooseSparse(c.data)
		if want := c.want && mat32.SparseFaster(); tr.sparseData != want {
			t.Errorf("%v/%v units, density %.2f: sparse %v, want %v", c.m.VisUnits, c.m.HidUnits, mat32.Density(c.data), tr.sparseData, want)
		}
	}
}

// A step on sparse data gives the dense step's model: the same up to
// rounding, except where rounding flips a hidden sample (each flip moves
// a weight by at most the step size). The sparse step also takes the
// hidden samples down sparse when they are (sparseDown); the dense one
// does not.
func TestSparseStepMatchesDense(t *testing.T) {
	for _, shape := range [][3]int{{100, 200, 300}, {20, 25, 30}} {
		testSparseStep(t, shape[0], shape[1], shape[2])
	}
}

func testSparseStep(t *testing.T, n, nv, nh int) {
	data := sparseData(n, nv, 0.15, 3)
	for _, cfg := range []Config{
		{BatchSize: n, LearningRate: 0.1, Steps: 1},
		{BatchSize: n, LearningRate: 0.05, Steps: 1, Momentum: 0.5, WeightDecay: 0.001},
		{BatchSize: n, LearningRate: 0.05, Steps: 1, Momentum: 0.5, Centered: true},
		{BatchSize: n, LearningRate: 0.05, Steps: 1, SparsityTarget: 0.1, SparsityCost: 0.1},
		{BatchSize: n, LearningRate: 0.05, Steps: 2, Persistent: true, Momentum: 0.5},
		{BatchSize: n, LearningRate: 0.05, Steps: 3, SampleVisible: true, Centered: true},
		{BatchSize: n, LearningRate: 0.05, Steps: 1, Persistent: true},
		{BatchSize: n, LearningRate: 0.05, Steps: 1, Tempering: 3},
	} {
		cfg.Epochs, cfg.Seed = 1, 1
		for _, hid := range []Units{Bernoulli, ReLU} {
			if hid == ReLU && (cfg.SparsityTarget > 0 || cfg.Tempering > 0) {
				continue
			}
			start := NewInitUnits(nv, nh, Bernoulli, hid, false, data, 1)
			// Weights large enough that the hidden units are not all near 1/2.
			for i := range start.W.Data {
				start.W.Data[i] *= 20
			}
			var ws [2]*RBM
			for k, sparse := range []bool{false, true} {
				m := start.Clone()
				tr, err := NewTrainer(m, cfg)
				if err != nil {
					t.Fatal(err)
				}
				if cfg.Persistent {
					tr.fitChains(data, n)
				}
				if cfg.Tempering > 1 {
					tr.fitTempering(data, n)
				}
				if cfg.Centered {
					tr.startCentring(data)
				}
				tr.sparseData, tr.denseDown = sparse, !sparse
				buf := tr.buffers(n)
				copy(buf.v0.Data, data.Data)
				tr.step(buf, float32(cfg.LearningRate), float32(cfg.Momentum), mat32.NewRNG(7, 7))
				ws[k] = m
			}
			step := cfg.LearningRate / float64(n)
			far := 0
			for i, w := range ws[1].W.Data {
				d := math.Abs(float64(w) - float64(ws[0].W.Data[i]))
				if d > 3*step {
					t.Fatalf("%+v %v: weight %d differs by %g (step %g)", cfg, hid, i, d, step)
				}
				if d > 1e-5 {
					far++
				}
			}
			if changed := 0.0; far > len(ws[0].W.Data)/50 {
				for i, w := range ws[0].W.Data {
					changed += math.Abs(float64(w - start.W.Data[i]))
				}
				t.Fatalf("%+v %v: %d of %d weights differ by more than 1e-5 (mean change %g)", cfg, hid, far, len(ws[0].W.Data), changed/float64(len(ws[0].W.Data)))
			}
		}
	}
}

// With binary hidden samples sparse enough, each step's last weight update
// leaves the transposed weights that the next step's sparse products down
// use: they equal the weights transposed bit for bit, and weights changed
// between steps (another slice, as when the average is swapped in) are
// transposed again.
func TestSparseDownKeepsTransposedWeights(t *testing.T) {
	data := sparseData(60, 90, 0.15, 5)
	for _, cfg := range []Config{
		{BatchSize: 60, LearningRate: 0.1, Steps: 1},
		{BatchSize: 60, LearningRate: 0.05, Steps: 1, Momentum: 0.5, WeightDecay: 0.001},
		{BatchSize: 60, LearningRate: 0.05, Steps: 2, Persistent: true},
		{BatchSize: 60, LearningRate: 0.05, Steps: 1, SparsityTarget: 0.1, SparsityCost: 0.1},
	} {
		cfg.Epochs, cfg.Seed = 1, 1
		m := NewInit(90, 70, data, 1)
		for j := range m.HidBias {
			m.HidBias[j] = -1.5 // about a fifth of the hidden units on
		}
		tr, err := NewTrainer(m, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Persistent {
			tr.fitChains(data, 60)
		}
		tr.chooseSparse(data)
		buf := tr.buffers(60)
		copy(buf.v0.Data, data.Data)
		rng := mat32.NewRNG(1, 1)
		fused := 0
		for s := range 4 {
			tr.step(buf, float32(cfg.LearningRate), float32(cfg.Momentum), rng)
			if !mat32.SparseFaster() {
				if tr.wT != nil {
					t.Fatalf("%+v: transposed weights without the sparse kernels", cfg)
				}
				continue
			}
			if tr.spH.Density() >= hiddenSparseBelow || tr.wT == nil {
				t.Fatalf("%+v step %d: hidden density %.2f, transposed weights %v", cfg, s, tr.spH.Density(), tr.wT != nil)
			}
			if !tr.wTNext {
				continue
			}
			fused++
			for i := range 90 {
				for j := range 70 {
					if tr.wT.At(j, i) != m.W.At(i, j) {
						t.Fatalf("%+v step %d: transposed weight (%d, %d) = %v, want %v", cfg, s, j, i, tr.wT.At(j, i), m.W.At(i, j))
					}
				}
			}
		}
		if want := mat32.SparseFaster() && cfg.SparsityTarget == 0; (fused > 0) != want {
			t.Errorf("%+v: %d steps left the transposed weights, want some: %v", cfg, fused, want)
		}
		if !tr.wTNext {
			continue
		}
		m.W = m.W.Clone()
		tr.startStep()
		if tr.wTFresh {
			t.Errorf("%+v: weights in another slice still count as transposed", cfg)
		}
	}
}

func TestSparseStepDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	data := sparseData(100, 200, 0.15, 4)
	for _, cfg := range []Config{
		{Epochs: 1, BatchSize: 100, LearningRate: 0.01, Steps: 1, Momentum: 0.5},
		{Epochs: 1, BatchSize: 100, LearningRate: 0.01, Steps: 3, Persistent: true, Centered: true},
	} {
		testSparseAllocs(t, data, cfg)
	}
}

func testSparseAllocs(t *testing.T, data *mat32.Dense, cfg Config) {
	m := NewInit(200, 300, data, 1)
	tr, err := NewTrainer(m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Persistent {
		tr.fitChains(data, 100)
	}
	if cfg.Centered {
		tr.startCentring(data)
	}
	tr.sparseData = true // whether or not it is the faster path here
	buf := tr.buffers(100)
	copy(buf.v0.Data, data.Data)
	rng := mat32.NewRNG(1, 1)
	tr.step(buf, 0.01, 0.5, rng)
	limit := 1.0
	if !mat32.Native() {
		limit = 500 // gonum's own allocations in the dense part
	}
	if a := testing.AllocsPerRun(20, func() { tr.step(buf, 0.01, 0.5, rng) }); a >= limit {
		t.Fatalf("%+v: a sparse step allocates %.1f times", cfg, a)
	}
}

// Config.MemoryBytes covers what training holds after its steps, the
// transposed weights and the sparse forms included (PCD on sparse data
// uses every sparse form).
func TestMemoryBytesCoversTraining(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's shadow memory counts in the heap")
	}
	data := sparseData(100, 400, 0.15, 6)
	cfg := Config{Epochs: 1, BatchSize: 100, LearningRate: 0.01, Steps: 2, Persistent: true, Momentum: 0.5}
	m := NewInit(400, 300, data, 1)
	for j := range m.HidBias {
		m.HidBias[j] = -1.5
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	tr, err := NewTrainer(m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	tr.fitChains(data, 100)
	tr.chooseSparse(data)
	buf := tr.buffers(100)
	copy(buf.v0.Data, data.Data)
	rng := mat32.NewRNG(1, 1)
	for range 3 {
		tr.step(buf, 0.01, 0.5, rng)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	held := float64(after.HeapAlloc) - float64(before.HeapAlloc)
	if est := cfg.MemoryBytes(400, 300); held > est {
		t.Fatalf("training holds %.0f bytes, MemoryBytes estimates %.0f", held, est)
	} else {
		t.Logf("held %.0f bytes, estimated %.0f (sparse products down: %v)", held, est, tr.wT != nil)
	}
	runtime.KeepAlive(tr)
}
