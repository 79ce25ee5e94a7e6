package modelfile

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/harmonium-ml/harmonium/dbn"
	"github.com/harmonium-ml/harmonium/mat32"
	"github.com/harmonium-ml/harmonium/rbm"
)

// smallDBNs returns DBNs to save: with labels, with a Gaussian first layer
// that standardises, and a single labelled layer.
func smallDBNs(t testing.TB) map[string]*dbn.DBN {
	labelled, err := dbn.New([]*rbm.RBM{rbm.NewInit(5, 4, nil, 1), rbm.NewInit(4+3, 6, nil, 2)}, 3)
	if err != nil {
		t.Fatal(err)
	}
	labelled.Layers[1].VisMean = []float32{.1, .2, .3, .4, .5, .6, .7}
	labelled.Layers[1].VisBias[5] = 1.5
	g := rbm.NewInitUnits(5, 4, rbm.Gaussian, rbm.Bernoulli, true, nil, 3)
	g.LogVar[1] = 0.5
	g.Scaler = &rbm.Scaler{Mean: []float32{1, 2, 3, 4, 5}, Std: []float32{1, 1, 2, 2, 1}}
	gauss, err := dbn.New([]*rbm.RBM{g, rbm.NewInitUnits(4, 2, rbm.Bernoulli, rbm.Gaussian, false, nil, 4)}, 0)
	if err != nil {
		t.Fatal(err)
	}
	one, err := dbn.New([]*rbm.RBM{rbm.NewInit(5+2, 3, nil, 5)}, 2)
	if err != nil {
		t.Fatal(err)
	}
	updown := labelled.Clone()
	updown.Gen = []dbn.GenLayer{{W: updown.Layers[0].W.Clone(), VisBias: []float32{1, 2, 3, 4, 5}}}
	return map[string]*dbn.DBN{"labelled": labelled, "gaussian": gauss, "one": one, "updown": updown}
}

func equalRBM(t *testing.T, what string, a, b *rbm.RBM) {
	t.Helper()
	if a.VisUnits != b.VisUnits || a.HidUnits != b.HidUnits || !a.W.SameShape(b.W) {
		t.Fatalf("%s: units or shape differ", what)
	}
	for _, p := range [][2][]float32{{a.W.Data, b.W.Data}, {a.VisBias, b.VisBias}, {a.HidBias, b.HidBias}, {a.LogVar, b.LogVar}, {a.VisMean, b.VisMean}} {
		if !slices.Equal(p[0], p[1]) {
			t.Fatalf("%s: parameters differ: %v and %v", what, p[0], p[1])
		}
	}
	if (a.Scaler == nil) != (b.Scaler == nil) || a.Scaler != nil && (!slices.Equal(a.Scaler.Mean, b.Scaler.Mean) || !slices.Equal(a.Scaler.Std, b.Scaler.Std)) {
		t.Fatalf("%s: scalers differ", what)
	}
}

func TestDBNRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for name, d := range smallDBNs(t) {
		p := filepath.Join(dir, name+".safetensors")
		if err := SaveDBN(p, d, len(d.Layers), LayerMeta(0, rbm.DefaultConfig()), nil); err != nil {
			t.Fatal(err)
		}
		got, meta, total, st, err := LoadDBN(p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if st != nil || total != len(d.Layers) || got.Labels != d.Labels || len(got.Layers) != len(d.Layers) {
			t.Fatalf("%s: state %v, total %d, labels %d, %d layers", name, st, total, got.Labels, len(got.Layers))
		}
		for i := range d.Layers {
			equalRBM(t, name, d.Layers[i], got.Layers[i])
		}
		if meta["format"] != FormatDBN || DBNLayer(meta, 0)["learning_rate"] != "0.1" {
			t.Errorf("%s: metadata %v", name, meta)
		}
	}
	// The label group is stored apart from the penultimate units.
	f, err := Read(filepath.Join(dir, "labelled.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if w := f.Tensors["layers.1.weights"]; !slices.Equal(w.Shape, []int{4, 6}) {
		t.Errorf("layers.1.weights has shape %v, want [4 6]", w.Shape)
	}
	if w := f.Tensors[tLabelWeights]; !slices.Equal(w.Shape, []int{3, 6}) {
		t.Errorf("labels.weights has shape %v, want [3 6]", w.Shape)
	}
	if f.Meta[metaSizes] != "5,4,6" || f.Meta[metaLabels] != "3" {
		t.Errorf("sizes %q, labels %q", f.Meta[metaSizes], f.Meta[metaLabels])
	}
}

func TestDBNCheckpointRoundTrip(t *testing.T) {
	x := mat32.New(40, 5)
	for i := range x.Data {
		x.Data[i] = float32(i % 2)
	}
	labels := make([]int, 40)
	for i := range labels {
		labels[i] = i % 3
	}
	cfg := dbn.DefaultConfig(dbn.Shape{Visible: 5, Hidden: []int{4, 6}, Labels: 3}, 40, 1)
	for i := range cfg.Layers {
		cfg.Layers[i].Train.Epochs, cfg.Layers[i].Train.Persistent = 2, true
	}
	tr, err := dbn.NewTrainer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "ck.safetensors")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err = tr.Fit(ctx, x, labels, dbn.Hooks{Epoch: func(layer int, s rbm.EpochStats) error {
		if layer == 1 && s.Epoch == 1 {
			cancel()
			return SaveDBN(p, tr.DBN, 2, nil, &tr.State)
		}
		return nil
	}})
	if err == nil {
		t.Fatal("not interrupted")
	}
	d, _, total, st, err := LoadDBN(p)
	if err != nil {
		t.Fatal(err)
	}
	if total != 2 || st == nil || st.Done != 1 || st.Layer.Epoch != 1 || st.Layer.Chains == nil || st.Layer.Chains.Cols != 7 {
		t.Fatalf("total %d, state %+v", total, st)
	}
	if !slices.Equal(st.Layer.VelW.Data, tr.State.Layer.VelW.Data) || !slices.Equal(st.Layer.Chains.Data, tr.State.Layer.Chains.Data) {
		t.Error("velocities or chains differ after the round trip")
	}
	equalRBM(t, "top", tr.DBN.Layers[1], d.Layers[1])
}

func TestRBMFileLoadsAsDBN(t *testing.T) {
	p := filepath.Join(t.TempDir(), "m.safetensors")
	m := sample()
	if err := SaveRBM(p, m, nil, nil); err != nil {
		t.Fatal(err)
	}
	d, _, total, st, err := LoadDBN(p)
	if err != nil || total != 1 || st != nil || len(d.Layers) != 1 || d.Labels != 0 {
		t.Fatalf("%v, total %d, state %v", err, total, st)
	}
	equalRBM(t, "rbm", m, d.Layers[0])
}

func TestLoadDBNChecks(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.safetensors")
	d := smallDBNs(t)["labelled"]
	if err := SaveDBN(good, d, 2, nil, nil); err != nil {
		t.Fatal(err)
	}
	f, err := Read(good)
	if err != nil {
		t.Fatal(err)
	}
	edits := map[string]func(f *File){
		"sizes do not chain": func(f *File) {
			w := f.Tensors["layers.0.weights"]
			f.Tensors["layers.0.weights"] = Tensor{Name: w.Name, Shape: []int{4, 5}, Data: make([]float32, 20)}
			f.Tensors["layers.0.visible_bias"] = Tensor{Name: "layers.0.visible_bias", Shape: []int{4}, Data: make([]float32, 4)}
			f.Tensors["layers.0.hidden_bias"] = Tensor{Name: "layers.0.hidden_bias", Shape: []int{5}, Data: make([]float32, 5)}
		},
		"label weights": func(f *File) {
			f.Tensors[tLabelWeights] = Tensor{Name: tLabelWeights, Shape: []int{2, 6}, Data: make([]float32, 12)}
		},
		"metadata sizes": func(f *File) { f.Meta[metaSizes] = "5,4,7" },
		"layer count":    func(f *File) { f.Meta[metaLayers] = "3"; f.Meta[metaLayersTotal] = "3" },
		"no layers":      func(f *File) { delete(f.Meta, metaLayers) },
		"unit type":      func(f *File) { f.Meta["layers.1.hidden_units"] = "softmax" },
		"missing bias":   func(f *File) { delete(f.Tensors, "layers.1.hidden_bias") },
		"labels":         func(f *File) { f.Meta[metaLabels] = "1" },
	}
	for name, edit := range edits {
		g := &File{Meta: map[string]string{}, Tensors: map[string]Tensor{}}
		for k, v := range f.Meta {
			g.Meta[k] = v
		}
		for k, v := range f.Tensors {
			g.Tensors[k] = v
		}
		edit(g)
		var ts []Tensor
		for _, v := range g.Tensors {
			ts = append(ts, v)
		}
		p := filepath.Join(dir, "bad.safetensors")
		if err := Write(p, ts, g.Meta); err != nil {
			t.Fatal(err)
		}
		_, _, _, _, err := LoadDBN(p)
		if err == nil || !strings.HasPrefix(err.Error(), "read "+p+": ") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: got %v, want a one-line read error", name, err)
		}
	}
}

func FuzzLoadDBN(f *testing.F) {
	dir := f.TempDir()
	for name, d := range smallDBNs(f) {
		p := filepath.Join(dir, name+".safetensors")
		if err := SaveDBN(p, d, len(d.Layers), map[string]string{"seed": "1"}, nil); err != nil {
			f.Fatal(err)
		}
		addFile(f, p)
	}
	part := &dbn.DBN{Layers: smallDBNs(f)["labelled"].Layers[:1], Labels: 3}
	st := &dbn.State{Done: 0, Layer: rbm.State{Epoch: 1, VelW: mat32.New(5, 4), VelVis: make([]float32, 5), VelHid: make([]float32, 4), HidMean: make([]float32, 4), Chains: mat32.New(2, 5)}}
	p := filepath.Join(dir, "ck.safetensors")
	if err := SaveDBN(p, part, 2, nil, st); err != nil {
		f.Fatal(err)
	}
	addFile(f, p)
	seedRBM(f)
	file := fuzzFile(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		p := file(t, data)
		d, _, total, _, err := LoadDBN(p)
		if err != nil {
			if s := err.Error(); !strings.Contains(s, p) || strings.Contains(s, "\n") {
				t.Fatalf("error %q is not one line naming the file", s)
			}
			return
		}
		if err := d.ValidatePartial(total); err != nil {
			t.Fatalf("loaded a DBN that does not validate: %v", err)
		}
		if len(d.Layers) == total && d.Visible() <= 64 {
			v := mat32.New(2, d.Visible())
			if _, err := d.Transform(v, len(d.Layers)); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// TestDBNGenerativeRoundTrip saves and loads the generative layers of an
// up-down fine-tuned DBN, and refuses incomplete or misshapen ones.
func TestDBNGenerativeRoundTrip(t *testing.T) {
	d := smallDBNs(t)["labelled"]
	g := d.Layers[0].W.Clone()
	g.Data[3] = 7
	d.Gen = []dbn.GenLayer{{W: g, VisBias: []float32{1, 2, 3, 4, 5}}}
	dir := t.TempDir()
	p := filepath.Join(dir, "ud.safetensors")
	if err := SaveDBN(p, d, len(d.Layers), nil, nil); err != nil {
		t.Fatal(err)
	}
	got, _, _, _, err := LoadDBN(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Gen) != 1 || !slices.Equal(got.Gen[0].W.Data, g.Data) || !slices.Equal(got.Gen[0].VisBias, d.Gen[0].VisBias) {
		t.Fatalf("generative layers %+v", got.Gen)
	}
	f, err := Read(p)
	if err != nil {
		t.Fatal(err)
	}
	var ts []Tensor
	for name, tn := range f.Tensors {
		if name != genPrefix(0)+tVisBias {
			ts = append(ts, tn)
		}
	}
	bad := filepath.Join(dir, "bad.safetensors")
	if err := Write(bad, ts, f.Meta); err != nil {
		t.Fatal(err)
	}
	if _, _, _, _, err := LoadDBN(bad); err == nil || !strings.Contains(err.Error(), "generative tensors") {
		t.Errorf("a DBN missing a generative tensor: %v", err)
	}
	ts = append(ts, Tensor{Name: genPrefix(0) + tVisBias, Shape: []int{4}, Data: []float32{1, 2, 3, 4}})
	if err := Write(bad, ts, f.Meta); err != nil {
		t.Fatal(err)
	}
	if _, _, _, _, err := LoadDBN(bad); err == nil || !strings.Contains(err.Error(), "shape") {
		t.Errorf("a misshapen generative bias: %v", err)
	}
}
