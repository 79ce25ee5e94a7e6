package nn

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/harmonium-ml/harmonium/mat32"
)

func xorData() Data {
	return Data{X: mat32.FromSlice(4, 2, []float32{0, 0, 0, 1, 1, 0, 1, 1}), Targets: Targets{Labels: []int{0, 1, 1, 0}}}
}

func TestMLPLearnsXOR(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		net, err := MLP(2, []int{16}, 2, 0, seed)
		if err != nil {
			t.Fatal(err)
		}
		d := xorData()
		cfg := Config{Epochs: 300, BatchSize: 4, LearningRate: 0.05, Seed: seed}
		stats, err := net.Fit(context.Background(), d, Data{}, cfg, Hooks{})
		if err != nil {
			t.Fatal(err)
		}
		if got := net.Predict(d.X); !slices.Equal(got, d.Labels) {
			t.Errorf("seed %d: XOR predictions %v after %d epochs (loss %.4f), want %v", seed, got, len(stats), stats[len(stats)-1].Loss, d.Labels)
		}
		if last := stats[len(stats)-1]; last.Accuracy != 1 || !(last.Loss < stats[0].Loss) {
			t.Errorf("seed %d: last epoch accuracy %v, loss %v (first %v)", seed, last.Accuracy, last.Loss, stats[0].Loss)
		}
	}
}

// bars returns n 1x8x8 images, each a horizontal (class 0) or vertical
// (class 1) bar at a random place on uniform noise.
func bars(n int, seed uint64) Data {
	r := rand.New(rand.NewPCG(seed, 3))
	d := Data{X: mat32.New(n, 64), Targets: Targets{Labels: make([]int, n)}}
	for i := range n {
		row := d.X.Row(i)
		for j := range row {
			row[j] = float32(0.4 * r.Float64())
		}
		c, at := r.IntN(2), r.IntN(8)
		for k := range 8 {
			if c == 0 {
				row[at*8+k] = 1
			} else {
				row[k*8+at] = 1
			}
		}
		d.Labels[i] = c
	}
	return d
}

func tinyCNN(seed uint64) *Network {
	in := Shape{1, 8, 8}
	conv := Conv2D(in, 4, 3, 1, 1, He)
	pool := MaxPool2D(Shape{4, 8, 8}, 2, 2)
	net := New(conv, ReLU(), pool, Flatten(), Dense(64, 2, Xavier))
	net.Init(seed)
	return net
}

func TestCNNLearnsBars(t *testing.T) {
	train, test := bars(300, 1), bars(200, 2)
	net := tinyCNN(1)
	cfg := Config{Epochs: 8, BatchSize: 20, LearningRate: 0.01, Seed: 1}
	if _, err := net.Fit(context.Background(), train, Data{}, cfg, Hooks{}); err != nil {
		t.Fatal(err)
	}
	_, acc, err := net.Evaluate(test, SoftmaxCrossEntropy{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := net.Evaluate(Data{X: test.X}, SoftmaxCrossEntropy{}); err == nil {
		t.Error("Evaluate without labels gave no error")
	}
	if acc < 0.97 {
		t.Errorf("tiny CNN test accuracy %.3f on bars, want >= 0.97", acc)
	}
}

// blobs returns n samples of dim values around one of k random centres.
func blobs(n, dim, k int, seed uint64) Data {
	r := rand.New(rand.NewPCG(seed, 4))
	centres := randMat(r, k, dim, -1, 1)
	d := Data{X: mat32.New(n, dim), Targets: Targets{Labels: make([]int, n)}}
	for i := range n {
		c := r.IntN(k)
		d.Labels[i] = c
		for j := range dim {
			d.X.Set(i, j, centres.At(c, j)+float32(0.5*r.NormFloat64()))
		}
	}
	return d
}

func trainedParams(t *testing.T, seed uint64) [][]float32 {
	t.Helper()
	net, err := MLP(20, []int{32, 16}, 3, 0.5, seed, InputDropout(0.2))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Epochs: 3, BatchSize: 16, LearningRate: 0.05, Optimizer: &SGD{Momentum: 0.9, Nesterov: true},
		L2: 1e-3, MaxNorm: 2, Schedule: ExpDecay{Gamma: 0.9}, Seed: seed}
	if _, err := net.Fit(context.Background(), blobs(100, 20, 3, 9), Data{}, cfg, Hooks{}); err != nil {
		t.Fatal(err)
	}
	var ps [][]float32
	for _, p := range net.Params() {
		ps = append(ps, append([]float32(nil), p.Value.Data...))
	}
	return ps
}

func TestDeterminism(t *testing.T) {
	a, b, c := trainedParams(t, 5), trainedParams(t, 5), trainedParams(t, 6)
	for i := range a {
		if !slices.Equal(a[i], b[i]) {
			t.Fatalf("parameter %d differs between two runs with the same seed", i)
		}
	}
	same := true
	for i := range a {
		same = same && slices.Equal(a[i], c[i])
	}
	if same {
		t.Error("different seeds gave the same network")
	}
}

// TestEarlyStopping trains on labels the validation data contradicts, so
// that the validation loss rises: training stops after Patience epochs
// without improvement and the network ends with the best epoch's weights.
func TestEarlyStopping(t *testing.T) {
	train := blobs(60, 10, 2, 3)
	val := Data{X: train.X, Targets: Targets{Labels: make([]int, 60)}}
	for i, y := range train.Labels {
		val.Labels[i] = 1 - y
	}
	net, _ := MLP(10, []int{16}, 2, 0, 1)
	var best [][]float32
	bestEpoch := 0
	hook := func(st EpochStats) error {
		if st.Best {
			best, bestEpoch = nil, st.Epoch
			for _, p := range net.Params() {
				best = append(best, append([]float32(nil), p.Value.Data...))
			}
		}
		return nil
	}
	cfg := Config{Epochs: 100, BatchSize: 10, LearningRate: 0.01, Patience: 3, Seed: 1}
	stats, err := net.Fit(context.Background(), train, val, cfg, Hooks{Epoch: hook})
	if err != nil {
		t.Fatal(err)
	}
	last := stats[len(stats)-1]
	if len(stats) == 100 || !last.Stop || last.Epoch != bestEpoch+3 {
		t.Fatalf("ran %d epochs (last stop %v), best epoch %d, patience 3", len(stats), last.Stop, bestEpoch)
	}
	for i, p := range net.Params() {
		if !slices.Equal(p.Value.Data, best[i]) {
			t.Fatalf("parameter %d is not the best epoch's (%d)", i, bestEpoch)
		}
	}
	if math.IsNaN(last.ValLoss) || math.IsNaN(last.ValAccuracy) {
		t.Errorf("validation figures missing: %+v", last)
	}
}

func TestCancel(t *testing.T) {
	net, _ := MLP(10, []int{8}, 2, 0, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := 0
	hooks := Hooks{Batch: func(epoch, d, total int) {
		done = d
		if d == 2 {
			cancel()
		}
	}}
	cfg := Config{Epochs: 5, BatchSize: 10, LearningRate: 0.01}
	stats, err := net.Fit(ctx, blobs(60, 10, 2, 1), Data{}, cfg, hooks)
	if !errors.Is(err, context.Canceled) || len(stats) != 0 || done != 2 {
		t.Errorf("after cancelling at batch 2: err %v, %d epochs, %d batches", err, len(stats), done)
	}
}

func TestDiverged(t *testing.T) {
	net, _ := MLP(10, []int{8}, 2, 0, 1)
	d := blobs(40, 10, 2, 1)
	for i := range d.X.Data {
		d.X.Data[i] *= 1000
	}
	cfg := Config{Epochs: 3, BatchSize: 10, LearningRate: 1e30, Optimizer: &SGD{}}
	_, err := net.Fit(context.Background(), d, Data{}, cfg, Hooks{})
	if !errors.Is(err, ErrDiverged) || !strings.Contains(err.Error(), "epoch 1") {
		t.Errorf("error %v, want ErrDiverged in epoch 1", err)
	}
}

func TestHookError(t *testing.T) {
	net, _ := MLP(10, []int{8}, 2, 0, 1)
	stop := errors.New("stop")
	cfg := Config{Epochs: 5, BatchSize: 10, LearningRate: 0.01}
	stats, err := net.Fit(context.Background(), blobs(30, 10, 2, 1), Data{}, cfg, Hooks{Epoch: func(EpochStats) error { return stop }})
	if err != stop || len(stats) != 1 {
		t.Errorf("hook error: got %v after %d epochs", err, len(stats))
	}
}

func TestBadData(t *testing.T) {
	net, _ := MLP(4, []int{3}, 3, 0, 1)
	cfg := Config{Epochs: 1, BatchSize: 2, LearningRate: 0.1}
	x := mat32.New(3, 4)
	for _, c := range []struct {
		train, val Data
		cfg        Config
		want       string
	}{
		{Data{X: x, Targets: Targets{Labels: []int{0, 1}}}, Data{}, cfg, "2 labels for 3 samples"},
		{Data{X: x, Targets: Targets{Labels: []int{0, 1, 3}}}, Data{}, cfg, "label 3 of sample 3 is outside 0..2"},
		{Data{X: mat32.New(3, 5), Targets: Targets{Labels: []int{0, 1, 2}}}, Data{}, cfg, "5 values per sample, the network takes 4"},
		{Data{X: x, Targets: Targets{Labels: []int{0, 1, 2}}}, Data{X: x, Targets: Targets{Labels: []int{0, -1, 2}}}, cfg, "validation data: label -1"},
		{Data{X: x, Targets: Targets{Labels: []int{0, 1, 2}}}, Data{}, Config{Epochs: 1, BatchSize: 2, LearningRate: 0.1, Patience: 2}, "needs validation data"},
		{Data{X: x, Targets: Targets{Labels: []int{0, 1, 2}}}, Data{}, Config{Epochs: 1, BatchSize: 0, LearningRate: 0.1}, "batch size"},
		{Data{X: x, Targets: Targets{Labels: []int{0, 1, 2}}}, Data{}, Config{Epochs: 1, BatchSize: 2, LearningRate: 0.1, Loss: SquaredError{}}, "no target values"},
	} {
		_, err := net.Fit(context.Background(), c.train, c.val, c.cfg, Hooks{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want one containing %q", err, c.want)
		}
	}
}

// TestOtherLosses trains on targets rather than labels: a sigmoid-output
// autoencoder-like map with binary cross-entropy, and a regression with
// squared error; both must lower their loss.
func TestOtherLosses(t *testing.T) {
	d := blobs(64, 6, 2, 2)
	for i, v := range d.X.Data {
		d.X.Data[i] = float32(mat32.Sigmoid(v))
	}
	for _, loss := range []Loss{BinaryCrossEntropy{}, SquaredError{}} {
		net := New(Dense(6, 4, Xavier), Tanh(), Dense(4, 6, Xavier))
		net.Init(3)
		data := Data{X: d.X, Targets: Targets{Values: d.X}}
		cfg := Config{Epochs: 40, BatchSize: 8, LearningRate: 0.01, Loss: loss, Optimizer: NewRMSprop(), Seed: 1}
		stats, err := net.Fit(context.Background(), data, data, cfg, Hooks{})
		if err != nil {
			t.Fatal(err)
		}
		// The lowest loss possible: the targets' entropy for binary
		// cross-entropy, 0 for squared error.
		floor := 0.0
		if _, ok := loss.(BinaryCrossEntropy); ok {
			for _, v := range d.X.Data {
				p := float64(v)
				floor -= (p*math.Log(p) + (1-p)*math.Log(1-p)) / float64(d.X.Rows)
			}
		}
		first, last := stats[0], stats[len(stats)-1]
		if !(last.ValLoss-floor < 0.5*(first.ValLoss-floor)) || !math.IsNaN(last.Accuracy) {
			t.Errorf("%T: validation loss %v -> %v (floor %v), accuracy %v", loss, first.ValLoss, last.ValLoss, floor, last.Accuracy)
		}
	}
}

func TestSplit(t *testing.T) {
	d := blobs(50, 3, 2, 1)
	d.Values = d.X
	tr, va := d.Split(0.2, 7)
	if tr.Rows() != 40 || va.Rows() != 10 || len(tr.Labels) != 40 || va.Values.Rows != 10 {
		t.Fatalf("split sizes %d and %d", tr.Rows(), va.Rows())
	}
	seen := map[float32]bool{}
	for _, part := range []Data{tr, va} {
		for i := range part.Rows() {
			seen[part.X.At(i, 0)] = true
			if part.X.At(i, 1) != part.Values.At(i, 1) {
				t.Fatal("split separated samples from their targets")
			}
		}
	}
	if len(seen) != 50 {
		t.Errorf("split kept %d distinct samples of 50", len(seen))
	}
	tr2, _ := d.Split(0.2, 7)
	if !slices.Equal(tr.X.Data, tr2.X.Data) {
		t.Error("the same seed gave a different split")
	}
}

// TestChunkedOutputs checks that Outputs, Predict and Features, which run
// in chunks, agree with one Forward over all rows.
func TestChunkedOutputs(t *testing.T) {
	net := tinyCNN(4)
	d := bars(250, 5)
	out := net.Outputs(d.X)
	whole := net.Forward(d.X, false)
	if !slices.Equal(out.Data, whole.Data) {
		t.Fatal("chunked outputs differ from one forward pass")
	}
	pred := net.Predict(d.X)
	for i := range pred {
		if pred[i] != argmax(whole.Row(i)) {
			t.Fatalf("prediction %d differs", i)
		}
	}
	f := net.Features(d.X, 2)
	if f.Rows != 250 || f.Cols != 4*4*4 {
		t.Fatalf("features of layer 2 are %dx%d", f.Rows, f.Cols)
	}
}

// TestNoAllocs checks that a warm training step allocates nothing. With
// one worker the element-wise loops run on the calling goroutine; with
// more, mat32.ParallelRows allocates its job value per split.
func TestNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	if !mat32.Native() {
		t.Skip("the pure-Go products allocate for their goroutines")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	mlp, _ := MLP(30, []int{20, 20}, 5, 0.5, 1, InputDropout(0.2))
	for name, net := range map[string]*Network{"mlp": mlp, "cnn": tinyCNN(1)} {
		d := blobs(32, net.InputShape().Size(), 2, 1)
		tr, err := NewTrainer(net, Config{Epochs: 1, BatchSize: 16, LearningRate: 0.01, L1: 1e-4, L2: 1e-4, MaxNorm: 3})
		if err != nil {
			t.Fatal(err)
		}
		b := tr.batch(16, d)
		b.gather(d, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})
		tr.step(b, 0.01)
		if n := testing.AllocsPerRun(5, func() { tr.step(b, 0.01) }); n != 0 {
			t.Errorf("%s: %v allocations per training step", name, n)
		}
	}
}

func TestArchRoundTrip(t *testing.T) {
	for _, a := range []Arch{CNNArch(1, 28, 28, 10), MLPArch(784, []int{800, 800}, 10, 0.5, InputDropout(0.2)),
		{Input: Shape{3, 9, 9}, Layers: []LayerSpec{{Kind: KindConv2D, Filters: 2, Kernel: 3, Stride: 2, Pad: 1}, {Kind: KindLeakyReLU, Alpha: 0.1},
			{Kind: KindMaxPool2D, Window: 3, Stride: 1}, {Kind: KindFlatten}, {Kind: KindDense, Units: 3}, {Kind: KindTanh}, {Kind: KindSigmoid}, {Kind: KindSoftmax}}}} {
		net, err := Build(a)
		if err != nil {
			t.Fatal(err)
		}
		b, err := net.Arch()
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Errorf("arch %v came back as %v", a, b)
		}
	}
}

func TestBadArch(t *testing.T) {
	dense := func(u int) LayerSpec { return LayerSpec{Kind: KindDense, Units: u} }
	for _, c := range []struct {
		a    Arch
		want string
	}{
		{CNNArch(1, 2, 2, 10), "layer 5 (maxpool2d): invalid architecture: pool window 2x2 larger than its input 64"},
		{Arch{Input: Flat(64), Layers: CNNArch(1, 8, 8, 10).Layers}, "pool window 2x2 larger than its input 32"},
		{Arch{Input: Shape{1, 3, 3}, Layers: []LayerSpec{{Kind: KindConv2D, Filters: 2, Kernel: 5, Stride: 1}}}, "conv kernel 5x5 larger than its input 1x3x3 padded by 0"},
		{Arch{Input: Flat(4), Layers: []LayerSpec{{Kind: "lstm"}}}, `unknown layer kind "lstm"`},
		{Arch{Input: Flat(4), Layers: []LayerSpec{dense(0)}}, "dense units 0 outside"},
		{Arch{Input: Flat(4)}, "0 layers"},
		{Arch{Input: Shape{0, 1, 1}, Layers: []LayerSpec{dense(2)}}, "dimensions must be in"},
		{Arch{Input: Shape{MaxDim, MaxDim, MaxDim}, Layers: []LayerSpec{dense(2)}}, "more than"},
		{Arch{Input: Flat(MaxDim), Layers: []LayerSpec{dense(MaxDim)}}, "dense weights of"},
		{Arch{Input: Flat(4), Layers: []LayerSpec{{Kind: KindDropout, Rate: 1}}}, "dropout rate 1 outside"},
		{Arch{Input: Flat(4), Layers: []LayerSpec{{Kind: KindLeakyReLU, Alpha: -1}}}, "slope"},
		{Arch{Input: Flat(4), Layers: []LayerSpec{{Kind: KindReLU, Init: "he"}}}, "no weights"},
		{Arch{Input: Flat(4), Layers: []LayerSpec{{Kind: KindDense, Units: 2, Init: "lecun"}}}, "unknown initialisation"},
		{Arch{Input: Shape{1, 9, 9}, Layers: []LayerSpec{{Kind: KindConv2D, Filters: 2, Kernel: 3, Stride: 1, Pad: 2}}}, "conv padding 2 outside [0, 1]"},
		{Arch{Input: Shape{1, 9, 9}, Layers: []LayerSpec{{Kind: KindMaxPool2D, Window: 2}}}, "pool stride 0"},
	} {
		_, err := Build(c.a)
		if !errors.Is(err, ErrArch) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Build: error %v, want ErrArch with %q", err, c.want)
		}
	}
}

func TestNewPanicsOnMismatch(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "dense layer takes 20 inputs, given 10") {
			t.Errorf("panic %v", r)
		}
	}()
	New(Dense(5, 10, He), ReLU(), Dense(20, 2, He))
}

func TestDenseFrom(t *testing.T) {
	w := mat32.FromSlice(2, 3, []float32{1, 2, 3, 4, 5, 6})
	l := DenseFrom(w, []float32{0.5, 0, -0.5})
	New(l).Init(9) // given weights are kept
	y := l.Forward(mat32.FromSlice(1, 2, []float32{1, -1}), false)
	if want := []float32{-2.5, -3, -3.5}; !slices.Equal(y.Data, want) {
		t.Errorf("xW + b = %v, want %v", y.Data, want)
	}
}

func TestInit(t *testing.T) {
	l := Dense(400, 300, Xavier)
	c := Conv2D(Shape{8, 6, 6}, 50, 3, 1, 1, He)
	New(l).Init(1)
	New(c).Init(1)
	a := math.Sqrt(6.0 / 700)
	var mx, sq float64
	for _, v := range l.W.Data {
		mx = max(mx, math.Abs(float64(v)))
	}
	for _, v := range c.W.Data {
		sq += float64(v) * float64(v)
	}
	if mx > a || mx < 0.99*a {
		t.Errorf("Xavier weights reach %v, want just under %v", mx, a)
	}
	if sd, want := math.Sqrt(sq/float64(len(c.W.Data))), math.Sqrt(2.0/72); math.Abs(sd-want) > 0.05*want {
		t.Errorf("He weights have sd %v, want %v", sd, want)
	}
	u := Dense(400, 300, Uniform)
	New(u).Init(1)
	mx, sq = 0, 0
	for _, v := range u.W.Data {
		mx = max(mx, math.Abs(float64(v)))
		sq += float64(v) * float64(v)
	}
	// U(-1/20, 1/20): maximum just under 0.05, standard deviation 0.05/sqrt(3).
	if sd := math.Sqrt(sq / float64(len(u.W.Data))); mx > 0.05 || mx < 0.0499 || math.Abs(sd-0.05/math.Sqrt(3)) > 0.001 {
		t.Errorf("uniform weights reach %v with sd %v, want U(-0.05, 0.05)", mx, sd)
	}
	if s, _ := ParseInit("uniform"); s != Uniform || Uniform.String() != "uniform" {
		t.Error("uniform does not round-trip through its name")
	}
}
