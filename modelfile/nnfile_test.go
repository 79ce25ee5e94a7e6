package modelfile

import (
	"errors"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/harmonium-ml/harmonium/internal/memguard"
	"github.com/harmonium-ml/harmonium/mat32"
	"github.com/harmonium-ml/harmonium/nn"
)

// smallNets returns a small MLP (with input dropout) and a small CNN with
// every kind of layer, weights drawn.
func smallNets(t testing.TB) map[string]*nn.Network {
	mlp, err := nn.MLP(6, []int{5, 4}, 3, 0.5, 1, nn.InputDropout(0.2))
	if err != nil {
		t.Fatal(err)
	}
	in := nn.Shape{C: 2, H: 6, W: 5}
	conv := nn.Conv2D(in, 3, 3, 2, 1, nn.He)
	pool := nn.MaxPool2D(nn.Shape{C: 3, H: 3, W: 3}, 2, 1)
	cnn := nn.New(conv, nn.LeakyReLU(0.1), pool, nn.Flatten(), nn.Dense(12, 4, nn.Xavier), nn.Tanh(), nn.Dropout(0.3),
		nn.Sigmoid(), nn.Dense(4, 3, nn.He), nn.ReLU(), nn.Softmax())
	cnn.Init(2)
	// Non-zero biases, so that the round trip covers them.
	for _, net := range []*nn.Network{mlp, cnn} {
		for _, p := range net.Params() {
			if p.Name == "bias" {
				for i := range p.Value.Data {
					p.Value.Data[i] = 0.1 * float32(i+1)
				}
			}
		}
	}
	return map[string]*nn.Network{"mlp": mlp, "cnn": cnn}
}

func TestNNRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for name, net := range smallNets(t) {
		p := filepath.Join(dir, name+".safetensors")
		if err := SaveNN(p, net, map[string]string{"note": "test", "format": "overridden"}); err != nil {
			t.Fatal(err)
		}
		got, meta, err := LoadNN(p)
		if err != nil {
			t.Fatal(err)
		}
		if meta["format"] != FormatNN || meta["note"] != "test" {
			t.Errorf("%s: metadata %v", name, meta)
		}
		a, _ := net.Arch()
		b, _ := got.Arch()
		if !slices.EqualFunc(a.Layers, b.Layers, func(x, y nn.LayerSpec) bool { return x == y }) || a.Input != b.Input {
			t.Errorf("%s: architecture %+v came back as %+v", name, a, b)
		}
		x := mat32.New(7, net.InputShape().Size())
		mat32.NewRNG(3, 3).Uniform(x.Data)
		if want, out := net.Outputs(x), got.Outputs(x); !slices.Equal(want.Data, out.Data) {
			t.Errorf("%s: outputs differ after loading", name)
		}
	}
}

func TestLoadNNChecks(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "nn.safetensors")
	if err := SaveNN(good, smallNets(t)["cnn"], nil); err != nil {
		t.Fatal(err)
	}
	rbmPath := filepath.Join(dir, "rbm.safetensors")
	if err := SaveRBM(rbmPath, sample(), nil, nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		edit func(f *File)
		want string
	}{
		{"missing", func(f *File) { delete(f.Tensors, "layers.4.weights") }, "tensor layers.4.weights missing"},
		{"shape", func(f *File) {
			w := f.Tensors["layers.0.weights"]
			w.Shape = []int{2, 3, 9}
			f.Tensors["layers.0.weights"] = w
		}, "tensor layers.0.weights has shape [2 3 9], want 4 dimensions"},
		{"bias shape", func(f *File) {
			f.Tensors["layers.8.bias"] = Tensor{Name: "layers.8.bias", Shape: []int{4}, Data: make([]float32, 4)}
		}, "tensor layers.8.bias has shape [4], want [3]"},
		{"extra", func(f *File) {
			f.Tensors["layers.1.weights"] = Tensor{Name: "layers.1.weights", Shape: []int{1}, Data: []float32{1}}
		}, "tensor layers.1.weights is not a parameter of the architecture"},
		{"extras", func(f *File) { // the first by name, whatever the map's order
			for _, n := range []string{"layers.1.h", "layers.1.c", "layers.1.f", "layers.1.a", "layers.1.g", "layers.1.d", "layers.1.b", "layers.1.e"} {
				f.Tensors[n] = Tensor{Name: n, Shape: []int{1}, Data: []float32{1}}
			}
		}, "tensor layers.1.a is not a parameter of the architecture"},
		{"nan", func(f *File) { set(f, "layers.4.bias", 2, float32(math.NaN())) }, "tensor layers.4.bias holds NaN at index 2"},
		{"no arch", func(f *File) { delete(f.Meta, metaArch) }, "metadata architecture missing"},
		{"bad json", func(f *File) { f.Meta[metaArch] = `{"input":` }, "metadata architecture is not a network architecture"},
		{"unknown field", func(f *File) {
			f.Meta[metaArch] = `{"input":{"c":1,"h":1,"w":1},"layers":[{"kind":"relu","colour":1}]}`
		}, `unknown field "colour"`},
		{"trailing", func(f *File) { f.Meta[metaArch] = `{"input":{"c":4,"h":1,"w":1},"layers":[{"kind":"relu"}]} {}` }, "data after the architecture"},
		{"bad layer", func(f *File) {
			f.Meta[metaArch] = strings.Replace(f.Meta[metaArch], `"kind":"flatten"`, `"kind":"lstm"`, 1)
		}, `architecture: layer 3 (lstm): invalid architecture: unknown layer kind "lstm"`},
		{"huge", func(f *File) {
			f.Meta[metaArch] = `{"input":{"c":16777216,"h":16777216,"w":1},"layers":[{"kind":"dense","units":16777216}]}`
		}, "more than 268435456 values"},
		{"format", func(f *File) { f.Meta["format"] = "harmonium.ae/v9" }, `unknown model format "harmonium.ae/v9"`},
		{"no format", func(f *File) { delete(f.Meta, "format") }, "no format in the metadata"},
	} {
		p := rewrite(t, good, c.name+".safetensors", c.edit)
		_, _, err := LoadNN(p)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "read "+p+": ") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %v, want one line containing %q", c.name, err, c.want)
		}
	}
	if _, _, err := LoadNN(rbmPath); err == nil || !strings.Contains(err.Error(), "a harmonium.rbm/v1 model, not a neural network") {
		t.Errorf("loading an RBM as a network: %v", err)
	}
}

// FuzzLoadNN checks that no file makes LoadNN panic or allocate beyond
// what the file's size and nn's limits allow, and that what loads is
// consistent.
func FuzzLoadNN(f *testing.F) {
	dir := f.TempDir()
	for name, net := range smallNets(f) {
		p := filepath.Join(dir, name+".safetensors")
		if err := SaveNN(p, net, map[string]string{"seed": "1"}); err != nil {
			f.Fatal(err)
		}
		addFile(f, p)
	}
	f.Add(crasher)
	file := fuzzFile(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		p := file(t, data)
		net, meta, err := LoadNN(p)
		if err != nil {
			checkErr(t, err, p)
			return
		}
		if meta["format"] != FormatNN {
			t.Fatalf("loaded a network from format %q", meta["format"])
		}
		arch, err := net.Arch()
		if err != nil {
			t.Fatal(err)
		}
		// A forward pass where the activations are small (a file's
		// architecture may legitimately describe a large network).
		if small(arch) {
			net.Outputs(mat32.New(2, net.InputShape().Size()))
		}
	})
}

// small reports whether every layer's output (and lowered conv input) of
// a sample has at most 4096 values.
func small(a nn.Arch) bool {
	cur := a.Input
	for _, l := range a.Layers {
		out, _, err := l.OutputShape(cur)
		if err != nil || out.Size() > 4096 || cur.Size() > 4096 || l.Kind == nn.KindConv2D && out.H*out.W*cur.C*l.Kernel*l.Kernel > 4096 {
			return false
		}
		cur = out
	}
	return true
}

// TestLoadNNRefusesHugeActivations checks that a tiny file whose layers
// enlarge a one-value input to 2^28 values (and pool it back) fails to
// load, instead of making the first forward pass allocate 100 GB.
func TestLoadNNRefusesHugeActivations(t *testing.T) {
	t.Setenv(memguard.EnvLimit, "8G")
	p := filepath.Join(t.TempDir(), "bomb.safetensors")
	arch := `{"input":{"c":1,"h":1,"w":1},"layers":[{"kind":"upsample2d","window":16384},` +
		`{"kind":"maxpool2d","window":16384,"stride":16384},{"kind":"flatten"},{"kind":"dense","units":2},{"kind":"softmax"}]}`
	ts := []Tensor{{Name: "layers.3.weights", Shape: []int{1, 2}, Data: []float32{1, -1}},
		{Name: "layers.3.bias", Shape: []int{2}, Data: []float32{0, 0}}}
	if err := Write(p, ts, map[string]string{"format": FormatNN, metaArch: arch}); err != nil {
		t.Fatal(err)
	}
	_, _, err := LoadNN(p)
	if err == nil || !errors.Is(err, memguard.ErrTooLarge) || !strings.HasPrefix(err.Error(), "read "+p+": ") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("LoadNN of a network needing 300 GB to run: %v", err)
	}
}
