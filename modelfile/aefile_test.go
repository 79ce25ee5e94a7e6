package modelfile

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/harmonium-ml/harmonium/ae"
	"github.com/harmonium-ml/harmonium/mat32"
	"github.com/harmonium-ml/harmonium/nn"
)

// smallAEs returns one small autoencoder of each kind.
func smallAEs(t testing.TB) map[string]*ae.Model {
	t.Helper()
	out := map[string]*ae.Model{}
	for name, s := range map[string]ae.Spec{
		"ae":   {Kind: ae.AE, Input: nn.Flat(6), Layers: []int{4}, Code: 2},
		"tied": {Kind: ae.AE, Input: nn.Flat(6), Layers: []int{4}, Code: 2, Tied: true},
		"dae":  {Kind: ae.DAE, Input: nn.Flat(6), Code: 3, Noise: nn.NoiseGauss, NoiseLevel: 0.2, Output: ae.Gaussian},
		"vae":  {Kind: ae.VAE, Input: nn.Flat(6), Layers: []int{4}, Code: 2},
		"conv": {Kind: ae.Conv, Input: nn.Shape{C: 1, H: 4, W: 4}, Layers: []int{2}},
	} {
		m, err := ae.New(s, 3)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = m
	}
	return out
}

func TestAERoundTrip(t *testing.T) {
	dir := t.TempDir()
	for name, m := range smallAEs(t) {
		p := filepath.Join(dir, name+".safetensors")
		if err := SaveAE(p, m, map[string]string{"seed": "3"}); err != nil {
			t.Fatal(err)
		}
		if k, _, err := KindOf(p); err != nil || k != KindAE {
			t.Fatalf("%s: kind %v, %v", name, k, err)
		}
		got, meta, st, err := LoadAE(p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if st != nil || meta["seed"] != "3" || got.Kind != m.Kind || got.Code != m.Code || got.Output != m.Output || got.Params() != m.Params() {
			t.Fatalf("%s: loaded %v (state %v), saved %v", name, got, st, m)
		}
		x := mat32.New(2, m.Inputs())
		for i := range x.Data {
			x.Data[i] = float32(i%5) / 5
		}
		a, b := m.Reconstruct(x), got.Reconstruct(x)
		for i := range a.Data {
			if a.Data[i] != b.Data[i] {
				t.Fatalf("%s: reconstruction differs after loading", name)
			}
		}
		if _, _, err := LoadNN(p); err == nil || !strings.Contains(err.Error(), "not a neural network") {
			t.Errorf("%s: LoadNN of an autoencoder: %v", name, err)
		}
	}
}

func TestAECheckpointState(t *testing.T) {
	m := smallAEs(t)["vae"]
	params := m.Net.Params()
	slots := map[string][][]float32{"m": make([][]float32, len(params)), "v": make([][]float32, len(params))}
	for k, p := range params {
		slots["m"][k] = make([]float32, len(p.Value.Data))
		slots["v"][k] = make([]float32, len(p.Value.Data))
		slots["m"][k][0], slots["v"][k][0] = float32(k)+0.5, float32(k)+0.25
	}
	steps := 17
	p := filepath.Join(t.TempDir(), "ck.safetensors")
	if err := SaveAECheckpoint(p, m, nil, &TrainState{Epoch: 3, Slots: slots, Steps: &steps}); err != nil {
		t.Fatal(err)
	}
	_, _, st, err := LoadAE(p)
	if err != nil {
		t.Fatal(err)
	}
	if st == nil || st.Epoch != 3 || st.Steps == nil || *st.Steps != 17 || len(st.Slots) != 2 {
		t.Fatalf("state %+v", st)
	}
	for k := range params {
		if st.Slots["m"][k][0] != float32(k)+0.5 || st.Slots["v"][k][0] != float32(k)+0.25 {
			t.Fatalf("slot values of parameter %d: %v, %v", k, st.Slots["m"][k][0], st.Slots["v"][k][0])
		}
	}
}

// TestAEBadFiles checks one-line refusals of autoencoder files whose
// metadata or state do not make an autoencoder.
func TestAEBadFiles(t *testing.T) {
	dir := t.TempDir()
	m := smallAEs(t)["vae"]
	good := filepath.Join(dir, "good.safetensors")
	if err := SaveAE(good, m, nil); err != nil {
		t.Fatal(err)
	}
	f, err := Read(good)
	if err != nil {
		t.Fatal(err)
	}
	var ts []Tensor
	for _, tn := range f.Tensors {
		ts = append(ts, tn)
	}
	for name, c := range map[string]struct {
		meta  map[string]string
		extra []Tensor
		want  string
	}{
		"code not a sampler": {map[string]string{metaAECode: "1"}, nil, "code layer"},
		"code out of range":  {map[string]string{metaAECode: "99"}, nil, "code layer"},
		"code missing":       {map[string]string{metaAECode: ""}, nil, metaAECode},
		"unknown kind":       {map[string]string{metaAEKind: "pca"}, nil, "unknown kind"},
		"unknown output":     {map[string]string{metaAEOutput: "poisson"}, nil, "output"},
		"stray state":        {map[string]string{metaEpochs: "2"}, []Tensor{{Name: "optimizer.m.99", Shape: []int{1}, Data: []float32{0}}}, "optimiser state"},
		"state bad shape":    {map[string]string{metaEpochs: "2"}, []Tensor{{Name: "optimizer.m.0", Shape: []int{1}, Data: []float32{0}}}, "optimizer.m.0"},
		"state incomplete":   {map[string]string{metaEpochs: "2"}, []Tensor{{Name: "optimizer.m.1", Shape: []int{4}, Data: make([]float32, 4)}}, "lacks parameter"},
		"stray tensor":       {nil, []Tensor{{Name: "extra", Shape: []int{1}, Data: []float32{0}}}, "not a parameter"},
		// The first stray state by name, whatever the map's order.
		"stray states": {map[string]string{metaEpochs: "2"}, []Tensor{{Name: "optimizer.m.97", Shape: []int{1}, Data: []float32{0}},
			{Name: "optimizer.m.93", Shape: []int{1}, Data: []float32{0}}, {Name: "optimizer.m.95", Shape: []int{1}, Data: []float32{0}},
			{Name: "optimizer.m.90", Shape: []int{1}, Data: []float32{0}}, {Name: "optimizer.m.98", Shape: []int{1}, Data: []float32{0}},
			{Name: "optimizer.m.94", Shape: []int{1}, Data: []float32{0}}, {Name: "optimizer.m.96", Shape: []int{1}, Data: []float32{0}}},
			"tensor optimizer.m.90 is not the optimiser state"},
	} {
		meta := map[string]string{}
		for k, v := range f.Meta {
			meta[k] = v
		}
		for k, v := range c.meta {
			if v == "" {
				delete(meta, k)
			} else {
				meta[k] = v
			}
		}
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".safetensors")
		if err := Write(p, append(append([]Tensor(nil), ts...), c.extra...), meta); err != nil {
			t.Fatal(err)
		}
		_, _, _, err := LoadAE(p)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "read "+p) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want a one-line error naming the file and %q", name, err, c.want)
		}
	}
}

func FuzzLoadAE(f *testing.F) {
	dir := f.TempDir()
	for name, m := range smallAEs(f) {
		p := filepath.Join(dir, name+".safetensors")
		if err := SaveAE(p, m, map[string]string{"seed": "1"}); err != nil {
			f.Fatal(err)
		}
		addFile(f, p)
	}
	f.Add(crasher)
	file := fuzzFile(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		p := file(t, data)
		m, _, _, err := LoadAE(p)
		if err != nil {
			checkErr(t, err, p)
			return
		}
		if err := m.Check(); err != nil {
			t.Fatalf("loaded an inconsistent autoencoder: %v", err)
		}
		if arch, err := m.Net.Arch(); err != nil {
			t.Fatal(err)
		} else if small(arch) {
			m.Reconstruct(mat32.New(2, m.Inputs()))
		}
	})
}
