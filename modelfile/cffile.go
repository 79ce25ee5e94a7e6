package modelfile

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/harmonium-ml/harmonium/cf"
)

// FormatCF is the format tag of a collaborative-filtering model file.
const FormatCF = "harmonium.cf/v1"

// SaveCF writes a collaborative-filtering RBM: tensors weights
// [visible items, levels, hidden], visible_bias [items, levels],
// hidden_bias, the baseline offsets, and the training ratings (case,
// visible, level indices, stored as F32); the metadata holds the format,
// the rating levels and the id maps as JSON.
func SaveCF(path string, m *cf.Model, meta map[string]string) error {
	md := map[string]string{}
	for k, v := range meta {
		md[k] = v
	}
	levels, _ := json.Marshal(m.Levels)
	cases, _ := json.Marshal(m.Users)
	visibles, _ := json.Marshal(m.Items)
	md["format"] = FormatCF
	md["levels"] = string(levels)
	md["cases"] = string(cases)
	md["visibles"] = string(visibles)
	md["item_based"] = strconv.FormatBool(m.ItemBased)
	md["binary"] = strconv.FormatBool(m.Binary)
	md["like_threshold"] = strconv.FormatFloat(m.LikeThreshold, 'g', -1, 64)
	md["mean"] = strconv.FormatFloat(m.Mean, 'g', -1, 64)
	var tc, tv, tl []float32
	for c := range m.UserItems {
		for i, it := range m.UserItems[c] {
			tc, tv, tl = append(tc, float32(c)), append(tv, float32(it)), append(tl, float32(m.UserLevels[c][i]))
		}
	}
	M, K, F := len(m.Items), m.K(), m.Hidden
	return Write(path, []Tensor{
		{"weights", []int{M, K, F}, m.W},
		{"visible_bias", []int{M, K}, m.VisBias},
		{"hidden_bias", []int{F}, m.HidBias},
		{"case_offset", []int{len(m.Users)}, m.UserOffset},
		{"visible_offset", []int{M}, m.ItemOffset},
		{"train_case", []int{len(tc)}, tc},
		{"train_visible", []int{len(tv)}, tv},
		{"train_level", []int{len(tl)}, tl},
	}, md)
}

// LoadCF reads a collaborative-filtering model file, checking its format,
// id maps and tensor shapes.
func LoadCF(path string) (*cf.Model, map[string]string, error) {
	f, err := Read(path)
	if err != nil {
		return nil, nil, err
	}
	fail := func(format string, a ...any) (*cf.Model, map[string]string, error) {
		return nil, nil, fmt.Errorf("read %s: "+format, append([]any{path}, a...)...)
	}
	if got := f.Meta["format"]; got != FormatCF {
		if got == FormatRBM {
			return fail("this is an RBM model (%s), not a collaborative-filtering one", got)
		}
		return fail("unknown model format %q (want %s)", got, FormatCF)
	}
	m := &cf.Model{ItemBased: f.Meta["item_based"] == "true", Binary: f.Meta["binary"] == "true"}
	if m.Binary {
		if m.LikeThreshold, err = strconv.ParseFloat(f.Meta["like_threshold"], 64); err != nil {
			return fail("bad like_threshold %q", f.Meta["like_threshold"])
		}
	}
	if json.Unmarshal([]byte(f.Meta["levels"]), &m.Levels) != nil || len(m.Levels) < 2 {
		return fail("bad rating levels in the metadata")
	}
	if json.Unmarshal([]byte(f.Meta["cases"]), &m.Users) != nil || json.Unmarshal([]byte(f.Meta["visibles"]), &m.Items) != nil {
		return fail("bad id maps in the metadata")
	}
	if m.Mean, err = strconv.ParseFloat(f.Meta["mean"], 64); err != nil {
		return fail("bad mean rating %q", f.Meta["mean"])
	}
	w, ok := f.Tensors["weights"]
	if !ok || len(w.Shape) != 3 || w.Shape[0] != len(m.Items) || w.Shape[1] != len(m.Levels) {
		return fail("tensor weights missing or not [%d, %d, hidden]", len(m.Items), len(m.Levels))
	}
	m.W, m.Hidden = w.Data, w.Shape[2]
	M, K, F, C := len(m.Items), len(m.Levels), m.Hidden, len(m.Users)
	get := func(name string, shape ...int) ([]float32, error) {
		t, ok := f.Tensors[name]
		if !ok || fmt.Sprint(t.Shape) != fmt.Sprint(shape) {
			return nil, fmt.Errorf("read %s: tensor %s missing or not of shape %v", path, name, shape)
		}
		return t.Data, nil
	}
	if m.VisBias, err = get("visible_bias", M, K); err != nil {
		return nil, nil, err
	}
	if m.HidBias, err = get("hidden_bias", F); err != nil {
		return nil, nil, err
	}
	if m.UserOffset, err = get("case_offset", C); err != nil {
		return nil, nil, err
	}
	if m.ItemOffset, err = get("visible_offset", M); err != nil {
		return nil, nil, err
	}
	tc, ok1 := f.Tensors["train_case"]
	tv, ok2 := f.Tensors["train_visible"]
	tl, ok3 := f.Tensors["train_level"]
	if !ok1 || !ok2 || !ok3 || len(tc.Data) != len(tv.Data) || len(tc.Data) != len(tl.Data) {
		return fail("training ratings missing or of different lengths")
	}
	m.UserItems, m.UserLevels = make([][]int32, C), make([][]uint8, C)
	for i := range tc.Data {
		c, v, l := int(tc.Data[i]), int(tv.Data[i]), int(tl.Data[i])
		if c < 0 || c >= C || v < 0 || v >= M || l < 0 || l >= K {
			return fail("training rating %d refers outside the model", i)
		}
		m.UserItems[c] = append(m.UserItems[c], int32(v))
		m.UserLevels[c] = append(m.UserLevels[c], uint8(l))
	}
	return m, f.Meta, nil
}
