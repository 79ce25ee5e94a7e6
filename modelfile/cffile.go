package modelfile

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/harmonium-ml/harmonium/cf"
)

// FormatCF is the format tag of a collaborative-filtering model file.
const FormatCF = "harmonium.cf/v1"

// Tensor names of a collaborative-filtering model file.
const (
	tCFWeights    = "weights"        // F32 [visibles, levels, hidden]
	tCFVisBias    = "visible_bias"   // F32 [visibles, levels]
	tCFHidBias    = "hidden_bias"    // F32 [hidden]
	tCaseOffset   = "case_offset"    // F32 [cases]
	tVisibleOff   = "visible_offset" // F32 [visibles]
	tTrainCase    = "train_case"     // I32 [ratings]
	tTrainVisible = "train_visible"  // I32 [ratings]
	tTrainLevel   = "train_level"    // I32 [ratings]

	// Optional: a conditional model's D and implied pairs, and the
	// implicit-feedback RBM.
	tCFCond         = "conditional_weights"   // F32 [visibles, hidden]
	tImpliedCase    = "implied_case"          // I32 [pairs]
	tImpliedVisible = "implied_visible"       // I32 [pairs]
	tImplicitW      = "implicit_weights"      // F32 [items, implicit hidden]
	tImplicitVis    = "implicit_visible_bias" // F32 [items]
	tImplicitHid    = "implicit_hidden_bias"  // F32 [implicit hidden]
)

// maxLevels is the most rating levels a model may have (level indices are
// bytes).
const maxLevels = 255

// SaveCF writes a collaborative-filtering RBM: F32 tensors weights
// [visibles, levels, hidden], visible_bias [visibles, levels],
// hidden_bias [hidden], case_offset [cases] and visible_offset [visibles];
// and the training ratings as three I32 tensors of equal length,
// train_case, train_visible and train_level (indices into the cases, the
// visibles and the levels). The metadata holds the format, the rating
// levels and the id maps (cases, visibles) as JSON, and item_based,
// binary, like_threshold and mean, and baseline_blend when not 0.
//
// Optional tensors: a conditional model's conditional_weights (D)
// [visibles, hidden] and its implied pairs implied_case and
// implied_visible (I32, equal length); the implicit-feedback RBM's
// implicit_weights [items, implicit hidden], implicit_visible_bias
// [items] and implicit_hidden_bias [implicit hidden], items being the
// cases of an item-based model and the visibles of a user-based one.
// Files without them load as models without those parts.
//
// Files written before the index tensors became I32 store them as F32
// (exact only up to 2^24); LoadCF reads either dtype, so the format tag is
// still harmonium.cf/v1.
func SaveCF(path string, m *cf.Model, meta map[string]string) error {
	md, err := cfFileMeta(path, m, meta)
	if err != nil {
		return err
	}
	ratings, err := ratingTensors(path, m)
	if err != nil {
		return err
	}
	M, K, F := len(m.Items), m.K(), m.Hidden
	ts := []Tensor{
		{Name: tCFWeights, Shape: []int{M, K, F}, Data: m.W},
		{Name: tCFVisBias, Shape: []int{M, K}, Data: m.VisBias},
		{Name: tCFHidBias, Shape: []int{F}, Data: m.HidBias},
		{Name: tCaseOffset, Shape: []int{len(m.Users)}, Data: m.UserOffset},
		{Name: tVisibleOff, Shape: []int{M}, Data: m.ItemOffset},
	}
	ts = append(ts, ratings...)
	cond, err := conditionalTensors(path, m)
	if err != nil {
		return err
	}
	ts = append(ts, cond...)
	implicit, err := implicitTensors(path, m)
	if err != nil {
		return err
	}
	ts = append(ts, implicit...)
	return Write(path, ts, md)
}

// cfFileMeta returns the metadata of m's file: meta with the format, the
// rating levels, the id maps and the model's settings added.
func cfFileMeta(path string, m *cf.Model, meta map[string]string) (map[string]string, error) {
	md := map[string]string{}
	for k, v := range meta {
		md[k] = v
	}
	levels, err := json.Marshal(m.Levels)
	if err != nil {
		return nil, fmt.Errorf("write %s: rating levels: %w", path, err)
	}
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
	if m.BaselineBlend != 0 {
		md["baseline_blend"] = strconv.FormatFloat(m.BaselineBlend, 'g', -1, 64)
	}
	return md, nil
}

// ratingTensors returns m's training ratings as the three I32 tensors
// train_case, train_visible and train_level.
func ratingTensors(path string, m *cf.Model) ([]Tensor, error) {
	n := 0
	for c := range m.UserItems {
		n += len(m.UserItems[c])
	}
	// Non-nil even when empty, so that they are written as I32.
	tc, tv, tl := make([]int32, 0, n), make([]int32, 0, n), make([]int32, 0, n)
	for c := range m.UserItems {
		if len(m.UserLevels[c]) != len(m.UserItems[c]) {
			return nil, fmt.Errorf("write %s: case %d has %d rated visibles but %d levels", path, c, len(m.UserItems[c]), len(m.UserLevels[c]))
		}
		for i, it := range m.UserItems[c] {
			tc, tv, tl = append(tc, int32(c)), append(tv, it), append(tl, int32(m.UserLevels[c][i]))
		}
	}
	return []Tensor{
		{Name: tTrainCase, Shape: []int{len(tc)}, Ints: tc},
		{Name: tTrainVisible, Shape: []int{len(tv)}, Ints: tv},
		{Name: tTrainLevel, Shape: []int{len(tl)}, Ints: tl},
	}, nil
}

// conditionalTensors returns a conditional model's D and implied pairs
// (none when m is not conditional).
func conditionalTensors(path string, m *cf.Model) ([]Tensor, error) {
	if m.D == nil {
		return nil, nil
	}
	M, F := len(m.Items), m.Hidden
	if len(m.D) != M*F {
		return nil, fmt.Errorf("write %s: conditional weights D has %d values, want %d x %d", path, len(m.D), M, F)
	}
	ic, iv := []int32{}, []int32{}
	for c, vs := range m.Implied {
		for _, v := range vs {
			ic, iv = append(ic, int32(c)), append(iv, v)
		}
	}
	return []Tensor{{Name: tCFCond, Shape: []int{M, F}, Data: m.D},
		{Name: tImpliedCase, Shape: []int{len(ic)}, Ints: ic}, {Name: tImpliedVisible, Shape: []int{len(iv)}, Ints: iv}}, nil
}

// implicitTensors returns the implicit-feedback RBM's tensors (none when
// m has none).
func implicitTensors(path string, m *cf.Model) ([]Tensor, error) {
	im := m.Implicit
	if im == nil {
		return nil, nil
	}
	items := implicitItems(m)
	if err := im.Validate(items); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return []Tensor{{Name: tImplicitW, Shape: []int{items, im.Hidden}, Data: im.W},
		{Name: tImplicitVis, Shape: []int{items}, Data: im.VisBias},
		{Name: tImplicitHid, Shape: []int{im.Hidden}, Data: im.HidBias}}, nil
}

// implicitItems is the number of items of m's implicit-feedback RBM: the
// cases of an item-based model, the visibles of a user-based one.
func implicitItems(m *cf.Model) int {
	if m.ItemBased {
		return len(m.Users)
	}
	return len(m.Items)
}

// LoadCF reads a collaborative-filtering model file, checking its format,
// metadata (2 to 255 finite, increasing rating levels; non-empty id maps
// without duplicates; finite mean and threshold), that the tensor shapes
// agree with the id maps and levels, that every parameter is finite and
// that the training ratings (I32, or F32 holding whole numbers, as older
// files do) index inside the model. Errors are one line, "read PATH: ...".
func LoadCF(path string) (*cf.Model, map[string]string, error) {
	f, err := Read(path)
	if err != nil {
		return nil, nil, err
	}
	m, err := loadCF(checker{path, f})
	if err != nil {
		return nil, nil, err
	}
	return m, f.Meta, nil
}

// loadCF reads the collaborative-filtering model of c's file.
func loadCF(c checker) (*cf.Model, error) {
	if got := c.f.Meta["format"]; got != FormatCF {
		if got == FormatRBM {
			return nil, c.errorf("this is an RBM model (%s), not a collaborative-filtering one", got)
		}
		return nil, c.errorf("unknown model format %q (want %s)", got, FormatCF)
	}
	m, err := c.cfMeta()
	if err != nil {
		return nil, err
	}
	if err := c.cfParams(m); err != nil {
		return nil, err
	}
	if err := c.cfRatings(m); err != nil {
		return nil, err
	}
	if err := loadCFExtras(c, m); err != nil {
		return nil, err
	}
	return m, nil
}

// cfMeta returns a model with the settings, rating levels and id maps of
// the metadata, checked, and no parameters yet.
func (c checker) cfMeta() (*cf.Model, error) {
	m := &cf.Model{}
	var err error
	if m.ItemBased, err = c.metaBool("item_based"); err != nil {
		return nil, err
	}
	if m.Binary, err = c.metaBool("binary"); err != nil {
		return nil, err
	}
	if m.Binary {
		if m.LikeThreshold, err = c.metaFloat("like_threshold"); err != nil {
			return nil, err
		}
	}
	if m.Levels, err = c.cfLevels(m.Binary); err != nil {
		return nil, err
	}
	if m.Users, err = c.idList("cases"); err != nil {
		return nil, err
	}
	if m.Items, err = c.idList("visibles"); err != nil {
		return nil, err
	}
	if m.Mean, err = c.metaFloat("mean"); err != nil {
		return nil, err
	}
	if _, ok := c.f.Meta["baseline_blend"]; ok {
		if m.BaselineBlend, err = c.metaFloat("baseline_blend"); err != nil {
			return nil, err
		}
		if !(m.BaselineBlend >= 0 && m.BaselineBlend < 1) {
			return nil, c.errorf("metadata baseline_blend %v is not in [0, 1)", m.BaselineBlend)
		}
	}
	return m, nil
}

// cfLevels returns the rating levels of the metadata: 2 to maxLevels
// finite, strictly increasing numbers, [0 1] for a binary model.
func (c checker) cfLevels(binary bool) ([]float64, error) {
	var levels []float64
	if json.Unmarshal([]byte(c.f.Meta["levels"]), &levels) != nil {
		return nil, c.errorf("metadata levels %q is not a JSON list of numbers", abbrev(c.f.Meta["levels"]))
	}
	K := len(levels)
	if K < 2 || K > maxLevels {
		return nil, c.errorf("%d rating levels in the metadata; a model has 2 to %d", K, maxLevels)
	}
	for k, v := range levels {
		if math.IsNaN(v) || math.IsInf(v, 0) || (k > 0 && !(v > levels[k-1])) {
			return nil, c.errorf("rating levels %v in the metadata are not finite and strictly increasing", levels)
		}
	}
	if binary && (K != 2 || levels[0] != 0 || levels[1] != 1) {
		return nil, c.errorf("a binary (like/dislike) model with rating levels %v, want [0 1]", levels)
	}
	return levels, nil
}

// idList returns the id map of the metadata key: a non-empty JSON list of
// distinct, non-empty ids.
func (c checker) idList(key string) ([]string, error) {
	var ids []string
	if json.Unmarshal([]byte(c.f.Meta[key]), &ids) != nil {
		return nil, c.errorf("metadata %s is not a JSON list of ids", key)
	}
	if len(ids) == 0 {
		return nil, c.errorf("metadata %s lists no ids", key)
	}
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if id == "" || seen[id] {
			return nil, c.errorf("metadata %s has an empty or repeated id %q", key, abbrev(id))
		}
		seen[id] = true
	}
	return ids, nil
}

// cfParams reads m's weights, biases and offsets, checking their shapes
// against m's id maps and levels.
func (c checker) cfParams(m *cf.Model) error {
	M, C, K := len(m.Items), len(m.Users), m.K()
	w, err := c.tensor(tCFWeights, 3)
	if err != nil {
		return err
	}
	if w.Shape[0] != M || w.Shape[1] != K || w.Shape[2] < 1 {
		return c.errorf("tensor %s has shape %v, want [%d, %d, hidden] (visibles, levels) with hidden at least 1", tCFWeights, w.Shape, M, K)
	}
	m.W, m.Hidden = w.Data, w.Shape[2]
	if m.VisBias, err = c.floats(tCFVisBias, M, K); err != nil {
		return err
	}
	if m.HidBias, err = c.floats(tCFHidBias, m.Hidden); err != nil {
		return err
	}
	if m.UserOffset, err = c.floats(tCaseOffset, C); err != nil {
		return err
	}
	if m.ItemOffset, err = c.floats(tVisibleOff, M); err != nil {
		return err
	}
	return nil
}

// cfRatings reads m's training ratings into m.UserItems and m.UserLevels.
func (c checker) cfRatings(m *cf.Model) error {
	M, C, K := len(m.Items), len(m.Users), m.K()
	cs, err := c.indices(tTrainCase, C, -1)
	if err != nil {
		return err
	}
	vs, err := c.indices(tTrainVisible, M, len(cs))
	if err != nil {
		return err
	}
	ls, err := c.indices(tTrainLevel, K, len(cs))
	if err != nil {
		return err
	}
	per := make([]int, C)
	for _, u := range cs {
		per[u]++
	}
	m.UserItems, m.UserLevels = make([][]int32, C), make([][]uint8, C)
	for u, n := range per {
		m.UserItems[u], m.UserLevels[u] = make([]int32, 0, n), make([]uint8, 0, n)
	}
	for i, u := range cs {
		m.UserItems[u] = append(m.UserItems[u], vs[i])
		m.UserLevels[u] = append(m.UserLevels[u], uint8(ls[i]))
	}
	return nil
}

// loadCFExtras reads the optional parts: a conditional model's D and
// implied pairs, and the implicit-feedback RBM.
func loadCFExtras(c checker, m *cf.Model) error {
	f := c.f
	M, C, F := len(m.Items), len(m.Users), m.Hidden
	if _, ok := f.Tensors[tCFCond]; ok {
		var err error
		if m.D, err = c.floats(tCFCond, M, F); err != nil {
			return err
		}
		ic, err := c.indices(tImpliedCase, C, -1)
		if err != nil {
			return err
		}
		iv, err := c.indices(tImpliedVisible, M, len(ic))
		if err != nil {
			return err
		}
		if len(ic) > 0 {
			m.Implied = make([][]int32, C)
			for i, u := range ic {
				m.Implied[u] = append(m.Implied[u], iv[i])
			}
		}
	} else {
		for _, name := range []string{tImpliedCase, tImpliedVisible} {
			if _, ok := f.Tensors[name]; ok {
				return c.errorf("tensor %s without %s", name, tCFCond)
			}
		}
	}
	_, hasW := f.Tensors[tImplicitW]
	_, hasV := f.Tensors[tImplicitVis]
	_, hasH := f.Tensors[tImplicitHid]
	if !hasW && !hasV && !hasH {
		return nil
	}
	if !hasW || !hasV || !hasH {
		return c.errorf("the implicit-feedback model needs %s, %s and %s; some are missing", tImplicitW, tImplicitVis, tImplicitHid)
	}
	items := implicitItems(m)
	w, err := c.tensor(tImplicitW, 2)
	if err != nil {
		return err
	}
	if w.Shape[0] != items || w.Shape[1] < 1 {
		return c.errorf("tensor %s has shape %v, want [%d, hidden] (items) with hidden at least 1", tImplicitW, w.Shape, items)
	}
	im := &cf.Implicit{Hidden: w.Shape[1], W: w.Data}
	if im.VisBias, err = c.floats(tImplicitVis, items); err != nil {
		return err
	}
	if im.HidBias, err = c.floats(tImplicitHid, im.Hidden); err != nil {
		return err
	}
	m.Implicit = im
	return nil
}

// indices returns the 1-D index tensor name, I32 or (as older files store
// it) F32, checking that each value is a whole number in [0, limit) and,
// when length is not negative, that there are length of them.
func (c checker) indices(name string, limit, length int) ([]int32, error) {
	t, ok := c.f.Tensors[name]
	if !ok {
		return nil, c.errorf("tensor %s missing (the training ratings)", name)
	}
	if len(t.Shape) != 1 || (length >= 0 && t.Len() != length) {
		want := "[ratings]"
		if length >= 0 {
			want = fmt.Sprintf("[%d] like %s", length, tTrainCase)
		}
		return nil, c.errorf("tensor %s has shape %v, want %s", name, t.Shape, want)
	}
	if t.Ints != nil {
		for i, v := range t.Ints {
			if v < 0 || int(v) >= limit {
				return nil, c.errorf("tensor %s: training rating %d has index %d, outside [0, %d)", name, i, v, limit)
			}
		}
		return t.Ints, nil
	}
	out := make([]int32, len(t.Data))
	for i, v := range t.Data {
		if !(v >= 0 && float64(v) < float64(limit)) || v != float32(math.Trunc(float64(v))) {
			return nil, c.errorf("tensor %s: training rating %d has index %v, not a whole number in [0, %d)", name, i, v, limit)
		}
		out[i] = int32(v)
	}
	return out, nil
}

// abbrev shortens s for an error message.
func abbrev(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
