package ae

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/harmonium-ml/harmonium/mat32"
	"github.com/harmonium-ml/harmonium/nn"
)

// twoBlobs returns n samples of 16 values near one of two binary
// prototypes, in [0, 1].
func twoBlobs(n int, seed uint64) *mat32.Dense {
	r := rand.New(rand.NewPCG(seed, 1))
	x := mat32.New(n, 16)
	for i := range n {
		for j := range 16 {
			v := 0.05 + 0.1*r.Float64()
			if (j%2 == 0) == (i%2 == 0) {
				v = 1 - v
			}
			x.Set(i, j, float32(v))
		}
	}
	return x
}

func TestNewKinds(t *testing.T) {
	for _, c := range []struct {
		spec       Spec
		code, size int
	}{
		{Spec{Kind: AE, Input: nn.Flat(16), Code: 5}, 1, 5},
		{Spec{Kind: AE, Input: nn.Flat(16), Layers: []int{8}, Code: 3, Tied: true}, 3, 3},
		{Spec{Kind: DAE, Input: nn.Flat(16), Code: 4, Noise: nn.NoiseMask, NoiseLevel: 0.3}, 2, 4},
		{Spec{Kind: VAE, Input: nn.Flat(16), Layers: []int{8}, Code: 2}, 3, 2},
		{Spec{Kind: Conv, Input: nn.Shape{C: 1, H: 8, W: 8}, Layers: []int{4, 2}}, 5, 2 * 2 * 2},
	} {
		m, err := New(c.spec, 1)
		if err != nil {
			t.Fatalf("%s: %v", c.spec.Kind, err)
		}
		if err := m.Check(); err != nil {
			t.Errorf("%s: %v", c.spec.Kind, err)
		}
		if m.Code != c.code || m.CodeSize() != c.size {
			t.Errorf("%s: code layer %d of size %d, want %d of %d", c.spec.Kind, m.Code, m.CodeSize(), c.code, c.size)
		}
		x := twoBlobs(3, 1)
		if m.Kind == Conv {
			x = mat32.New(3, 64)
		}
		if r := m.Reconstruct(x); r.Rows != 3 || r.Cols != x.Cols {
			t.Errorf("%s: reconstruction %dx%d", c.spec.Kind, r.Rows, r.Cols)
		}
		if f := m.Features(x); f.Cols != c.size {
			t.Errorf("%s: features of %d values, want %d", c.spec.Kind, f.Cols, c.size)
		}
	}
	tied, _ := New(Spec{Kind: AE, Input: nn.Flat(16), Layers: []int{8}, Code: 3, Tied: true}, 1)
	untied, _ := New(Spec{Kind: AE, Input: nn.Flat(16), Layers: []int{8}, Code: 3}, 1)
	if tied.Params() != 16*8+8+8*3+3+8+16 || untied.Params() != 2*(16*8+8*3)+8+3+8+16 {
		t.Errorf("parameters: tied %d, untied %d", tied.Params(), untied.Params())
	}
}

func TestNewRefuses(t *testing.T) {
	for _, s := range []Spec{
		{Kind: "pca", Input: nn.Flat(16), Code: 2},
		{Kind: AE, Input: nn.Flat(16)},
		{Kind: AE, Input: nn.Flat(16), Code: 2, Layers: []int{0}},
		{Kind: DAE, Input: nn.Flat(16), Code: 2},
		{Kind: AE, Input: nn.Flat(16), Code: 2, Noise: nn.NoiseMask, NoiseLevel: 0.1},
		{Kind: VAE, Input: nn.Flat(16), Code: 2, Tied: true},
		{Kind: Conv, Input: nn.Flat(64), Layers: []int{4}},
		{Kind: Conv, Input: nn.Shape{C: 1, H: 6, W: 6}, Layers: []int{4, 4}},
		{Kind: AE, Input: nn.Flat(16), Code: 2, Output: "poisson"},
	} {
		if _, err := New(s, 1); !errors.Is(err, ErrSpec) {
			t.Errorf("New(%+v) = %v, want ErrSpec", s, err)
		}
	}
}

// TestDenoisingNoiseOnlyInTraining checks that a DAE's codes and
// reconstructions do not depend on its noise stream.
func TestDenoisingNoiseOnlyInTraining(t *testing.T) {
	m, err := New(Spec{Kind: DAE, Input: nn.Flat(16), Code: 4, Noise: nn.NoiseSaltPepper, NoiseLevel: 0.5}, 1)
	if err != nil {
		t.Fatal(err)
	}
	x := twoBlobs(10, 2)
	a := append([]float32(nil), m.Reconstruct(x).Data...)
	m.Net.Layers()[0].(nn.Seeder).Seed(99, 99)
	b := m.Reconstruct(x)
	for i := range a {
		if a[i] != b.Data[i] {
			t.Fatal("a DAE's reconstruction changed with its noise stream")
		}
	}
}

// TestTrainingReducesLoss trains each kind briefly on two clusters and
// checks that the reconstruction error falls.
func TestTrainingReducesLoss(t *testing.T) {
	x := twoBlobs(200, 3)
	for _, s := range []Spec{
		{Kind: AE, Code: 4},
		{Kind: AE, Code: 4, Tied: true},
		{Kind: DAE, Code: 4, Noise: nn.NoiseMask, NoiseLevel: 0.3},
		{Kind: VAE, Layers: []int{16}, Code: 2},
		{Kind: AE, Code: 4, Output: Gaussian},
	} {
		s.Input = nn.Flat(16)
		m, err := New(s, 1)
		if err != nil {
			t.Fatal(err)
		}
		before := m.ReconError(x)
		tr, err := m.NewTrainer(nn.Config{Epochs: 40, BatchSize: 20, LearningRate: 0.01, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Fit(context.Background(), tr, x, nil, nn.Hooks{}); err != nil {
			t.Fatal(err)
		}
		if after := m.ReconError(x); !(after < before/4) {
			t.Errorf("%s (tied %v, %s): reconstruction error %.3f before training, %.3f after", s.Kind, s.Tied, m.Output, before, after)
		}
	}
}

func TestCheckData(t *testing.T) {
	m, _ := New(Spec{Kind: AE, Input: nn.Flat(2), Code: 1}, 1)
	for _, x := range []*mat32.Dense{mat32.New(0, 2), mat32.New(1, 3), mat32.FromSlice(1, 2, []float32{0.5, 1.5}), mat32.FromSlice(1, 2, []float32{float32(math.NaN()), 0})} {
		if m.CheckData(x) == nil {
			t.Errorf("CheckData accepted %v", x.Data)
		}
	}
}

// tinyVAE returns a trained VAE with a one-value code on 16-value data,
// and the data.
func tinyVAE(t *testing.T) (*Model, *mat32.Dense) {
	t.Helper()
	x := twoBlobs(200, 4)
	m, err := New(Spec{Kind: VAE, Input: nn.Flat(16), Layers: []int{8}, Code: 1}, 2)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := m.NewTrainer(nn.Config{Epochs: 30, BatchSize: 20, LearningRate: 0.01, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Fit(context.Background(), tr, x, nil, nn.Hooks{}); err != nil {
		t.Fatal(err)
	}
	return m, x
}

// exactLogLikelihood integrates p(x|z) N(z; 0, 1) over a one-value code
// by the midpoint rule on [-10, 10] with 40,000 points, in float64.
func exactLogLikelihood(m *Model, x []float32) float64 {
	const n, lo, hi = 40000, -10.0, 10.0
	h := (hi - lo) / n
	z := mat32.New(n, 1)
	for i := range n {
		z.Data[i] = float32(lo + (float64(i)+0.5)*h)
	}
	logits := m.decoder().Outputs(z)
	lw := make([]float64, n)
	mx := math.Inf(-1)
	for i := range n {
		zi := float64(z.Data[i])
		s := -0.5*zi*zi - 0.5*math.Log(2*math.Pi) + math.Log(h)
		for j, o := range logits.Row(i) {
			o := float64(o)
			s += float64(x[j])*o - (max(o, 0) + math.Log1p(math.Exp(-math.Abs(o))))
		}
		lw[i] = s
		mx = max(mx, s)
	}
	var sum float64
	for _, v := range lw {
		sum += math.Exp(v - mx)
	}
	return mx + math.Log(sum)
}

// TestLogLikelihoodAgainstQuadrature checks the importance-sampled
// log-likelihood of a VAE with a one-value code against numerical
// integration over the code: the estimate lies below the truth by less
// than the ELBO does, within 0.05 nats with 2,000 samples.
func TestLogLikelihoodAgainstQuadrature(t *testing.T) {
	m, x := tinyVAE(t)
	x = x.Slice(0, 6)
	var exact float64
	for i := range x.Rows {
		exact += exactLogLikelihood(m, x.Row(i))
	}
	exact /= float64(x.Rows)
	ll, err := m.LogLikelihood(context.Background(), x, 2000, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	elbo, err := m.ELBO(x, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !(ll <= exact+0.02) || !(ll >= exact-0.05) || !(elbo < ll) {
		t.Errorf("log p(x): quadrature %.4f, importance sampling %.4f, ELBO %.4f", exact, ll, elbo)
	}
	// One sample per row is an unbiased estimate of the ELBO.
	ll1, _ := m.LogLikelihood(context.Background(), x, 1, 5, nil)
	var avg float64
	for s := range uint64(200) {
		e, _ := m.ELBO(x, s)
		avg += e / 200
	}
	if math.Abs(ll1-avg) > 0.5 {
		t.Errorf("importance sampling with one code %.3f, mean ELBO %.3f", ll1, avg)
	}
}

// TestLogLikelihoodChunking checks that the estimate does not depend on
// how the codes are split into decoder batches: rows whose codes straddle
// a batch boundary give the same figure as a direct computation.
func TestLogLikelihoodChunking(t *testing.T) {
	m, x := tinyVAE(t)
	x = x.Slice(0, 5)
	const k = 1500 // 5 x 1500 codes: batches of 4096 split rows 2 and 3
	got, err := m.LogLikelihood(context.Background(), x, k, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Direct: the same stream, all codes at once, in float64.
	enc := m.Net.Features(x, m.Code-1)
	eps := mat32.New(x.Rows*k, 1)
	rng := mat32.NewRNG(3, 0x1ae)
	rng.Normal(eps.Data[:iwaeRows])
	rng.Normal(eps.Data[iwaeRows:])
	z := mat32.New(x.Rows*k, 1)
	for r := range z.Rows {
		e := enc.Row(r / k)
		z.Data[r] = float32(float64(e[0]) + math.Exp(float64(e[1])/2)*float64(eps.Data[r]))
	}
	logits := m.decoder().Outputs(z)
	var want float64
	for i := range x.Rows {
		mx, lws := math.Inf(-1), make([]float64, k)
		for s := range k {
			r := i*k + s
			e, ep, zr := enc.Row(i), float64(eps.Data[r]), float64(z.Data[r])
			lw := 0.5*(ep*ep-zr*zr) + 0.5*float64(e[1])
			for j, o := range logits.Row(r) {
				o := float64(o)
				lw += float64(x.At(i, j))*o - (max(o, 0) + math.Log1p(math.Exp(-math.Abs(o))))
			}
			lws[s], mx = lw, max(mx, lw)
		}
		var sum float64
		for _, v := range lws {
			sum += math.Exp(v - mx)
		}
		want += (mx + math.Log(sum/k)) / float64(x.Rows)
	}
	if math.Abs(got-want) > 1e-3 {
		t.Errorf("chunked estimate %.6f, direct %.6f", got, want)
	}
}

func TestNotVAE(t *testing.T) {
	m, _ := New(Spec{Kind: AE, Input: nn.Flat(4), Code: 2}, 1)
	if _, err := m.ELBO(mat32.New(1, 4), 1); !errors.Is(err, ErrNotVAE) {
		t.Errorf("ELBO of an AE: %v", err)
	}
	if _, err := m.Sample(2, 1); !errors.Is(err, ErrNotVAE) {
		t.Errorf("Sample of an AE: %v", err)
	}
	if _, err := m.LogLikelihood(context.Background(), mat32.New(1, 4), 5, 1, nil); !errors.Is(err, ErrNotVAE) {
		t.Errorf("LogLikelihood of an AE: %v", err)
	}
}

func TestSampleAndGrid(t *testing.T) {
	m, err := New(Spec{Kind: VAE, Input: nn.Flat(16), Layers: []int{8}, Code: 2}, 1)
	if err != nil {
		t.Fatal(err)
	}
	s, err := m.Sample(7, 1)
	if err != nil || s.Rows != 7 || s.Cols != 16 {
		t.Fatalf("Sample: %v, %v", s, err)
	}
	for _, v := range s.Data {
		if !(v >= 0 && v <= 1) {
			t.Fatalf("sample value %v outside [0, 1]", v)
		}
	}
	g, err := m.Grid(5)
	if err != nil || g.Rows != 25 {
		t.Fatalf("Grid: %v, %v", g, err)
	}
}
