package nn

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/harmonium-ml/harmonium/mat32"
)

func TestGradNoise(t *testing.T) {
	for _, kind := range []string{NoiseMask, NoiseGauss, NoiseSaltPepper} {
		l := Noise(kind, 0.3)
		x := randMat(rand.New(rand.NewPCG(5, 6)), 4, 10, 0, 1)
		fix := func() { l.Seed(3, 1) } // the same corruption at every Forward
		expectNone(t, "noise "+kind, checkLayer(l, x, fix))
	}
}

// TestNoiseCorrupts checks what each corruption does to the values and
// that about the given fraction is corrupted.
func TestNoiseCorrupts(t *testing.T) {
	const rows, cols, level = 50, 200, 0.3
	x := mat32.New(rows, cols)
	for i := range x.Data {
		x.Data[i] = 0.5
	}
	for _, kind := range []string{NoiseMask, NoiseSaltPepper, NoiseGauss} {
		l := Noise(kind, level)
		l.Seed(9, 0)
		y := l.Forward(x, true)
		zeros, ones, kept := 0, 0, 0
		var sum, sq float64
		for _, v := range y.Data {
			switch v {
			case 0:
				zeros++
			case 1:
				ones++
			case 0.5:
				kept++
			}
			d := float64(v) - 0.5
			sum += d
			sq += d * d
		}
		n := float64(len(y.Data))
		switch kind {
		case NoiseMask:
			if f := float64(zeros) / n; ones != 0 || zeros+kept != len(y.Data) || math.Abs(f-level) > 0.02 {
				t.Errorf("mask: %d zeros (fraction %.3f, want %.1f), %d ones, %d kept", zeros, f, level, ones, kept)
			}
		case NoiseSaltPepper:
			if zeros+ones+kept != len(y.Data) || math.Abs(float64(zeros)/n-level/2) > 0.02 || math.Abs(float64(ones)/n-level/2) > 0.02 {
				t.Errorf("salt and pepper: %d zeros, %d ones, %d kept of %v (want %.2f each corrupted)", zeros, ones, kept, n, level/2)
			}
		case NoiseGauss:
			if m, sd := sum/n, math.Sqrt(sq/n); math.Abs(m) > 0.01 || math.Abs(sd-level) > 0.01 {
				t.Errorf("gauss: noise mean %.4f, sd %.4f, want 0 and %v", m, sd, level)
			}
		}
		if l.Forward(x, false) != x {
			t.Errorf("%s noise in evaluation mode changed its input", kind)
		}
	}
}

func TestParseNoise(t *testing.T) {
	for _, s := range []string{"mask:0.3", "gauss:0.1", "saltpepper:0.1", "mask:0", "gauss:2"} {
		if _, _, err := ParseNoise(s); err != nil {
			t.Errorf("ParseNoise(%q): %v", s, err)
		}
	}
	for _, s := range []string{"", "mask", "mask:", "mask:x", "mask:1.5", "gauss:-1", "gauss:Inf", "pink:0.1", "mask:NaN"} {
		if _, _, err := ParseNoise(s); err == nil || !strings.Contains(err.Error(), "noise") {
			t.Errorf("ParseNoise(%q) = %v, want an error naming the noise", s, err)
		}
	}
}

func TestGradGaussianSample(t *testing.T) {
	for _, mean := range []bool{false, true} {
		l := GaussianSample(3)
		l.Mean = mean
		x := randMat(rand.New(rand.NewPCG(7, 8)), 4, 6, -1.5, 1.5)
		expectNone(t, "gaussian sample", checkLayer(l, x, func() { l.Seed(5, 2) }))
	}
}

// TestGaussianSampleKL checks the KL term against its definition and the
// samples' mean and spread against mu and exp(lv/2).
func TestGaussianSampleKL(t *testing.T) {
	const rows = 20000
	x := mat32.New(rows, 4)
	mu, lv := []float64{0.5, -1}, []float64{-1, 0.4}
	for i := range rows {
		r := x.Row(i)
		r[0], r[1], r[2], r[3] = float32(mu[0]), float32(mu[1]), float32(lv[0]), float32(lv[1])
	}
	l := GaussianSample(2)
	l.Seed(1, 1)
	y := l.Forward(x, true)
	want := 0.0
	for j := range 2 {
		want += -0.5 * (1 + lv[j] - mu[j]*mu[j] - math.Exp(lv[j]))
	}
	if got := l.AuxLoss(); math.Abs(got-want) > 1e-5 {
		t.Errorf("KL %v, want %v", got, want)
	}
	for j := range 2 {
		var s, sq float64
		for i := range rows {
			v := float64(y.At(i, j))
			s += v
			sq += v * v
		}
		m := s / rows
		sd := math.Sqrt(sq/rows - m*m)
		if math.Abs(m-mu[j]) > 0.03 || math.Abs(sd-math.Exp(lv[j]/2)) > 0.03 {
			t.Errorf("unit %d: samples mean %.3f sd %.3f, want %.3f and %.3f", j, m, sd, mu[j], math.Exp(lv[j]/2))
		}
	}
	l.Mean = true
	if y := l.Forward(x, false); y.At(0, 0) != 0.5 || y.At(rows-1, 1) != -1 {
		t.Errorf("with Mean the output is %v, %v, want the means", y.At(0, 0), y.At(rows-1, 1))
	}
}

func TestGradUpsample2D(t *testing.T) {
	for _, c := range []struct {
		in     Shape
		factor int
	}{{Shape{2, 3, 4}, 2}, {Shape{1, 2, 3}, 3}, {Shape{3, 2, 2}, 1}} {
		l := Upsample2D(c.in, c.factor)
		x := randMat(rand.New(rand.NewPCG(2, 3)), 2, c.in.Size(), -1, 1)
		expectNone(t, "upsample", checkLayer(l, x, nil))
	}
	l := Upsample2D(Shape{1, 2, 2}, 2)
	y := l.Forward(mat32.FromSlice(1, 4, []float32{1, 2, 3, 4}), false)
	want := []float32{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}
	for i, v := range want {
		if y.Data[i] != v {
			t.Fatalf("upsample of [[1 2] [3 4]] by 2 = %v, want %v", y.Data, want)
		}
	}
}

// TestGradTiedDense checks the gradients of a tied autoencoder, where the
// shared weights get the sum of the encoder's and the decoder's parts.
func TestGradTiedDense(t *testing.T) {
	enc := Dense(5, 3, Given)
	net := New(enc, Sigmoid(), TiedDense(enc), Sigmoid())
	for i, l := range net.Layers() {
		randomize(l, uint64(i+1))
	}
	x := randMat(rand.New(rand.NewPCG(4, 5)), 3, 5, 0, 1)
	tg := Targets{Values: x}
	grad := mat32.New(3, 5)
	loss := func() float64 { return SquaredError{}.Loss(net.Forward(x, true), tg, nil) }
	SquaredError{}.Loss(net.Forward(x, true), tg, grad)
	net.Backward(grad)
	if len(net.Params()) != 3 {
		t.Fatalf("tied autoencoder has %d parameter tensors, want 3 (weights, two biases)", len(net.Params()))
	}
	for _, p := range net.Params() {
		want := append([]float32(nil), p.Grad.Data...)
		expectNone(t, "tied "+p.Name, compare(p.Name, loss, p.Value.Data, want))
	}
	// Twice: the tied gradient must not accumulate over steps.
	SquaredError{}.Loss(net.Forward(x, true), tg, grad)
	net.Backward(grad)
	want := append([]float32(nil), enc.gW.Data...)
	SquaredError{}.Loss(net.Forward(x, true), tg, grad)
	net.Backward(grad)
	for i, v := range enc.gW.Data {
		if v != want[i] {
			t.Fatalf("weight gradient changed between identical steps: %v then %v", want[i], v)
		}
	}
}

// TestAutoencoderArchRoundTrip builds the new layer kinds from an Arch,
// describes the network again and gets the same Arch.
func TestAutoencoderArchRoundTrip(t *testing.T) {
	tie := 1
	a := Arch{Input: Shape{1, 4, 4}, Layers: []LayerSpec{
		{Kind: KindNoise, Noise: NoiseMask, Rate: 0.25},
		{Kind: KindDense, Units: 6, Init: "xavier"},
		{Kind: KindDense, Units: 4, Init: "xavier"},
		{Kind: KindGaussianSample, Units: 2},
		{Kind: KindDense, Units: 6, Init: "xavier"},
		{Kind: KindDenseTied, Units: 16, Tie: &tie},
	}}
	net, err := Build(a)
	if err != nil {
		t.Fatal(err)
	}
	b, err := net.Arch()
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Layers) != len(a.Layers) || b.Layers[5].Tie == nil || *b.Layers[5].Tie != 1 || b.Layers[0].Noise != NoiseMask {
		t.Fatalf("round trip gave %+v", b)
	}
	conv := Arch{Input: Shape{1, 4, 4}, Layers: []LayerSpec{{Kind: KindMaxPool2D, Window: 2, Stride: 2}, {Kind: KindUpsample2D, Window: 2}}}
	if n, err := Build(conv); err != nil || n.OutputShape() != (Shape{1, 4, 4}) {
		t.Fatalf("pool then upsample: %v, %v", n, err)
	}
	for _, bad := range []Arch{
		{Input: Flat(4), Layers: []LayerSpec{{Kind: KindDense, Units: 3}, {Kind: KindDenseTied, Units: 5, Tie: &tie}}},
		{Input: Flat(4), Layers: []LayerSpec{{Kind: KindDense, Units: 3}, {Kind: KindDenseTied, Units: 4}}},
		{Input: Flat(4), Layers: []LayerSpec{{Kind: KindSigmoid}, {Kind: KindDenseTied, Units: 4, Tie: new(int)}}},
		{Input: Flat(4), Layers: []LayerSpec{{Kind: KindDense, Units: 3, Tie: new(int)}}},
		{Input: Flat(5), Layers: []LayerSpec{{Kind: KindGaussianSample, Units: 2}}},
		{Input: Flat(4), Layers: []LayerSpec{{Kind: KindNoise, Noise: "pink", Rate: 0.1}}},
		{Input: Shape{1, 2, 2}, Layers: []LayerSpec{{Kind: KindUpsample2D, Window: 0}}},
		{Input: Shape{1, 2, 2}, Layers: []LayerSpec{{Kind: KindUpsample2D, Window: MaxDim}}},
	} {
		if _, err := Build(bad); err == nil {
			t.Errorf("Build(%+v) accepted an invalid architecture", bad)
		}
	}
}

// TestVAETrains trains a small VAE and checks that its loss (the negative
// ELBO, with the KL term) falls well below that of the untrained network.
func TestVAETrains(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	x := mat32.New(400, 16)
	for i := range x.Rows { // two prototypes, noisy copies
		p := i % 2
		for j := range 16 {
			v := float32(0.1)
			if (j%2 == 0) == (p == 0) {
				v = 0.9
			}
			x.Set(i, j, v+float32(r.Float64()*0.05))
		}
	}
	a := Arch{Input: Flat(16), Layers: []LayerSpec{
		{Kind: KindDense, Units: 8, Init: "he"}, {Kind: KindReLU},
		{Kind: KindDense, Units: 4, Init: "xavier"}, {Kind: KindGaussianSample, Units: 2},
		{Kind: KindDense, Units: 8, Init: "he"}, {Kind: KindReLU},
		{Kind: KindDense, Units: 16, Init: "xavier"},
	}}
	net, err := Build(a)
	if err != nil {
		t.Fatal(err)
	}
	net.Init(3)
	d := Data{X: x, Targets: Targets{Values: x}}
	before, _, err := net.Evaluate(d, BinaryCrossEntropy{})
	if err != nil {
		t.Fatal(err)
	}
	stats, err := net.Fit(context.Background(), d, Data{}, Config{Epochs: 30, BatchSize: 20, LearningRate: 0.01, Loss: BinaryCrossEntropy{}, Seed: 2}, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	after, _, _ := net.Evaluate(d, BinaryCrossEntropy{})
	kl := net.Layers()[3].(AuxLosser).AuxLoss()
	// The entropy of the targets bounds the reconstruction term below: the
	// trained loss must approach it, the KL term must be positive.
	if !(after < before-2) || !(kl > 0) || math.Abs(stats[len(stats)-1].Loss-after) > 1 {
		t.Errorf("VAE loss %.3f before, %.3f after training (last epoch %.3f), KL %.4f", before, after, stats[len(stats)-1].Loss, kl)
	}
}
