package dbn

import (
	"cmp"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/harmonium-ml/harmonium/mat32"
	"github.com/harmonium-ml/harmonium/rbm"
)

// randomRBM returns a Bernoulli RBM with weights and biases drawn from
// N(0, scale^2).
func randomRBM(nv, nh int, scale float64, seed uint64) *rbm.RBM {
	r := rand.New(rand.NewPCG(seed, 1))
	m := rbm.New(nv, nh)
	for _, s := range [][]float32{m.W.Data, m.VisBias, m.HidBias} {
		for i := range s {
			s[i] = float32(scale * r.NormFloat64())
		}
	}
	return m
}

// bars returns n noisy 5x5 images of three classes (a horizontal bar, a
// vertical bar, a diagonal) with their labels; each pixel flips with
// probability 0.05.
func bars(n int, seed uint64) (*mat32.Dense, []int) {
	r := rand.New(rand.NewPCG(seed, 2))
	x := mat32.New(n, 25)
	labels := make([]int, n)
	for i := range n {
		y, k := r.IntN(3), r.IntN(5)
		labels[i] = y
		row := x.Row(i)
		for j := range 5 {
			switch y {
			case 0:
				row[k*5+j] = 1
			case 1:
				row[j*5+k] = 1
			case 2:
				if k%2 == 0 {
					row[j*5+j] = 1
				} else {
					row[j*5+4-j] = 1
				}
			}
		}
		for p := range row {
			if r.Float64() < 0.05 {
				row[p] = 1 - row[p]
			}
		}
	}
	return x, labels
}

func TestSizesChain(t *testing.T) {
	ok := [][]*rbm.RBM{
		{rbm.New(6, 4)},
		{rbm.New(6, 4), rbm.New(4, 3)},
		{rbm.New(6, 4), rbm.New(4, 5), rbm.New(5, 2)},
	}
	for _, layers := range ok {
		if _, err := New(layers, 0); err != nil {
			t.Errorf("%d layers: %v", len(layers), err)
		}
	}
	if d, err := New([]*rbm.RBM{rbm.New(6, 4), rbm.New(4+3, 5)}, 3); err != nil {
		t.Errorf("labels: %v", err)
	} else if got := d.Sizes(); len(got) != 3 || got[0] != 6 || got[1] != 4 || got[2] != 5 {
		t.Errorf("sizes %v, want [6 4 5]", got)
	}
	if d, err := New([]*rbm.RBM{rbm.New(6+2, 4)}, 2); err != nil || d.Visible() != 6 {
		t.Errorf("one labelled layer: %v, visible %d", err, d.Visible())
	}
	bad := []struct {
		layers []*rbm.RBM
		labels int
	}{
		{nil, 0},
		{[]*rbm.RBM{rbm.New(6, 4), rbm.New(5, 3)}, 0},
		{[]*rbm.RBM{rbm.New(6, 4), rbm.New(4, 3), rbm.New(4, 2)}, 0},
		{[]*rbm.RBM{rbm.New(6, 4), rbm.New(4, 3)}, 2},   // no room for the labels
		{[]*rbm.RBM{rbm.New(6, 4), rbm.New(4+2, 3)}, 3}, // wrong label count
		{[]*rbm.RBM{rbm.New(6, 4), rbm.New(4, 3)}, 1},
	}
	for i, c := range bad {
		if _, err := New(c.layers, c.labels); !errors.Is(err, ErrShape) {
			t.Errorf("case %d: got %v, want ErrShape", i, err)
		}
	}
	g := rbm.New(4, 3)
	g.VisUnits = rbm.Gaussian
	if _, err := New([]*rbm.RBM{rbm.New(6, 4), g}, 0); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Gaussian second layer: got %v, want ErrUnsupported", err)
	}
}

func TestTransformDown(t *testing.T) {
	d, _ := New([]*rbm.RBM{randomRBM(6, 4, 1, 1), randomRBM(4, 3, 1, 2)}, 0)
	v := mat32.New(2, 6)
	v.Data[0], v.Data[7] = 1, 1
	h, err := d.Transform(v, 2)
	if err != nil || h.Rows != 2 || h.Cols != 3 {
		t.Fatalf("transform: %v %v", h, err)
	}
	want := d.Layers[1].Transform(d.Layers[0].Transform(v))
	for i := range want.Data {
		if h.Data[i] != want.Data[i] {
			t.Fatalf("transform differs from the layers' at %d", i)
		}
	}
	back, err := d.Down(h, 2, nil)
	if err != nil || back.Cols != 6 {
		t.Fatalf("down: %v", err)
	}
	p1 := mat32.New(2, 4)
	d.Layers[1].VisibleProbs(p1, h)
	p0 := mat32.New(2, 6)
	d.Layers[0].VisibleProbs(p0, p1)
	for i := range p0.Data {
		if back.Data[i] != p0.Data[i] {
			t.Fatalf("down differs from the layers' at %d", i)
		}
	}
	if _, err := d.Transform(v, 3); !errors.Is(err, ErrShape) {
		t.Errorf("level 3: %v", err)
	}
	if _, err := d.Down(v, 1, nil); !errors.Is(err, ErrShape) {
		t.Errorf("down with the wrong width: %v", err)
	}
}

// bruteFreeEnergy returns -log sum_h exp(-E(v, h)) by enumerating h, in
// float64.
func bruteFreeEnergy(m *rbm.RBM, v []float64) float64 {
	nv, nh := m.Visible(), m.Hidden()
	var terms []float64
	for s := 0; s < 1<<nh; s++ {
		e := 0.0
		for i := range nv {
			e -= float64(m.VisBias[i]) * v[i]
		}
		for j := range nh {
			if s>>j&1 == 0 {
				continue
			}
			e -= float64(m.HidBias[j])
			for i := range nv {
				e -= v[i] * float64(m.W.At(i, j))
			}
		}
		terms = append(terms, -e)
	}
	mx := math.Inf(-1)
	for _, x := range terms {
		mx = max(mx, x)
	}
	sum := 0.0
	for _, x := range terms {
		sum += math.Exp(x - mx)
	}
	return -(mx + math.Log(sum))
}

func TestClassifyMatchesEnumeration(t *testing.T) {
	const c = 4
	d, err := New([]*rbm.RBM{randomRBM(7, 5, 1, 3), randomRBM(5+c, 6, 1.5, 4)}, c)
	if err != nil {
		t.Fatal(err)
	}
	v := mat32.New(30, 7)
	r := rand.New(rand.NewPCG(5, 5))
	for i := range v.Data {
		v.Data[i] = float32(r.IntN(2))
	}
	fe, err := d.FreeEnergies(v)
	if err != nil {
		t.Fatal(err)
	}
	pred, _ := d.Classify(v)
	pen := d.Layers[0].Transform(v)
	top := d.Layers[1]
	for row := range v.Rows {
		best, bestF := 0, math.Inf(1)
		for y := range c {
			joint := make([]float64, 5+c)
			for i, x := range pen.Row(row) {
				joint[i] = float64(x)
			}
			joint[5+y] = 1
			want := bruteFreeEnergy(top, joint)
			if math.Abs(fe[row][y]-want) > 1e-4*(1+math.Abs(want)) {
				t.Fatalf("row %d label %d: free energy %.7g, enumeration %.7g", row, y, fe[row][y], want)
			}
			if want < bestF {
				best, bestF = y, want
			}
		}
		if pred[row] != best {
			t.Errorf("row %d: classified %d, enumeration's lowest free energy is label %d", row, pred[row], best)
		}
	}
	plain, _ := New([]*rbm.RBM{randomRBM(7, 5, 1, 3)}, 0)
	if _, err := plain.Classify(v); !errors.Is(err, ErrNoLabels) {
		t.Errorf("classify without labels: %v", err)
	}
}

func TestLabelGroupSamplesSoftmax(t *testing.T) {
	const c, n = 4, 20000
	d, _ := New([]*rbm.RBM{randomRBM(3+c, 5, 1, 6)}, c)
	tp := d.top()
	h := mat32.New(n, 5)
	for r := range n {
		copy(h.Row(r), []float32{1, 0, 1, 1, 0})
	}
	vp, vs := mat32.New(n, 3+c), mat32.New(n, 3+c)
	tp.means(h, vp)
	tp.sample(vs, vp, mat32.NewRNG(7, 0), false)
	p := vp.Row(0)[3:]
	sum := 0.0
	for _, x := range p {
		sum += float64(x)
	}
	if math.Abs(sum-1) > 1e-6 {
		t.Fatalf("label probabilities sum to %g", sum)
	}
	counts := make([]float64, c)
	for r := range n {
		on := 0
		for k, x := range vs.Row(r)[3:] {
			if x == 1 {
				counts[k]++
				on++
			}
		}
		if on != 1 {
			t.Fatalf("sample %d has %d label units on, want exactly 1", r, on)
		}
	}
	for k := range c {
		f, q := counts[k]/n, float64(p[k])
		if se := math.Sqrt(q * (1 - q) / n); math.Abs(f-q) > 4*se+1e-9 {
			t.Errorf("label %d: frequency %.4f, softmax probability %.4f", k, f, q)
		}
	}
	// Clamped labels stay as they are.
	clamped := mat32.New(1, 3+c)
	clamped.Row(0)[3+2] = 1
	tp.sample(clamped, vp.Slice(0, 1), mat32.NewRNG(8, 0), true)
	if clamped.Row(0)[3+2] != 1 || clamped.Row(0)[3] != 0 {
		t.Errorf("clamped label changed: %v", clamped.Row(0))
	}
}

func smallConfig(hidden []int, labels int, epochs int) Config {
	cfg := DefaultConfig(Shape{Visible: 25, Hidden: hidden, Labels: labels}, 300, 11)
	for i := range cfg.Layers {
		// CD-1 at 0.1 everywhere: the label layer's PCD recipe needs the
		// updates of a large data set.
		t := &cfg.Layers[i].Train
		t.Epochs, t.BatchSize, t.Persistent, t.LearningRate = epochs, 20, false, 0.1
	}
	return cfg
}

func TestGreedyEqualsByHand(t *testing.T) {
	x, _ := bars(300, 1)
	cfg := smallConfig([]int{16, 16, 9}, 0, 4)
	cfg.Layers[1].Train.Persistent = true
	d, err := Train(context.Background(), x, nil, cfg, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	in := x
	for i, l := range cfg.Layers {
		m := rbm.NewInitUnits(in.Cols, l.Hidden, rbm.Bernoulli, rbm.Bernoulli, false, in, l.Train.Seed)
		if _, err := m.Fit(context.Background(), in, l.Train, rbm.Hooks{}); err != nil {
			t.Fatal(err)
		}
		got := d.Layers[i]
		for k := range m.W.Data {
			if m.W.Data[k] != got.W.Data[k] {
				t.Fatalf("layer %d weight %d: DBN %v, by hand %v", i, k, got.W.Data[k], m.W.Data[k])
			}
		}
		for k := range m.HidBias {
			if m.HidBias[k] != got.HidBias[k] {
				t.Fatalf("layer %d hidden bias %d differs", i, k)
			}
		}
		in = m.Transform(in)
	}
}

func TestLearnsBarsWithLabels(t *testing.T) {
	if testing.Short() {
		t.Skip("trains for a few seconds")
	}
	x, y := bars(1500, 2)
	tx, ty := bars(600, 3)
	// Over 16 training seeds these models classify 92-97% of held-out bars
	// (chance: 1 in 3): the median of three seeds is checked, and its
	// model dreams.
	type trained struct {
		d   *DBN
		acc float64
	}
	var runs []trained
	for _, seed := range []uint64{0, 100, 200} {
		cfg := smallConfig([]int{30, 40}, 3, 40)
		for i := range cfg.Layers {
			cfg.Layers[i].Train.Seed += seed
		}
		d, err := Train(context.Background(), x, y, cfg, Hooks{})
		if err != nil {
			t.Fatal(err)
		}
		pred, err := d.Classify(tx)
		if err != nil {
			t.Fatal(err)
		}
		right := 0
		for i := range pred {
			if pred[i] == ty[i] {
				right++
			}
		}
		runs = append(runs, trained{d, float64(right) / float64(len(pred))})
	}
	slices.SortFunc(runs, func(a, b trained) int { return cmp.Compare(a.acc, b.acc) })
	d := runs[1].d
	if acc := runs[1].acc; acc < 0.93 {
		t.Errorf("generative accuracy on held-out bars: median %.3f of %.3f, %.3f, %.3f, want >= 0.93", acc, runs[0].acc, runs[1].acc, runs[2].acc)
	}
	// Dreams of each class look like that class to the classifier.
	for label := range 3 {
		v, err := d.Dream(context.Background(), label, 50, 200, 4, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := d.Classify(v)
		same := 0
		for _, g := range got {
			if g == label {
				same++
			}
		}
		if same < 25 { // chance is 1 in 3
			t.Errorf("label %d: %d of 50 dreams classified as it", label, same)
		}
	}
}

func TestDreamDeterministic(t *testing.T) {
	d, _ := New([]*rbm.RBM{randomRBM(6, 4, 1, 1), randomRBM(4+3, 5, 1, 2)}, 3)
	a, err := d.Dream(context.Background(), 1, 5, 10, 9, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := d.Dream(context.Background(), 1, 5, 10, 9, nil)
	for i := range a.Data {
		if a.Data[i] != b.Data[i] {
			t.Fatal("same seed, different dreams")
		}
	}
	if a.Rows != 5 || a.Cols != 6 {
		t.Fatalf("dreams are %dx%d, want 5x6", a.Rows, a.Cols)
	}
	if _, err := d.Dream(context.Background(), 3, 5, 10, 9, nil); !errors.Is(err, ErrLabel) {
		t.Errorf("label 3 of 3: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.Dream(ctx, -1, 5, 10, 9, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestConfigChecks(t *testing.T) {
	x, y := bars(50, 1)
	cfg := smallConfig([]int{8, 6}, 3, 1)
	if _, err := Train(context.Background(), x, nil, cfg, Hooks{}); !errors.Is(err, ErrLabel) {
		t.Errorf("no labels: %v", err)
	}
	if _, err := Train(context.Background(), x, y[:10], cfg, Hooks{}); !errors.Is(err, ErrLabel) {
		t.Errorf("10 labels for 50 samples: %v", err)
	}
	y[3] = 7
	if _, err := Train(context.Background(), x, y, cfg, Hooks{}); !errors.Is(err, ErrLabel) {
		t.Errorf("label 7 of 3: %v", err)
	}
	cfg.Layers[1].Train.Centered = true
	if _, err := NewTrainer(cfg); !errors.Is(err, ErrUnsupported) {
		t.Errorf("centred label layer: %v", err)
	}
	cfg = smallConfig([]int{8, 6}, 0, 1)
	cfg.Layers[0].HidUnits = rbm.Gaussian
	if _, err := NewTrainer(cfg); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Gaussian hidden units below the top: %v", err)
	}
}

func TestClassifierMatchesTransform(t *testing.T) {
	g := randomRBM(5, 4, 0.5, 1)
	g.VisUnits = rbm.Gaussian
	g.LogVar = []float32{0, 0.5, -0.5, 1, 0.2}
	g.Scaler = &rbm.Scaler{Mean: []float32{1, 2, 3, 4, 5}, Std: []float32{1, 2, 0.5, 1, 3}}
	d, err := New([]*rbm.RBM{g, randomRBM(4+2, 3, 0.5, 2)}, 2)
	if err != nil {
		t.Fatal(err)
	}
	net, err := d.Classifier(2, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	raw := mat32.New(3, 5)
	mat32.NewRNG(3, 3).Normal(raw.Data)
	std := raw.Clone()
	g.Scaler.Apply(std)
	want, _ := d.Transform(std, 2)
	got := net.Features(raw, len(net.Layers())-2)
	if got.Cols != 3 {
		t.Fatalf("features of width %d, want 3", got.Cols)
	}
	for i := range want.Data {
		if math.Abs(float64(got.Data[i]-want.Data[i])) > 1e-5 {
			t.Fatalf("unrolled network's top layer %v, DBN's up pass %v", got.Data, want.Data)
		}
	}
}

// TestAutoencoderMatchesUpDown checks that the unrolled deep autoencoder
// computes the DBN's up pass to the code and its mean-field down pass back
// (the sigmoid of its output logits), with a Gaussian code layer.
func TestAutoencoderMatchesUpDown(t *testing.T) {
	top := randomRBM(4, 3, 0.5, 2)
	top.HidUnits = rbm.Gaussian
	d, err := New([]*rbm.RBM{randomRBM(5, 4, 0.5, 1), top}, 0)
	if err != nil {
		t.Fatal(err)
	}
	net, code, err := d.Autoencoder()
	if err != nil {
		t.Fatal(err)
	}
	x := mat32.New(3, 5)
	mat32.NewRNG(4, 4).Uniform(x.Data)
	wantCode, _ := d.Transform(x, 2)
	wantRec, _ := d.Down(wantCode, 2, nil)
	gotCode := net.Features(x, code)
	out := net.Outputs(x)
	if gotCode.Cols != 3 || out.Cols != 5 {
		t.Fatalf("code of %d values, output of %d", gotCode.Cols, out.Cols)
	}
	for i := range wantCode.Data {
		if math.Abs(float64(gotCode.Data[i]-wantCode.Data[i])) > 1e-5 {
			t.Fatalf("code %v, DBN's up pass %v", gotCode.Data, wantCode.Data)
		}
	}
	for i, z := range out.Data {
		if p := 1 / (1 + math.Exp(-float64(z))); math.Abs(p-float64(wantRec.Data[i])) > 1e-5 {
			t.Fatalf("reconstruction %v, DBN's down pass %v", p, wantRec.Data[i])
		}
	}
	g := randomRBM(5, 4, 0.5, 1)
	g.VisUnits = rbm.Gaussian
	gd, _ := New([]*rbm.RBM{g}, 0)
	if _, _, err := gd.Autoencoder(); err == nil {
		t.Error("unrolled a DBN with Gaussian visible units into a Bernoulli autoencoder")
	}
}
