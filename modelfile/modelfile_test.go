package modelfile

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/harmonium-ml/harmonium/mat32"
	"github.com/harmonium-ml/harmonium/rbm"
)

func sample() *rbm.RBM {
	m := rbm.NewInit(5, 3, nil, 1)
	m.VisBias[2], m.HidBias[1] = 0.5, -0.25
	return m
}

func TestRBMRoundTrip(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "m.safetensors")
	m := sample()
	if err := SaveRBM(p, m, map[string]string{"seed": "7"}, nil); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	if hl := binary.LittleEndian.Uint64(b); (8+hl)%8 != 0 || !strings.Contains(string(b[8:8+hl]), `"format":"harmonium.rbm/v1"`) {
		t.Fatalf("header of %d bytes: %s", hl, b[8:8+hl])
	}
	got, meta, st, err := LoadRBM(p)
	if err != nil {
		t.Fatal(err)
	}
	if st != nil || meta["seed"] != "7" || meta["visible"] != "5" || meta["hidden_units"] != "bernoulli" {
		t.Fatalf("meta %v, state %v", meta, st)
	}
	for i, v := range m.W.Data {
		if got.W.Data[i] != v {
			t.Fatal("weights differ after a round trip")
		}
	}
	if got.VisBias[2] != 0.5 || got.HidBias[1] != -0.25 {
		t.Fatal("biases differ after a round trip")
	}
	if got.VisMean != nil {
		t.Fatal("a model without a data mean gained one")
	}
	m.VisMean = []float32{0.1, 0.2, 0.3, 0.4, 0.5}
	if err := SaveRBM(p, m, nil, nil); err != nil {
		t.Fatal(err)
	}
	if got, _, _, err := LoadRBM(p); err != nil || got.VisMean[3] != 0.4 {
		t.Fatalf("data mean after a round trip: %v", err)
	}
	m.VisMean = nil
	// A checkpoint carries the training state.
	state := &rbm.State{Epoch: 4, VelW: mat32.New(5, 3), VelVis: make([]float32, 5), VelHid: make([]float32, 3), HidMean: []float32{1, 2, 3}, Chains: mat32.New(2, 5)}
	state.VelW.Data[7] = 3
	if err := SaveRBM(p, m, nil, state); err != nil {
		t.Fatal(err)
	}
	_, _, st, err = LoadRBM(p)
	if err != nil || st == nil || st.Epoch != 4 || st.VelW.Data[7] != 3 || st.HidMean[2] != 3 || st.Chains.Rows != 2 || st.Average != nil {
		t.Fatalf("checkpoint state %+v, %v", st, err)
	}
	// With the running average of the parameters (rbm.Config.Average).
	state.Average = &rbm.Average{W: mat32.New(5, 3), VisBias: make([]float32, 5), HidBias: []float32{4, 5, 6}}
	state.Average.W.Data[2] = -1.5
	if err := SaveRBM(p, m, nil, state); err != nil {
		t.Fatal(err)
	}
	_, _, st, err = LoadRBM(p)
	if err != nil || st.Average == nil || st.Average.W.Data[2] != -1.5 || st.Average.HidBias[1] != 5 || st.Average.LogVar != nil {
		t.Fatalf("checkpoint average %+v, %v", st, err)
	}
	// Part of an average is an error.
	f, err := Read(p)
	if err != nil {
		t.Fatal(err)
	}
	var kept []Tensor
	for name, ts := range f.Tensors {
		if name != tAvgW {
			kept = append(kept, ts)
		}
	}
	if err := Write(p, kept, f.Meta); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := LoadRBM(p); err == nil || !strings.Contains(err.Error(), tAvgVis) {
		t.Fatalf("checkpoint without %s: %v", tAvgW, err)
	}
}

func TestBadModelFiles(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.safetensors")
	if err := SaveRBM(good, sample(), nil, nil); err != nil {
		t.Fatal(err)
	}
	gb, _ := os.ReadFile(good)
	hl := binary.LittleEndian.Uint64(gb)
	header := string(gb[8 : 8+hl])
	withHeader := func(h string) []byte {
		b := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
		return append(append(b, h...), gb[8+hl:]...)
	}
	cases := map[string]struct {
		body []byte
		msg  string
	}{
		"short":     {gb[:5], "too short"},
		"truncated": {gb[:len(gb)-7], "outside"},
		"hugelen":   {append(binary.LittleEndian.AppendUint64(nil, 1<<40), gb[8:]...), "runs past the end"},
		"notjson":   {withHeader(strings.Replace(header, "{", "[", 1)), "not valid JSON"},
		"dtype":     {withHeader(strings.Replace(header, `"dtype":"F32","shape":[5,3]`, `"dtype":"F64","shape":[5,3]`, 1)), `dtype "F64"`},
		"shape":     {withHeader(strings.Replace(header, `"shape":[5]`, `"shape":[4]`, 1)), "needs 16 bytes"},
		"format":    {withHeader(strings.Replace(header, "harmonium.rbm/v1", "harmonium.rbm/v9", 1)), `unknown model format "harmonium.rbm/v9"`},
		"units":     {withHeader(strings.Replace(header, `"visible_units":"bernoulli"`, `"visible_units":"softmax"`, 1)), `metadata visible_units: unknown unit type "softmax"`},
		"hidunits":  {withHeader(strings.Replace(header, `"hidden_units":"bernoulli"`, `"hidden_units":"softmax"`, 1)), `metadata hidden_units: unknown unit type "softmax"`},
		"noformat":  {withHeader(strings.Replace(header, `"format"`, `"formax"`, 1)), "no format"},
		"trailing":  {append(append([]byte{}, gb...), 0, 0, 0, 0), "bytes of data follow"},
	}
	for name, c := range cases {
		p := filepath.Join(dir, name+".safetensors")
		if err := os.WriteFile(p, c.body, 0o644); err != nil {
			t.Fatal(err)
		}
		_, _, _, err := LoadRBM(p)
		if err == nil || !strings.Contains(err.Error(), c.msg) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %v, want one naming the file and %q", name, err, c.msg)
		}
	}
	if _, _, _, err := LoadRBM(filepath.Join(dir, "absent")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
}

func TestWriteRejectsBadTensor(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.safetensors")
	if err := Write(p, []Tensor{{Name: "a", Shape: []int{2, 2}, Data: []float32{1}}}, nil); err == nil {
		t.Fatal("a tensor with too few values was written")
	}
	if _, err := os.Stat(p); err == nil {
		t.Fatal("a failed write left a file")
	}
}
