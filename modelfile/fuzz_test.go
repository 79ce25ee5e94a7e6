package modelfile

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/harmonium-ml/harmonium/cf"
	"github.com/harmonium-ml/harmonium/mat32"
	"github.com/harmonium-ml/harmonium/rbm"
)

// crasher is a header whose shape's byte count overflowed to 0.
var crasher = rawFile(`{"weights":{"dtype":"F32","shape":[2147483648,2147483648],"data_offsets":[0,0]}}`, nil)

// addFile adds the file at p and truncations of it to the corpus.
func addFile(f *testing.F, p string) {
	b, err := os.ReadFile(p)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	for _, n := range []int{0, 7, 8, 12, len(b) / 2, len(b) - 4, len(b) - 1} {
		if n >= 0 && n < len(b) {
			f.Add(b[:n])
		}
	}
}

// seedRBM adds RBM model files and checkpoints to the corpus.
func seedRBM(f *testing.F) {
	dir := f.TempDir()
	m := sample()
	p := filepath.Join(dir, "m.safetensors")
	if err := SaveRBM(p, m, map[string]string{"seed": "1"}, nil); err != nil {
		f.Fatal(err)
	}
	addFile(f, p)
	m.VisMean = []float32{.1, .2, .3, .4, .5}
	st := &rbm.State{Epoch: 2, VelW: mat32.New(5, 3), VelVis: make([]float32, 5), VelHid: make([]float32, 3), HidMean: make([]float32, 3),
		Chains: mat32.New(2, 5), VisOffset: make([]float32, 5), HidOffset: make([]float32, 3)}
	if err := SaveRBM(p, m, nil, st); err != nil {
		f.Fatal(err)
	}
	addFile(f, p)
	f.Add(crasher)
}

// seedCF adds collaborative-filtering model files to the corpus: user- and
// item-based, binary, and with the F32 indices of older files.
func seedCF(f *testing.F) {
	dir := f.TempDir()
	p := filepath.Join(dir, "cf.safetensors")
	m := smallCF()
	if err := SaveCF(p, m, nil); err != nil {
		f.Fatal(err)
	}
	addFile(f, p)
	old := rewrite(f, p, "old.safetensors", func(f *File) {
		for _, name := range []string{tTrainCase, tTrainVisible, tTrainLevel} {
			t := f.Tensors[name]
			for _, v := range t.Ints {
				t.Data = append(t.Data, float32(v))
			}
			t.Ints = nil
			f.Tensors[name] = t
		}
	})
	addFile(f, old)
	m.ItemBased = true
	m.Items, m.Users = m.Users[:2], []string{"x", "y", "z"} // 3 cases, 2 visibles
	if err := SaveCF(p, m, nil); err != nil {
		f.Fatal(err)
	}
	addFile(f, p)
	b := smallCF()
	b.Binary, b.LikeThreshold, b.Levels = true, 3, []float64{0, 1}
	b.Items = b.Items[:1]
	b.W, b.VisBias, b.ItemOffset = b.W[:4], b.VisBias[:2], b.ItemOffset[:1]
	b.UserItems, b.UserLevels = [][]int32{{0}, {}, {0}}, [][]uint8{{1}, {}, {0}}
	if err := SaveCF(p, b, nil); err != nil {
		f.Fatal(err)
	}
	addFile(f, p)
	f.Add(crasher)
}

// checkErr checks that err is one line, "read PATH: ...".
func checkErr(t *testing.T, err error, path string) {
	if s := err.Error(); !strings.HasPrefix(s, "read "+path+": ") || strings.Contains(s, "\n") {
		t.Fatalf("error %q is not one line \"read %s: ...\"", s, path)
	}
}

// fuzzFile returns a function that writes an input to a file in a
// directory of the fuzz target and returns its path. Inputs run one at a
// time in a process, so one file serves them all (faster than a
// directory per input).
func fuzzFile(f *testing.F) func(t *testing.T, data []byte) string {
	p := filepath.Join(f.TempDir(), "model.safetensors")
	return func(t *testing.T, data []byte) string {
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
}

func shapeLen(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

func FuzzRead(f *testing.F) {
	seedRBM(f)
	seedCF(f)
	f.Add(rawFile(`{"__metadata__":{"a":"b"},"i":{"dtype":"I32","shape":[2],"data_offsets":[0,8]},"e":{"dtype":"F32","shape":[0,3],"data_offsets":[8,8]}}`, make([]byte, 8)))
	f.Add(rawFile(`{"w":{"dtype":"F32","shape":[-1,-4],"data_offsets":[0,16]}}`, make([]byte, 16)))
	f.Add(rawFile(`{"w":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,16]}}`, make([]byte, 16)))
	file := fuzzFile(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		p := file(t, data)
		rf, err := Read(p)
		if err != nil {
			checkErr(t, err, p)
			return
		}
		if rf.Meta == nil || rf.Tensors == nil {
			t.Fatal("nil maps")
		}
		var ts []Tensor
		for name, tn := range rf.Tensors {
			if tn.Name != name || (tn.Data == nil) == (tn.Ints == nil) {
				t.Fatalf("tensor %q: name %q, F32 %v, I32 %v", name, tn.Name, tn.Data != nil, tn.Ints != nil)
			}
			if tn.Len() != shapeLen(tn.Shape) {
				t.Fatalf("tensor %s has %d values for shape %v", name, tn.Len(), tn.Shape)
			}
			ts = append(ts, tn)
		}
		// What was read can be written and read back.
		q := p + ".again"
		if err := Write(q, ts, rf.Meta); err != nil {
			t.Fatalf("rewriting: %v", err)
		}
		again, err := Read(q)
		if err != nil || len(again.Tensors) != len(rf.Tensors) || len(again.Meta) != len(rf.Meta) {
			t.Fatalf("reading back: %v", err)
		}
	})
}

func FuzzLoadRBM(f *testing.F) {
	seedRBM(f)
	file := fuzzFile(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		p := file(t, data)
		m, meta, st, err := LoadRBM(p)
		if err != nil {
			checkErr(t, err, p)
			return
		}
		nv, nh := m.Visible(), m.Hidden()
		if meta == nil || nv < 1 || nh < 1 || len(m.W.Data) != nv*nh || m.Validate() != nil {
			t.Fatalf("model %dx%d with %d weights: %v", nv, nh, len(m.W.Data), m.Validate())
		}
		if st == nil {
			return
		}
		if st.Epoch < 0 || st.VelW.Rows != nv || st.VelW.Cols != nh || len(st.VelW.Data) != nv*nh ||
			len(st.VelVis) != nv || len(st.VelHid) != nh || len(st.HidMean) != nh ||
			(st.VisOffset == nil) != (st.HidOffset == nil) || (st.VisOffset != nil && (len(st.VisOffset) != nv || len(st.HidOffset) != nh)) {
			t.Fatalf("state disagrees with the %dx%d model: %+v", nv, nh, st)
		}
		if c := st.Chains; c != nil && (c.Rows < 1 || c.Cols != nv || len(c.Data) != c.Rows*nv) {
			t.Fatalf("chains %dx%d for %d visible units", c.Rows, c.Cols, nv)
		}
	})
}

func FuzzLoadCF(f *testing.F) {
	seedCF(f)
	file := fuzzFile(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		p := file(t, data)
		m, meta, err := LoadCF(p)
		if err != nil {
			checkErr(t, err, p)
			return
		}
		M, K, F, C := len(m.Items), m.K(), m.Hidden, len(m.Users)
		if meta == nil || M < 1 || C < 1 || F < 1 || K < 2 || K > 255 || len(m.W) != M*K*F || len(m.VisBias) != M*K || len(m.HidBias) != F ||
			len(m.UserOffset) != C || len(m.ItemOffset) != M || len(m.UserItems) != C || len(m.UserLevels) != C {
			t.Fatalf("sizes disagree: M=%d K=%d F=%d C=%d", M, K, F, C)
		}
		for k, v := range m.Levels {
			if math.IsNaN(v) || math.IsInf(v, 0) || (k > 0 && v <= m.Levels[k-1]) {
				t.Fatalf("levels %v", m.Levels)
			}
		}
		for u := range m.UserItems {
			if len(m.UserItems[u]) != len(m.UserLevels[u]) {
				t.Fatalf("case %d: %d visibles, %d levels", u, len(m.UserItems[u]), len(m.UserLevels[u]))
			}
			for i, v := range m.UserItems[u] {
				if v < 0 || int(v) >= M || int(m.UserLevels[u][i]) >= K {
					t.Fatalf("case %d rates visible %d at level %d", u, v, m.UserLevels[u][i])
				}
			}
		}
		// A model that loads predicts without panicking.
		user, item := m.Users[0], m.Items[0]
		if m.ItemBased {
			user, item = item, user
		}
		m.Evaluate(&cf.Ratings{List: []cf.Rating{{User: user, Item: item, Value: m.Levels[0]}, {User: "?", Item: "?", Value: 1}}})
		m.Recommend(user, 2)
	})
}
