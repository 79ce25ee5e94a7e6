package rbm

import (
	"context"
	"math"
	"testing"

	"github.com/harmonium-ml/harmonium/dataset"
	"github.com/harmonium-ml/harmonium/mat32"
)

func TestLogPartitionFastMatchesExact(t *testing.T) {
	for _, shape := range [][2]int{{6, 4}, {4, 7}, {60, 12}, {10, 40}} {
		m := tiny(uint64(shape[0]), shape[0], shape[1])
		for i := range m.W.Data {
			m.W.Data[i] *= 0.3
		}
		slow, err := m.LogPartition()
		if err != nil {
			t.Fatal(err)
		}
		fast, err := m.LogPartitionFast()
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(fast-slow) > 1e-5*math.Abs(slow)+1e-5 {
			t.Fatalf("%v: fast log Z %.8f, float64 enumeration %.8f", shape, fast, slow)
		}
	}
	if _, err := New(784, 30).LogPartitionFast(); err == nil {
		t.Fatal("784x30 did not refuse")
	}
}

// bruteConditional returns log p(v_i | v_-i) from free energies in float64.
func bruteConditional(m *RBM, v []float32, i int) float64 {
	f := m.FreeEnergy(v)
	w := append([]float32(nil), v...)
	w[i] = 1 - w[i]
	g := m.FreeEnergy(w)
	// p(v_i | rest) = e^-F(v) / (e^-F(v) + e^-F(w)).
	return -math.Log1p(math.Exp(f - g))
}

func TestPseudoLogLikelihoodMatchesEnumeration(t *testing.T) {
	m := tiny(5, 6, 4)
	all := mat32.New(64, 6)
	want := 0.0
	for s := 0; s < 64; s++ {
		copy(all.Row(s), bits(uint64(s), 6))
		for i := 0; i < 6; i++ {
			want += bruteConditional(m, all.Row(s), i)
		}
	}
	want /= 64 * 6
	got, err := m.PseudoLogLikelihood(all, 1)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(got.Exact-want) > 1e-5 {
		t.Fatalf("PLL per feature %.7f, enumeration %.7f", got.Exact, want)
	}
	// The one-feature estimate is unbiased: over many copies of the data it
	// converges to the exact value.
	big := mat32.New(64*300, 6)
	for r := 0; r < big.Rows; r++ {
		copy(big.Row(r), all.Row(r%64))
	}
	bp, _ := m.PseudoLogLikelihood(big, 2)
	est := bp.Estimate
	if math.Abs(est-want) > 0.05 {
		t.Fatalf("one-feature PLL estimate %.4f, exact %.4f", est, want)
	}
	// PLL of a model is at most 0 and is log 1/2 for a model with no parameters.
	if p, _ := New(6, 4).PseudoLogLikelihood(all, 1); math.Abs(p.Exact-math.Log(0.5)) > 1e-6 {
		t.Fatalf("empty model PLL %v, want log 1/2", p.Exact)
	}
}

// mnistRBM trains a 784-nh RBM by CD-1 on 2,000 binarised embedded digits.
func mnistRBM(t *testing.T, nh int) (*RBM, *mat32.Dense) {
	t.Helper()
	set, err := dataset.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	x := set.X.Slice(0, 2000).Clone()
	mat32.Bernoulli(x, x, mat32.NewRNG(1, 1))
	m := NewInit(784, nh, x, 3)
	cfg := Config{Epochs: 5, BatchSize: 50, LearningRate: 0.05, Steps: 1, Momentum: 0.5, Seed: 4}
	if _, err := m.Fit(context.Background(), x, cfg, Hooks{}); err != nil {
		t.Fatal(err)
	}
	return m, x
}

// AIS's sparse products down give the dense product's visible
// probabilities (to rounding) and, from the same stream, its samples,
// through the ones of mostly-zero hidden samples and through the zeros of
// mostly-one samples (from the second temperature that has them on).
func TestAISDownMatchesDense(t *testing.T) {
	m := tiny(3, 70, 90)
	const runs = 40
	a := makeAISDown(m, runs)
	vb := make([]float32, 70)
	for i := range vb {
		vb[i] = 0.1 * float32(i%7-3)
	}
	r := mat32.NewRNG(5, 5)
	u := make([]float32, runs*90)
	for _, tc := range []struct {
		density    float64
		calls      int
		wantSparse []bool
	}{{0.3, 1, []bool{true}}, {0.7, 2, []bool{false, true}}, {0.25, 2, []bool{false, true}}} {
		h := mat32.New(runs, 90)
		r.Uniform(u)
		for i, x := range u {
			if float64(x) < tc.density {
				h.Data[i] = 1
			}
		}
		for call := range tc.calls {
			const bk = 0.8
			want, wantS := mat32.New(runs, 70), mat32.New(runs, 70)
			mat32.MulSigmoidScaled(bk, h, m.W, true, vb, want, wantS, mat32.NewRNG(9, uint64(call)))
			got, gotS := mat32.New(runs, 70), mat32.New(runs, 70)
			if did := a.sample(bk, h, vb, got, gotS, mat32.NewRNG(9, uint64(call))); did != tc.wantSparse[call] {
				t.Fatalf("density %.2f, call %d: sparse %v, want %v", tc.density, call, did, tc.wantSparse[call])
			} else if !did {
				continue
			}
			differ := 0
			for i := range got.Data {
				if math.Abs(float64(got.Data[i]-want.Data[i])) > 1e-5 {
					t.Fatalf("density %.2f, call %d: probability %d = %v, dense %v", tc.density, call, i, got.Data[i], want.Data[i])
				}
				if gotS.Data[i] != wantS.Data[i] {
					differ++
				}
			}
			if differ > 3 {
				t.Fatalf("density %.2f, call %d: %d samples differ", tc.density, call, differ)
			}
		}
	}
	if (*aisDown)(nil).sample(1, nil, nil, nil, nil, nil) {
		t.Fatal("a nil aisDown sampled")
	}
	if newAISDown(tinyGauss(1, 4, 3), 2) != nil {
		t.Fatal("sparse products down for Gaussian visible units")
	}
}

// AIS agrees with the exact log Z of MNIST models small enough to enumerate.
func TestAISMatchesExactOnMNISTModels(t *testing.T) {
	if testing.Short() {
		t.Skip("long; runs in the full suite (make test)")
	}
	for _, nh := range []int{10, 20} {
		m, x := mnistRBM(t, nh)
		exact, err := m.LogPartitionFast()
		if err != nil {
			t.Fatal(err)
		}
		res, err := m.AIS(context.Background(), AISConfig{Runs: 100, Betas: DefaultBetas(14500), BaseBias: BaseRateBiases(x, nil), Seed: 9}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !(res.LogZLow <= exact && exact <= res.LogZHigh) || math.Abs(res.LogZ-exact) > 0.5 {
			t.Fatalf("784-%d: AIS log Z %.3f [%.3f, %.3f], exact %.3f", nh, res.LogZ, res.LogZLow, res.LogZHigh, exact)
		}
		t.Logf("784-%d: AIS log Z %.3f [%.3f, %.3f], exact %.3f; mean log-likelihood %.2f", nh, res.LogZ, res.LogZLow, res.LogZHigh, exact, m.LogLikelihood(x, exact))
	}
}

// TestDefaultBetasShort checks the short schedules eval --betas allows:
// every one runs from 0 to 1 (3 temperatures once ended in 0/0, NaN).
func TestDefaultBetasShort(t *testing.T) {
	for n := 3; n <= 40; n++ {
		b := DefaultBetas(n)
		if len(b) != n || b[0] != 0 || b[n-1] != 1 {
			t.Fatalf("DefaultBetas(%d) = %v", n, b)
		}
		for i := 1; i < n; i++ {
			if !(b[i] > b[i-1]) {
				t.Fatalf("DefaultBetas(%d) not increasing at %d: %v", n, i, b)
			}
		}
	}
	m := New(4, 2)
	if _, err := m.AIS(context.Background(), AISConfig{Runs: 2, Betas: DefaultBetas(3), BaseBias: make([]float32, 4), Seed: 1}, nil); err != nil {
		t.Fatalf("AIS with 3 temperatures: %v", err)
	}
}

func TestAISMemoryBytes(t *testing.T) {
	small := AISMemoryBytes(784, 500, 100, 14500)
	if small < 1e6 || small > 1e8 {
		t.Fatalf("AIS of 784-500 at 100 runs: %g bytes", small)
	}
	if big := AISMemoryBytes(64, 16, 100_000_000, 3); big < 25e9 {
		t.Fatalf("AIS of 10^8 runs: %g bytes, want more than the 25 GB its chains take", big)
	}
	if big := AISMemoryBytes(64, 16, 1, 2_000_000_000); big < 16e9 {
		t.Fatalf("2e9 temperatures: %g bytes, want more than the 16 GB of the schedule", big)
	}
}

func TestAISErrorsAndSchedule(t *testing.T) {
	b := DefaultBetas(14500)
	if len(b) != 14500 || b[0] != 0 || b[len(b)-1] != 1 || b[500] != 0.5 || math.Abs(b[4500]-0.9) > 1e-12 {
		t.Fatalf("schedule: %d temperatures, b[500]=%v b[4500]=%v", len(b), b[500], b[4500])
	}
	for i := 1; i < len(b); i++ {
		if b[i] <= b[i-1] {
			t.Fatalf("schedule not increasing at %d", i)
		}
	}
	m := New(5, 3)
	ctx := context.Background()
	if _, err := m.AIS(ctx, AISConfig{Runs: 0, Betas: b, BaseBias: make([]float32, 5)}, nil); err == nil {
		t.Fatal("0 runs accepted")
	}
	if _, err := m.AIS(ctx, AISConfig{Runs: 5, Betas: []float64{0, 0.5}, BaseBias: make([]float32, 5)}, nil); err == nil {
		t.Fatal("schedule not ending at 1 accepted")
	}
	if _, err := m.AIS(ctx, AISConfig{Runs: 5, Betas: b, BaseBias: make([]float32, 4)}, nil); err == nil {
		t.Fatal("wrong base size accepted")
	}
	// For a model equal to its base, every weight is 1 and log Z is exact.
	res, err := m.AIS(ctx, AISConfig{Runs: 7, Betas: DefaultBetas(100), BaseBias: make([]float32, 5), Seed: 1}, nil)
	if err != nil || math.Abs(res.LogZ-8*math.Ln2) > 1e-9 || math.Abs(res.LogZHigh-res.LogZ) > 1e-9 {
		t.Fatalf("AIS of the base model itself: %+v %v", res.LogZ, err)
	}
}
