package main

import (
	"bytes"
	"encoding/json"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/harmonium-ml/harmonium/modelfile"
)

type jsonInner struct {
	A float32 `json:"a"`
	B []float64
}

type jsonEmbedded struct {
	E float64 `json:"e"`
}

type jsonOuter struct {
	jsonEmbedded
	Name    string             `json:"name"`
	Skip    int                `json:"-"`
	Opt     float64            `json:"opt,omitempty"`
	Inner   jsonInner          `json:"inner"`
	Ptr     *jsonInner         `json:"ptr"`
	Map     map[string]float64 `json:"map"`
	IntMap  map[int]float32    `json:"int_map"`
	Any     any                `json:"any"`
	Arr     [2]float64         `json:"arr"`
	private float64
}

func jsonSamples(x float64) []any {
	return []any{
		x,
		float32(x),
		[]float64{1, x, 3},
		map[string]any{"a": x, "b": []any{x, "s", 2}, "c": nil},
		jsonOuter{jsonEmbedded: jsonEmbedded{x}, Name: "n", Skip: 3, Opt: x,
			Inner: jsonInner{float32(x), []float64{x}}, Ptr: &jsonInner{B: nil},
			Map: map[string]float64{"z": x, "y": 1}, IntMap: map[int]float32{2: float32(x)},
			Any: []any{x}, Arr: [2]float64{x, 1}, private: x},
		[]jsonOuter{{}, {Opt: x}},
		[]epochRecord{{Epoch: 1, ReconError: x, FreeEnergy: x}},
	}
}

// marshalFinite writes what encoding/json writes whenever it can, and null
// in place of each number JSON cannot hold.
func TestMarshalFinite(t *testing.T) {
	for _, x := range []float64{0, 0.1, -2.5e-7, 1e30} {
		for i, v := range jsonSamples(x) {
			want, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			got, replaced, err := marshalFinite(v)
			if err != nil || replaced || !bytes.Equal(got, want) {
				t.Errorf("sample %d, x=%v: got %s (replaced %v, %v), want %s", i, x, got, replaced, err, want)
			}
			// The fallback itself encodes finite values as encoding/json does.
			slow, err := json.Marshal(finiteOrNull(reflect.ValueOf(v)))
			if err != nil || !bytes.Equal(slow, want) {
				t.Errorf("sample %d, x=%v: fallback %s (%v), want %s", i, x, slow, err, want)
			}
		}
	}
	for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		for i, v := range jsonSamples(bad) {
			got, replaced, err := marshalFinite(v)
			if err != nil || !replaced {
				t.Fatalf("sample %d, x=%v: %s %v %v", i, bad, got, replaced, err)
			}
			good, _ := json.Marshal(finiteOrNull(reflect.ValueOf(jsonSamples(7)[i])))
			if want := strings.ReplaceAll(string(good), "7", "null"); string(got) != want {
				t.Errorf("sample %d, x=%v: got %s, want %s", i, bad, got, want)
			}
		}
	}
}

// eval --json of a model whose free energy overflows writes null for it,
// says so on stderr, and succeeds, as the text output does.
func TestEvalJSONNotFinite(t *testing.T) {
	dir := t.TempDir()
	data := tinyCSV(t, dir)
	model := hugeWeightsModel(t, dir, data)
	code, out, errs := harmonium(t, "eval", "--model", model, "--data", data, "--json")
	var res map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil {
		t.Fatalf("eval --json: %d %q %q", code, out, errs)
	}
	if v, ok := res["free_energy"]; !ok || v != nil || !strings.Contains(errs, "not finite") {
		t.Fatalf("free_energy %v (present %v), stderr %q", v, ok, errs)
	}
	if res["samples"] != float64(40) {
		t.Fatalf("samples %v", res["samples"])
	}
}

// hugeWeightsModel trains a tiny RBM on data and saves it with weights of
// ±3e38, whose free energy overflows float32.
func hugeWeightsModel(t *testing.T, dir, data string) string {
	t.Helper()
	model := filepath.Join(dir, "small.safetensors")
	if code, _, errs := harmonium(t, "train", "--data", data, "--hidden", "4", "--epochs", "1", "--out", model, "--quiet"); code != 0 {
		t.Fatalf("train: %s", errs)
	}
	m, meta, _, err := modelfile.LoadRBM(model)
	if err != nil {
		t.Fatal(err)
	}
	for i := range m.W.Data {
		m.W.Data[i] = float32(3e38 * float64(1-2*(i%2)))
	}
	huge := filepath.Join(dir, "huge.safetensors")
	if err := modelfile.SaveRBM(huge, m, meta, nil); err != nil {
		t.Fatal(err)
	}
	return huge
}
