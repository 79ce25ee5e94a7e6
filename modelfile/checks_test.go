package modelfile

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/harmonium-ml/harmonium/cf"
	"github.com/harmonium-ml/harmonium/mat32"
	"github.com/harmonium-ml/harmonium/rbm"
)

// rawFile returns a safetensors file of the given header and data.
func rawFile(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	return append(append(b, header...), data...)
}

func writeFile(t testing.TB, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// wantErr checks that err is one line naming path and containing msg.
func wantErr(t *testing.T, what string, err error, path, msg string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want %q", what, msg)
		return
	}
	if s := err.Error(); !strings.HasPrefix(s, "read "+path+": ") || !strings.Contains(s, msg) || strings.Contains(s, "\n") {
		t.Errorf("%s: error %q, want one line \"read %s: ...%s...\"", what, s, path, msg)
	}
}

func TestReadOverflowingShapes(t *testing.T) {
	dir := t.TempDir()
	for name, c := range map[string]struct {
		header string
		data   []byte
		msg    string
	}{
		// The crasher: 2^62 values, 2^64 bytes, which wrapped to 0.
		"crasher": {`{"weights":{"dtype":"F32","shape":[2147483648,2147483648],"data_offsets":[0,0]}}`, nil,
			"tensor weights: shape [2147483648 2147483648] needs more than the 0 bytes of data"},
		"threedims": {`{"w":{"dtype":"F32","shape":[2147483648,2147483648,4],"data_offsets":[0,16]}}`, make([]byte, 16),
			"tensor w: shape [2147483648 2147483648 4] needs more than the 16 bytes of data"},
		"i32": {`{"w":{"dtype":"I32","shape":[4611686018427387904,4],"data_offsets":[0,0]}}`, nil,
			"tensor w: shape [4611686018427387904 4] needs more than the 0 bytes"},
		"huge": {`{"w":{"dtype":"F32","shape":[9223372036854775807],"data_offsets":[0,8]}}`, make([]byte, 8),
			"needs more than the 8 bytes"},
		"negative": {`{"w":{"dtype":"F32","shape":[-2,-2],"data_offsets":[0,16]}}`, make([]byte, 16),
			"tensor w has a negative dimension in shape [-2 -2]"},
		"negzero": {`{"w":{"dtype":"F32","shape":[0,-1],"data_offsets":[0,0]}}`, nil,
			"negative dimension"},
		"toolarge": {`{"w":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,0]}}`, nil,
			"tensor w: bad header entry"},
		"noshape":   {`{"w":{"dtype":"F32","data_offsets":[0,4]}}`, make([]byte, 4), "tensor w has no shape"},
		"offsets3":  {`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, make([]byte, 4), "data_offsets must be [begin, end]"},
		"offsets1":  {`{"w":{"dtype":"F32","shape":[1],"data_offsets":[4]}}`, make([]byte, 4), "data_offsets must be [begin, end]"},
		"negoffset": {`{"w":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}`, make([]byte, 4), "outside the 4 bytes"},
		"overlap": {`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8),
			"overlap or gap"},
		"name":  {"{\"a\\nb\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}", nil, `tensor name "a\nb" has control characters`},
		"dtype": {`{"w":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}`, make([]byte, 8), `dtype "I64"`},
	} {
		p := writeFile(t, dir, name, rawFile(c.header, c.data))
		_, err := Read(p)
		wantErr(t, name, err, p, c.msg)
	}
	// A zero dimension makes an empty tensor however large the others.
	p := writeFile(t, dir, "zero", rawFile(`{"w":{"dtype":"F32","shape":[2147483648,0,2147483648],"data_offsets":[0,0]},"__metadata__":null}`, nil))
	f, err := Read(p)
	if err != nil || len(f.Tensors["w"].Data) != 0 || f.Tensors["w"].Data == nil || f.Meta == nil {
		t.Fatalf("empty tensor: %+v, %v", f, err)
	}
}

// A file with several bad tensors reports the first by name, every time.
func TestReadReportsFirstBadTensor(t *testing.T) {
	header := `{"d":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},"b":{"dtype":"F64","shape":[1],"data_offsets":[8,16]},` +
		`"a":{"dtype":"U8","shape":[1],"data_offsets":[16,24]},"c":{"dtype":"BF16","shape":[1],"data_offsets":[24,32]}}`
	p := writeFile(t, t.TempDir(), "bad", rawFile(header, make([]byte, 32)))
	for range 20 {
		_, err := Read(p)
		wantErr(t, "four bad tensors", err, p, `tensor a has dtype "U8"`)
	}
}

func TestI32Tensors(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.safetensors")
	in := []Tensor{
		{Name: "f", Shape: []int{2}, Data: []float32{1.5, -2}},
		{Name: "i", Shape: []int{3}, Ints: []int32{0, -7, math.MaxInt32}},
		{Name: "empty", Shape: []int{0}, Ints: []int32{}},
		{Name: "scalar", Data: []float32{3}},
	}
	if err := Write(p, in, map[string]string{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	if !strings.Contains(string(b), `"i":{"dtype":"I32","shape":[3],"data_offsets":[8,20]}`) ||
		!strings.Contains(string(b), `"scalar":{"dtype":"F32","shape":[],"data_offsets":[20,24]}`) {
		t.Fatalf("header %s", b[8:])
	}
	f, err := Read(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range in {
		got := f.Tensors[want.Name]
		if got.DType() != want.DType() || got.Len() != want.Len() || !slices.Equal(got.Ints, want.Ints) || !slices.Equal(got.Data, want.Data) {
			t.Errorf("%s: read %+v (%s), wrote %+v (%s)", want.Name, got, got.DType(), want, want.DType())
		}
	}
	if f.Tensors["empty"].Ints == nil || f.Tensors["i"].Data != nil {
		t.Error("Read must set exactly one of Data and Ints")
	}
	for name, bad := range map[string][]Tensor{
		"both":     {{Name: "a", Shape: []int{1}, Data: []float32{1}, Ints: []int32{1}}},
		"short":    {{Name: "a", Shape: []int{2}, Ints: []int32{1}}},
		"negative": {{Name: "a", Shape: []int{-1, -1}, Data: []float32{1}}},
		"overflow": {{Name: "a", Shape: []int{1 << 32, 1 << 32}, Data: []float32{}}},
		"dup":      {{Name: "a", Data: []float32{1}}, {Name: "a", Data: []float32{1}}},
		"meta":     {{Name: "__metadata__", Data: []float32{1}}},
	} {
		if err := Write(filepath.Join(dir, name), bad, nil); err == nil {
			t.Errorf("%s: written", name)
		}
	}
}

// rewrite reads the model file src, lets edit change it, and writes the
// result to a new file, returning its path.
func rewrite(t testing.TB, src, name string, edit func(f *File)) string {
	t.Helper()
	f, err := Read(src)
	if err != nil {
		t.Fatal(err)
	}
	edit(f)
	names := make([]string, 0, len(f.Tensors))
	for n := range f.Tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	var ts []Tensor
	for _, n := range names {
		ts = append(ts, f.Tensors[n])
	}
	p := filepath.Join(filepath.Dir(src), name)
	if err := Write(p, ts, f.Meta); err != nil {
		t.Fatal(err)
	}
	return p
}

// set replaces one value of tensor name.
func set(f *File, name string, i int, v float32) {
	f.Tensors[name].Data[i] = v
}

func TestLoadRBMChecks(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "ckpt.safetensors")
	state := &rbm.State{Epoch: 3, VelW: mat32.New(5, 3), VelVis: make([]float32, 5), VelHid: make([]float32, 3), HidMean: make([]float32, 3),
		Chains: mat32.New(2, 5), VisOffset: make([]float32, 5), HidOffset: make([]float32, 3)}
	if err := SaveRBM(good, sample(), nil, state); err != nil {
		t.Fatal(err)
	}
	if _, _, st, err := LoadRBM(good); err != nil || st == nil || st.VisOffset == nil || st.Chains.Rows != 2 {
		t.Fatalf("checkpoint: %+v %v", st, err)
	}
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for name, c := range map[string]struct {
		edit func(f *File)
		msg  string
	}{
		"nanweight":  {func(f *File) { set(f, tWeights, 4, nan) }, "tensor weights holds NaN at index 4"},
		"infbias":    {func(f *File) { set(f, tHidBias, 1, inf) }, "tensor hidden_bias holds +Inf at index 1"},
		"nanvel":     {func(f *File) { set(f, tVelW, 0, nan) }, "tensor velocity_weights holds NaN"},
		"nanchains":  {func(f *File) { set(f, tChains, 9, nan) }, "tensor persistent_chains holds NaN at index 9"},
		"nanoffset":  {func(f *File) { set(f, tHidOff, 2, -inf) }, "tensor hidden_offset holds -Inf"},
		"visible":    {func(f *File) { f.Meta["visible"] = "6" }, "metadata visible 6 disagrees with tensor weights of shape [5 3]"},
		"hiddenneg":  {func(f *File) { f.Meta["hidden"] = "-3" }, `metadata hidden "-3" is not a whole number`},
		"hiddenhuge": {func(f *File) { f.Meta["hidden"] = "99999999999999999999" }, `metadata hidden "99999999999999999999"`},
		"epochneg":   {func(f *File) { f.Meta[metaEpoch] = "-1" }, `metadata epochs_done "-1" is not a whole number in [0, 2147483647]`},
		"epochhuge":  {func(f *File) { f.Meta[metaEpoch] = "9223372036854775807" }, `metadata epochs_done "9223372036854775807"`},
		"epochword":  {func(f *File) { f.Meta[metaEpoch] = "three" }, `metadata epochs_done "three"`},
		"nohidoff":   {func(f *File) { delete(f.Tensors, tHidOff) }, "tensor hidden_offset missing"},
		"novisoff":   {func(f *File) { delete(f.Tensors, tVisOff) }, "tensor visible_offset missing"},
		"nochains": {func(f *File) {
			f.Tensors[tChains] = Tensor{Name: tChains, Shape: []int{0, 5}, Data: []float32{}}
		}, "tensor persistent_chains has shape [0 5], want [chains, 5] with at least one chain"},
		"chains1d": {func(f *File) {
			f.Tensors[tChains] = Tensor{Name: tChains, Shape: []int{10}, Data: make([]float32, 10)}
		}, "tensor persistent_chains has shape [10], want 2 dimensions"},
		"intweights": {func(f *File) {
			f.Tensors[tWeights] = Tensor{Name: tWeights, Shape: []int{5, 3}, Ints: make([]int32, 15)}
		}, "tensor weights has dtype I32, want F32"},
		"novisible": {func(f *File) {
			f.Tensors[tWeights] = Tensor{Name: tWeights, Shape: []int{0, 3}, Data: []float32{}}
			f.Tensors[tVisBias] = Tensor{Name: tVisBias, Shape: []int{0}, Data: []float32{}}
			f.Meta["visible"] = "0"
		}, "tensor weights has shape [0 3]: an RBM needs at least one visible and one hidden unit"},
		"vismean": {func(f *File) {
			f.Tensors[tVisMean] = Tensor{Name: tVisMean, Shape: []int{4}, Data: make([]float32, 4)}
		}, "tensor visible_mean has shape [4], want [5]"},
		"velshape": {func(f *File) {
			f.Tensors[tVelW] = Tensor{Name: tVelW, Shape: []int{3, 5}, Data: make([]float32, 15)}
		}, "tensor velocity_weights has shape [3 5], want [5 3]"},
	} {
		p := rewrite(t, good, name, c.edit)
		_, _, _, err := LoadRBM(p)
		wantErr(t, name, err, p, c.msg)
	}
}

// smallCF is a user-based model of 3 users, 2 items, 3 levels, 2 hidden units.
func smallCF() *cf.Model {
	return &cf.Model{
		Levels: []float64{1, 2, 3}, Items: []string{"x", "y"}, Users: []string{"a", "b", "c"}, Hidden: 2,
		W: []float32{.1, .2, .3, .4, .5, .6, -.1, -.2, -.3, -.4, -.5, -.6}, VisBias: []float32{0, 1, 2, 3, 4, 5}, HidBias: []float32{.5, -.5},
		Mean: 2.25, UserOffset: []float32{.1, 0, -.1}, ItemOffset: []float32{.2, -.2},
		UserItems: [][]int32{{0, 1}, {1}, {0}}, UserLevels: [][]uint8{{2, 0}, {1}, {2}},
	}
}

func TestLoadCFChecks(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "cf.safetensors")
	if err := SaveCF(good, smallCF(), nil); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(good)
	for _, name := range []string{tTrainCase, tTrainVisible, tTrainLevel} {
		if !strings.Contains(string(b), `"`+name+`":{"dtype":"I32","shape":[4]`) {
			t.Fatalf("%s not stored as I32 [4]: %s", name, b[8:])
		}
	}
	check := func(p string) {
		t.Helper()
		m, _, err := LoadCF(p)
		if err != nil {
			t.Fatal(err)
		}
		want := smallCF()
		for u := range want.UserItems {
			if !slices.Equal(m.UserItems[u], want.UserItems[u]) || !slices.Equal(m.UserLevels[u], want.UserLevels[u]) {
				t.Fatalf("%s: case %d rated %v at %v, want %v at %v", p, u, m.UserItems[u], m.UserLevels[u], want.UserItems[u], want.UserLevels[u])
			}
		}
		if !slices.Equal(m.W, want.W) || m.Hidden != 2 || m.Mean != 2.25 || !slices.Equal(m.Levels, want.Levels) {
			t.Fatalf("%s: model %+v", p, m)
		}
	}
	check(good)
	// Files written before the indices became I32 hold them as F32.
	toF32 := func(f *File) {
		for _, name := range []string{tTrainCase, tTrainVisible, tTrainLevel} {
			tn := f.Tensors[name]
			tn.Data = make([]float32, len(tn.Ints))
			for i, v := range tn.Ints {
				tn.Data[i] = float32(v)
			}
			tn.Ints = nil
			f.Tensors[name] = tn
		}
	}
	old := rewrite(t, good, "old.safetensors", toF32)
	check(old)

	nan, inf := float32(math.NaN()), float32(math.Inf(-1))
	setInt := func(name string, i int, v int32) func(f *File) {
		return func(f *File) { f.Tensors[name].Ints[i] = v }
	}
	for name, c := range map[string]struct {
		src  string
		edit func(f *File)
		msg  string
	}{
		"nanweight":   {good, func(f *File) { set(f, tCFWeights, 5, nan) }, "tensor weights holds NaN at index 5"},
		"infvisbias":  {good, func(f *File) { set(f, tCFVisBias, 0, inf) }, "tensor visible_bias holds -Inf at index 0"},
		"nanhidbias":  {good, func(f *File) { set(f, tCFHidBias, 1, nan) }, "tensor hidden_bias holds NaN"},
		"nancaseoff":  {good, func(f *File) { set(f, tCaseOffset, 2, nan) }, "tensor case_offset holds NaN at index 2"},
		"nanvisoff":   {good, func(f *File) { set(f, tVisibleOff, 1, nan) }, "tensor visible_offset holds NaN at index 1"},
		"unsorted":    {good, func(f *File) { f.Meta["levels"] = "[3,1,2]" }, "rating levels [3 1 2] in the metadata are not finite and strictly increasing"},
		"duplicated":  {good, func(f *File) { f.Meta["levels"] = "[1,1,2]" }, "rating levels [1 1 2]"},
		"onelevel":    {good, func(f *File) { f.Meta["levels"] = "[1]" }, "1 rating levels in the metadata; a model has 2 to 255"},
		"manylevels":  {good, func(f *File) { f.Meta["levels"] = manyLevels(256) }, "256 rating levels in the metadata; a model has 2 to 255"},
		"nanlevel":    {good, func(f *File) { f.Meta["levels"] = "[1,NaN,3]" }, `metadata levels "[1,NaN,3]" is not a JSON list of numbers`},
		"hugelevel":   {good, func(f *File) { f.Meta["levels"] = "[1,2,1e999]" }, "is not a JSON list of numbers"},
		"binarylv":    {good, func(f *File) { f.Meta["binary"] = "true" }, "a binary (like/dislike) model with rating levels [1 2 3], want [0 1]"},
		"itembased":   {good, func(f *File) { f.Meta["item_based"] = "maybe" }, `metadata item_based "maybe" is not true or false`},
		"nanmean":     {good, func(f *File) { f.Meta["mean"] = "NaN" }, `metadata mean "NaN" is not a finite number`},
		"infmean":     {good, func(f *File) { f.Meta["mean"] = "+Inf" }, `metadata mean "+Inf" is not a finite number`},
		"threshold":   {good, func(f *File) { f.Meta["binary"] = "true"; f.Meta["like_threshold"] = "Inf" }, `metadata like_threshold "Inf"`},
		"fewercases":  {good, func(f *File) { f.Meta["cases"] = `["a","b"]` }, "tensor case_offset has shape [3], want [2]"},
		"morevisible": {good, func(f *File) { f.Meta["visibles"] = `["x","y","z"]` }, "tensor weights has shape [2 3 2], want [3, 3, hidden]"},
		"dupcase":     {good, func(f *File) { f.Meta["cases"] = `["a","b","a"]` }, `metadata cases has an empty or repeated id "a"`},
		"emptyid":     {good, func(f *File) { f.Meta["visibles"] = `["x",""]` }, `metadata visibles has an empty or repeated id ""`},
		"nocases":     {good, func(f *File) { f.Meta["cases"] = `[]` }, "metadata cases lists no ids"},
		"badcases":    {good, func(f *File) { f.Meta["cases"] = `{"a":1}` }, "metadata cases is not a JSON list of ids"},
		"nohidden": {good, func(f *File) {
			f.Tensors[tCFWeights] = Tensor{Name: tCFWeights, Shape: []int{2, 3, 0}, Data: []float32{}}
			f.Tensors[tCFHidBias] = Tensor{Name: tCFHidBias, Shape: []int{0}, Data: []float32{}}
		}, "with hidden at least 1"},
		"intweights": {good, func(f *File) {
			f.Tensors[tCFWeights] = Tensor{Name: tCFWeights, Shape: []int{2, 3, 2}, Ints: make([]int32, 12)}
		}, "tensor weights has dtype I32, want F32"},
		"case":    {good, setInt(tTrainCase, 1, 3), "tensor train_case: training rating 1 has index 3, outside [0, 3)"},
		"visible": {good, setInt(tTrainVisible, 3, -1), "tensor train_visible: training rating 3 has index -1, outside [0, 2)"},
		"level":   {good, setInt(tTrainLevel, 0, 255), "tensor train_level: training rating 0 has index 255, outside [0, 3)"},
		"f32frac": {old, func(f *File) { set(f, tTrainVisible, 2, 0.5) }, "tensor train_visible: training rating 2 has index 0.5, not a whole number in [0, 2)"},
		"f32nan":  {old, func(f *File) { set(f, tTrainCase, 0, nan) }, "tensor train_case: training rating 0 has index NaN"},
		"f32big":  {old, func(f *File) { set(f, tTrainLevel, 1, 1e30) }, "has index 1e+30, not a whole number in [0, 3)"},
		"f32neg":  {old, func(f *File) { set(f, tTrainLevel, 1, -1) }, "has index -1, not a whole number"},
		"nolevel": {good, func(f *File) { delete(f.Tensors, tTrainLevel) }, "tensor train_level missing"},
		"shortlevel": {good, func(f *File) {
			f.Tensors[tTrainLevel] = Tensor{Name: tTrainLevel, Shape: []int{3}, Ints: []int32{0, 1, 2}}
		}, "tensor train_level has shape [3], want [4] like train_case"},
		"case2d": {good, func(f *File) {
			f.Tensors[tTrainCase] = Tensor{Name: tTrainCase, Shape: []int{2, 2}, Ints: []int32{0, 1, 2, 0}}
		}, "tensor train_case has shape [2 2], want [ratings]"},
	} {
		p := rewrite(t, c.src, name, c.edit)
		_, _, err := LoadCF(p)
		wantErr(t, name, err, p, c.msg)
	}
}

// manyLevels returns a JSON list of n increasing levels.
func manyLevels(n int) string {
	l := make([]string, n)
	for i := range l {
		l[i] = strconv.Itoa(i)
	}
	return "[" + strings.Join(l, ",") + "]"
}
