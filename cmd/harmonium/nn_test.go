package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/harmonium-ml/harmonium/dataset"
	"github.com/harmonium-ml/harmonium/mat32"
	"github.com/harmonium-ml/harmonium/modelfile"
)

// blobs writes n samples of 16 values in three noisy classes (a bright
// 4x4 quadrant each) to dir/x.csv and their labels to dir/y.csv, and
// returns both paths.
func blobs(t *testing.T, dir string, n int) (string, string) {
	t.Helper()
	r := rand.New(rand.NewPCG(7, 7))
	var x, y strings.Builder
	for i := range n {
		c := i % 3
		for j := range 16 {
			v := 0.2 * r.Float64()
			if (j/4)/2*2+(j%4)/2 == c {
				v += 0.8
			}
			if j > 0 {
				x.WriteByte(',')
			}
			fmt.Fprintf(&x, "%.3f", v)
		}
		x.WriteByte('\n')
		fmt.Fprintf(&y, "%d\n", c)
	}
	xp, yp := filepath.Join(dir, "x.csv"), filepath.Join(dir, "y.csv")
	if err := os.WriteFile(xp, []byte(x.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(yp, []byte(y.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return xp, yp
}

// params returns the tensors of a network file, by name.
func params(t *testing.T, path string) map[string][]float32 {
	t.Helper()
	f, err := modelfile.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string][]float32{}
	for name, ts := range f.Tensors {
		m[name] = ts.Data
	}
	return m
}

func TestNNTrainClassifyFeatures(t *testing.T) {
	dir := t.TempDir()
	x, y := blobs(t, dir, 150)
	net := filepath.Join(dir, "net.safetensors")
	train := []string{"nn", "train", "--data", x, "--labels", y, "--arch", "mlp:12", "--epochs", "15", "--batch", "10", "--seed", "3", "--validate", "0.2"}
	code, stdout, stderr := harmonium(t, append(train, "--json", "--out", net)...)
	if code != 0 {
		t.Fatalf("nn train: %d %s", code, stderr)
	}
	for _, want := range []string{"epoch 15/15", "loss", "train", "val", " s\n", "dropout 0.5 (input 0.2), max-norm 3.5"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("progress lacks %q:\n%s", want, stderr)
		}
	}
	var tr struct {
		Epochs []map[string]float64 `json:"epochs"`
	}
	if err := json.Unmarshal([]byte(stdout), &tr); err != nil || len(tr.Epochs) != 15 || tr.Epochs[14]["val_accuracy"] < 0.9 {
		t.Fatalf("nn train --json: %v %s", err, stdout)
	}

	// The same seed gives the same network; another seed another one.
	again, other := filepath.Join(dir, "again.safetensors"), filepath.Join(dir, "other.safetensors")
	if code, _, stderr := harmonium(t, append(train, "--quiet", "--out", again)...); code != 0 {
		t.Fatal(stderr)
	}
	train[len(train)-3] = "4"
	if code, _, stderr := harmonium(t, append(train, "--quiet", "--out", other)...); code != 0 {
		t.Fatal(stderr)
	}
	p1, p2, p3 := params(t, net), params(t, again), params(t, other)
	if len(p1) != 4 {
		t.Fatalf("tensors %v, want 4", len(p1))
	}
	for name, v := range p1 {
		if !slices.Equal(v, p2[name]) {
			t.Errorf("%s differs between two runs with the same seed", name)
		}
		if slices.Equal(v, p3[name]) && strings.HasSuffix(name, "weights") {
			t.Errorf("%s is the same with another seed", name)
		}
	}

	code, stdout, stderr = harmonium(t, "classify", "--model", net, "--data", x, "--labels", y, "--json")
	if code != 0 {
		t.Fatalf("classify: %s", stderr)
	}
	var res struct {
		Accuracy  float64 `json:"accuracy"`
		ErrorRate float64 `json:"error_rate"`
		N         int     `json:"n"`
		Confusion [][]int `json:"confusion"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, row := range res.Confusion {
		for _, c := range row {
			total += c
		}
	}
	if res.N != 150 || len(res.Confusion) != 3 || total != 150 || res.Accuracy < 0.9 || math.Abs(res.Accuracy+res.ErrorRate-1) > 1e-12 {
		t.Fatalf("classify --json: %s", stdout)
	}

	// --out: the predicted class, then probabilities summing to 1.
	pred := filepath.Join(dir, "pred.npy")
	if code, _, stderr := harmonium(t, "classify", "--model", net, "--data", x, "--out", pred); code != 0 {
		t.Fatal(stderr)
	}
	set, err := dataset.ReadNPY(pred)
	if err != nil || set.X.Rows != 150 || set.X.Cols != 4 {
		t.Fatalf("--out: %v %v", err, set)
	}
	for i := range set.X.Rows {
		row := set.X.Row(i)
		sum, best := 0.0, 0
		for j, p := range row[1:] {
			sum += float64(p)
			if p > row[1+best] {
				best = j
			}
		}
		if math.Abs(sum-1) > 1e-5 || int(row[0]) != best {
			t.Fatalf("row %d of --out: %v", i, row)
		}
	}

	// features --layer: the hidden ReLU layer (dropout, dense, relu, ...).
	feats := filepath.Join(dir, "f.csv")
	if code, _, stderr := harmonium(t, "features", "--model", net, "--data", x, "--layer", "2", "--out", feats); code != 0 {
		t.Fatal(stderr)
	}
	fs, err := dataset.ReadCSV(feats)
	if err != nil || fs.X.Rows != 150 || fs.X.Cols != 12 {
		t.Fatalf("features: %v %v", err, fs)
	}
	for _, v := range fs.X.Data {
		if v < 0 {
			t.Fatalf("ReLU feature %g < 0", v)
		}
	}
}

func TestNNTrainCNN(t *testing.T) {
	dir := t.TempDir()
	x, y := blobs(t, dir, 60)
	net := filepath.Join(dir, "cnn.safetensors")
	code, _, stderr := harmonium(t, "nn", "train", "--data", x, "--labels", y, "--arch", "cnn", "--image-shape", "4x4", "--epochs", "2", "--batch", "20", "--quiet", "--out", net)
	if code != 0 {
		t.Fatalf("nn train --arch cnn: %s", stderr)
	}
	code, stdout, stderr := harmonium(t, "classify", "--model", net, "--data", x, "--labels", y, "--json")
	if code != 0 || !strings.Contains(stdout, `"n":60`) {
		t.Fatalf("classify: %d %s %s", code, stdout, stderr)
	}

	// The general form: layers:..., then a softmax output of 3 classes.
	code, _, stderr = harmonium(t, "nn", "train", "--data", x, "--labels", y, "--arch", "layers:conv4k3p1,leaky_relu0.1,pool2s1,flatten,dense8,tanh,dropout0.1",
		"--image-shape", "1x4x4", "--epochs", "1", "--quiet", "--out", net)
	if code != 0 {
		t.Fatalf("nn train --arch layers:...: %s", stderr)
	}
	_, _, stderr = harmonium(t, "features", "--model", net, "--data", x, "--layer", "9", "--out", filepath.Join(dir, "f.csv"))
	for i, kind := range []string{"conv2d", "leaky_relu", "maxpool2d", "flatten", "dense", "tanh", "dropout", "dense"} {
		if want := fmt.Sprintf("%d %s", i, kind); !strings.Contains(stderr, want) {
			t.Errorf("layers of the network: %q lacks %q", stderr, want)
		}
	}
}

// TestNNRecipeDefaults checks that each architecture's recipe fills only
// the flags not given.
func TestNNRecipeDefaults(t *testing.T) {
	parseFlags := func(args ...string) nnTrainFlags {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		var f nnTrainFlags
		f.register(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		if err := f.applyRecipe(fs); err != nil {
			t.Fatal(err)
		}
		return f
	}
	f := parseFlags("--arch", "mlp:800,800")
	if f.epochs != 100 || f.dropout != 0.5 || f.inputDropout != 0.2 || f.maxNorm != 3.5 || f.optimizer != "adam" || f.lr != 1e-3 {
		t.Errorf("mlp defaults: %+v", f)
	}
	f = parseFlags("--arch", "mlp:800", "--dropout", "0", "--max-norm", "0", "--epochs", "3")
	if f.epochs != 3 || f.dropout != 0 || f.maxNorm != 0 || f.inputDropout != 0.2 {
		t.Errorf("mlp with flags set: %+v", f)
	}
	f = parseFlags("--arch", "cnn")
	if f.epochs != recipes["cnn"].epochs || f.dropout != 0.5 || f.maxNorm != 0 || f.inputDropout != 0 {
		t.Errorf("cnn defaults: %+v", f)
	}
	f = parseFlags("--arch", "cnn", "--optimizer", "sgd")
	if f.momentum != 0.9 || f.lr != 0.01 {
		t.Errorf("sgd defaults: %+v", f)
	}
}

func TestNNBadInput(t *testing.T) {
	dir := t.TempDir()
	x, y := blobs(t, dir, 30)
	net := filepath.Join(dir, "net.safetensors")
	if code, _, stderr := harmonium(t, "nn", "train", "--data", x, "--labels", y, "--arch", "mlp:4", "--epochs", "1", "--quiet", "--out", net); code != 0 {
		t.Fatal(stderr)
	}
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	short := write("short.csv", strings.Repeat("1\n", 29))
	frac := write("frac.csv", strings.Repeat("1\n", 10)+"1.5\n"+strings.Repeat("1\n", 19))
	neg := write("neg.csv", strings.Repeat("1\n", 10)+"-2\n"+strings.Repeat("1\n", 19))
	big := write("big.csv", strings.Repeat("1\n", 10)+"7\n"+strings.Repeat("1\n", 19))
	zeros := write("zeros.csv", strings.Repeat("0\n", 30))
	// A network file lacking a layer's weights.
	f, err := modelfile.Read(net)
	if err != nil {
		t.Fatal(err)
	}
	var ts []modelfile.Tensor
	for name, tensor := range f.Tensors {
		if name != "layers.1.weights" {
			ts = append(ts, tensor)
		}
	}
	broken := filepath.Join(dir, "broken.safetensors")
	if err := modelfile.Write(broken, ts, f.Meta); err != nil {
		t.Fatal(err)
	}
	rbmModel := filepath.Join(dir, "rbm.safetensors")
	if code, _, stderr := harmonium(t, "train", "--data", tinyCSV(t, dir), "--hidden", "3", "--epochs", "1", "--quiet", "--out", rbmModel); code != 0 {
		t.Fatal(stderr)
	}

	out := filepath.Join(dir, "out.safetensors")
	pred := filepath.Join(dir, "pred.csv")
	train := func(args ...string) []string {
		return append([]string{"nn", "train", "--data", x, "--epochs", "1", "--quiet", "--out", out}, args...)
	}
	for _, c := range []struct {
		args []string
		want []string // in the one-line error
	}{
		{train("--labels", short, "--arch", "mlp:4"), []string{short, "29 labels", "30 samples"}},
		{train("--labels", frac, "--arch", "mlp:4"), []string{frac, "line 11", `"1.5" is not an integer`}},
		{train("--labels", neg, "--arch", "mlp:4"), []string{neg, "line 11", "negative"}},
		{train("--labels", big, "--arch", "mlp:4", "--classes", "3"), []string{big, "sample 11 has label 7, outside 0..2"}},
		{train("--labels", zeros, "--arch", "mlp:4"), []string{zeros, "every label is 0", "at least two classes"}},
		{train("--labels", y, "--arch", "mlp:4,x"), []string{`--arch "mlp:4,x"`, `"x"`}},
		{train("--labels", y, "--arch", "rnn"), []string{`--arch "rnn"`, "unknown architecture"}},
		{train("--labels", y, "--arch", "layers:dense8,relu,conv"), []string{`layer "conv" is not one of`}},
		{train("--labels", y, "--arch", "layers:dense8k3"), []string{`layer "dense8k3" is not one of`}},
		{train("--labels", y, "--arch", "layers:dense8", "--dropout", "0.5"), []string{"--dropout and --input-dropout apply to mlp and cnn"}},
		{train("--labels", y, "--arch", "layers:conv8k3,relu"), []string{"--arch layers:conv8k3,relu has image layers", "16 values per sample"}},
		{train("--labels", y, "--arch", "layers:conv8k5", "--image-shape", "4x4"), []string{"does not fit", "conv kernel 5x5 larger than its input 1x4x4"}},
		{train("--labels", y, "--arch", "cnn"), []string{"--arch cnn needs images", "16 values per sample"}},
		{train("--labels", y, "--arch", "cnn", "--image-shape", "2x8"), []string{"--arch cnn does not fit", "1x2x8"}},
		{train("--arch", "mlp:4"), []string{x, "no labels", "--labels"}},
		{[]string{"classify", "--model", net, "--data", x, "--labels", big, "--out", pred}, []string{big, "sample 11 has label 7, outside 0..2", net}},
		{[]string{"classify", "--model", net, "--data", x, "--labels", short, "--out", pred}, []string{short, "29 labels"}},
		{[]string{"classify", "--model", broken, "--data", x, "--out", pred}, []string{broken, "layers.1.weights"}},
		{[]string{"classify", "--model", rbmModel, "--data", x, "--out", pred}, []string{rbmModel, "is an RBM", "not a neural network"}},
		{[]string{"classify", "--model", net, "--data", tinyCSV(t, dir), "--out", pred}, []string{net, "takes 16 values per sample", "has 6"}},
		{[]string{"eval", "--model", net, "--data", x}, []string{net, "is a neural network (harmonium.nn/v1)", "use harmonium classify"}},
		{[]string{"features", "--model", rbmModel, "--data", tinyCSV(t, dir), "--layer", "1", "--out", pred}, []string{"--layer applies to neural networks", "is an RBM"}},
		{[]string{"features", "--model", net, "--data", x, "--layer", "9", "--out", pred}, []string{"--layer 9", "layers 0 to 4"}},
	} {
		code, _, stderr := harmonium(t, c.args...)
		if code == 0 {
			t.Errorf("%v: exit 0, want an error", c.args)
			continue
		}
		if strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: error is not one line: %q", c.args, stderr)
		}
		for _, w := range c.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%v: error %q lacks %q", c.args, stderr, w)
			}
		}
		for _, p := range []string{out, pred} {
			if _, err := os.Stat(p); err == nil {
				t.Fatalf("%v: wrote %s", c.args, p)
			}
		}
	}
}

func TestNNMemoryGuard(t *testing.T) {
	dir := t.TempDir()
	x, y := blobs(t, dir, 30)
	out := filepath.Join(dir, "net.safetensors")
	t.Setenv("HARMONIUM_MEMORY_LIMIT", "64M")
	code, _, stderr := harmonium(t, "nn", "train", "--data", x, "--labels", y, "--arch", "mlp:4000,4000", "--epochs", "1", "--out", out)
	if code == 0 || !strings.Contains(stderr, "memory") || strings.Count(stderr, "\n") != 1 {
		t.Fatalf("a network over the memory limit: %d %q", code, stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("wrote the network")
	}
	if code, _, stderr := harmonium(t, "nn", "train", "--data", x, "--labels", y, "--arch", "mlp:40", "--epochs", "1", "--quiet", "--out", out); code != 0 {
		t.Fatalf("a small network under the limit: %s", stderr)
	}
}

// bench --arch times a network on the built-in digits and says how each
// convolution is computed: the CNN's first by lowering, its second (32 to
// 64 channels, 5x5) by Winograd's algorithm.
func TestBenchArchNamesConvolutions(t *testing.T) {
	var r struct {
		Secs  []float64 `json:"seconds_per_epoch"`
		Convs []string  `json:"convolutions"`
	}
	benchJSON(t, &r, "--arch", "cnn", "--rows", "200", "--epochs", "1")
	want := []string{"1x28x28 to 32x28x28: lowered (im2col)", "32x14x14 to 64x14x14: Winograd F(2x2, 5x5)"}
	if len(r.Secs) != 1 || !(r.Secs[0] > 0) || !slices.Equal(r.Convs, want) {
		t.Fatalf("got %+v, want one epoch and convolutions %q", r, want)
	}
	code, out, _ := harmonium(t, "bench", "--arch", "cnn", "--rows", "100", "--epochs", "1")
	if code != 0 || !strings.Contains(out, "convolution:      32x14x14 to 64x14x14: Winograd F(2x2, 5x5)\n") || !strings.Contains(out, "kernels:") {
		t.Fatalf("bench --arch cnn printed %q", out)
	}
}

// bench (CD-1) says whether the data and the hidden samples take sparse
// products, in text and in --json, as the trainer decides.
func TestBenchNamesSparseProducts(t *testing.T) {
	var r struct {
		Secs   []float64 `json:"seconds_per_epoch"`
		Down   *bool     `json:"sparse_hidden_products"`
		Sparse *bool     `json:"sparse_products"`
	}
	benchJSON(t, &r, "--rows", "200", "--hidden", "30", "--epochs", "1")
	if len(r.Secs) != 1 || r.Down == nil || r.Sparse == nil || *r.Down != mat32.SparseFaster() {
		t.Fatalf("got %+v, want one epoch and sparse products down %v", r, mat32.SparseFaster())
	}
	code, out, _ := harmonium(t, "bench", "--rows", "200", "--hidden", "30", "--epochs", "1")
	want := "hidden units:     binary samples: dense products down\n"
	if mat32.SparseFaster() {
		want = "hidden units:     binary samples: the products down skip their zeros when under half are ones\n"
	}
	if code != 0 || !strings.Contains(out, want) {
		t.Fatalf("bench printed %q, want the line %q", out, want)
	}
}

// benchJSON runs bench with args and --json and decodes its report into v.
func benchJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	code, out, errs := harmonium(t, append([]string{"bench"}, append(args, "--json")...)...)
	if code != 0 {
		t.Fatalf("bench %q: %d %q", args, code, errs)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("%v: %q", err, out)
	}
}
