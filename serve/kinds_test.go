package serve

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/harmonium-ml/harmonium/ae"
	"github.com/harmonium-ml/harmonium/dbn"
	"github.com/harmonium-ml/harmonium/mat32"
	"github.com/harmonium-ml/harmonium/modelfile"
	"github.com/harmonium-ml/harmonium/nn"
	"github.com/harmonium-ml/harmonium/rbm"
)

// kindFiles writes a tiny model of every kind besides cf and rbm into dir
// and returns their files by name:
//
//	net    nn 4 -> dense 5, relu, dense 3 (a 3-class classifier)
//	vae    ae VAE 6 -> 5 -> 2-value code, Bernoulli outputs
//	gae    ae plain 6 -> 3 -> 6, Gaussian outputs (any real inputs)
//	deep   dbn 6 -> 4 -> 3, Bernoulli
//	gdbn   dbn 6 -> 4 with Gaussian visible units and a standardisation
func kindFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	path := func(name string) string {
		files[name] = filepath.Join(dir, name+".safetensors")
		return files[name]
	}
	net := nn.New(nn.Dense(4, 5, nn.Xavier), nn.ReLU(), nn.Dense(5, 3, nn.Xavier))
	net.Init(1)
	if err := modelfile.SaveNN(path("net"), net, map[string]string{"note": "serve test"}); err != nil {
		t.Fatal(err)
	}
	vae, err := ae.New(ae.Spec{Kind: ae.VAE, Input: nn.Flat(6), Layers: []int{5}, Code: 2}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := modelfile.SaveAE(path("vae"), vae, nil); err != nil {
		t.Fatal(err)
	}
	gae, err := ae.New(ae.Spec{Kind: ae.AE, Input: nn.Flat(6), Code: 3, Output: ae.Gaussian}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := modelfile.SaveAE(path("gae"), gae, nil); err != nil {
		t.Fatal(err)
	}
	d, err := dbn.New([]*rbm.RBM{randomRBM(6, 4, 3), randomRBM(4, 3, 4)}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := modelfile.SaveDBN(path("deep"), d, len(d.Layers), nil, nil); err != nil {
		t.Fatal(err)
	}
	g := randomRBM(6, 4, 5)
	g.VisUnits = rbm.Gaussian
	g.Scaler = &rbm.Scaler{Mean: []float32{10, 20, 30, 40, 50, 60}, Std: []float32{1, 2, 3, 4, 5, 6}}
	gd, err := dbn.New([]*rbm.RBM{g}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := modelfile.SaveDBN(path("gdbn"), gd, 1, nil, nil); err != nil {
		t.Fatal(err)
	}
	return files
}

// randomRBM returns a Bernoulli RBM with weights large enough that its
// answers differ from instance to instance.
func randomRBM(v, h int, seed uint64) *rbm.RBM {
	m := rbm.NewInit(v, h, nil, seed)
	for i := range m.W.Data {
		m.W.Data[i] *= 100
	}
	return m
}

// kindsServer starts a server with the models of kindFiles loaded by Load,
// and the fixtures "ml" (cf) and "digits" (rbm).
func kindsServer(t *testing.T, opt Options) (*Server, string) {
	t.Helper()
	files := kindFiles(t, t.TempDir())
	cfPath, rbmPath := modelFiles(t)
	files["ml"], files["digits"] = cfPath, rbmPath
	var models []*Model
	for _, name := range []string{"ml", "digits", "net", "vae", "gae", "deep", "gdbn"} {
		m, err := Load(name, files[name])
		if err != nil {
			t.Fatal(err)
		}
		models = append(models, m)
	}
	opt.DB = filepath.Join(t.TempDir(), "ratings.db")
	opt.Logger = slog.New(slog.DiscardHandler)
	s, err := New(models, opt)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(s)
	hs.Config.ReadHeaderTimeout = 5 * time.Second
	hs.Start()
	t.Cleanup(func() {
		hs.Close()
		s.Close()
	})
	return s, hs.URL
}

// post sends body with the given Content-Type and returns the status and
// the raw answer.
func post(t *testing.T, url, contentType string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest("POST", url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, data
}

// predict posts the rows of x as JSON instances and decodes the
// predictions into out.
func predict(t *testing.T, url string, x *mat32.Dense, out any) {
	t.Helper()
	code, data := post(t, url, "application/json", instancesJSON(x))
	if code != 200 {
		t.Fatalf("POST %s: %d %s", url, code, data)
	}
	decodePredictions(t, data, out)
}

func decodePredictions(t *testing.T, data []byte, out any) {
	t.Helper()
	var body struct{ Predictions json.RawMessage }
	if err := json.Unmarshal(data, &body); err != nil || body.Predictions == nil {
		t.Fatalf("not predictions: %v %s", err, data)
	}
	if err := json.Unmarshal(body.Predictions, out); err != nil {
		t.Fatalf("predictions %s: %v", body.Predictions, err)
	}
}

func instancesJSON(x *mat32.Dense) []byte {
	rows := make([][]float32, x.Rows)
	for i := range rows {
		rows[i] = x.Row(i)
	}
	b, _ := json.Marshal(map[string]any{"instances": rows})
	return b
}

// npyBody returns x as a .npy file of the given dtype, <f4 or <f8.
func npyBody(x *mat32.Dense, descr string) []byte {
	h := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%d, %d), }", descr, x.Rows, x.Cols)
	h += strings.Repeat(" ", 63-(10+len(h))%64) + "\n"
	b := binary.LittleEndian.AppendUint16([]byte("\x93NUMPY\x01\x00"), uint16(len(h)))
	b = append(b, h...)
	for _, v := range x.Data {
		if descr == "<f8" {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(float64(v)))
		} else {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		}
	}
	return b
}

// sample returns rows x cols values in [0, 1), different per row.
func sample(rows, cols int) *mat32.Dense {
	x := mat32.New(rows, cols)
	for i := range x.Data {
		x.Data[i] = float32((i*37+11)%100) / 100
	}
	return x
}

// sameRows fails unless got holds exactly the rows of want.
func sameRows(t *testing.T, what string, got [][]float32, want *mat32.Dense) {
	t.Helper()
	if len(got) != want.Rows {
		t.Fatalf("%s: %d rows, want %d", what, len(got), want.Rows)
	}
	for i, row := range got {
		if len(row) != want.Cols {
			t.Fatalf("%s: row %d has %d values, want %d", what, i, len(row), want.Cols)
		}
		for j, v := range row {
			if v != want.At(i, j) {
				t.Fatalf("%s: value (%d, %d) is %v, want %v", what, i, j, v, want.At(i, j))
			}
		}
	}
}

// closeTo reports whether a and b agree to a relative 1e-5.
func closeTo(a, b float64) bool { return math.Abs(a-b) <= 1e-5*math.Max(1, math.Abs(b)) }

func TestKindsListed(t *testing.T) {
	_, u := kindsServer(t, Options{})
	code, out := call(t, "GET", u+"/v1/models", "")
	if code != 200 {
		t.Fatalf("%d %v", code, out)
	}
	byName := map[string]map[string]any{}
	for _, m := range out["models"].([]any) {
		mm := m.(map[string]any)
		byName[mm["name"].(string)] = mm
	}
	for name, want := range map[string]map[string]string{
		"net":    {"kind": "nn", "inputs": "4", "classes": "3", "layers": "[0 dense 1 relu 2 dense]", "operations": "[features classify]"},
		"vae":    {"kind": "ae", "ae_kind": "vae", "inputs": "6", "code": "2", "output": "bernoulli", "operations": "[features reconstruct score]"},
		"gae":    {"kind": "ae", "ae_kind": "ae", "inputs": "6", "code": "3", "output": "gaussian"},
		"deep":   {"kind": "dbn", "inputs": "6", "sizes": "[6 4 3]", "labels": "0", "standardized": "false", "operations": "[features reconstruct score]"},
		"gdbn":   {"kind": "dbn", "visible_units": "gaussian", "top_units": "bernoulli", "standardized": "true"},
		"digits": {"kind": "rbm", "visible": "6", "hidden": "4", "operations": "[features reconstruct score]"},
	} {
		m := byName[name]
		if m == nil {
			t.Fatalf("%s not listed: %v", name, out)
		}
		for k, v := range want {
			if got := fmt.Sprint(m[k]); got != v {
				t.Errorf("%s: %s is %s, want %s", name, k, got, v)
			}
		}
	}
	if _, ok := byName["ml"]["operations"]; ok {
		t.Errorf("the cf model lists model operations: %v", byName["ml"])
	}
	if byName["net"]["metadata"].(map[string]any)["note"] != "serve test" {
		t.Errorf("net's metadata: %v", byName["net"]["metadata"])
	}
}

func TestKindEndpoints(t *testing.T) {
	s, u := kindsServer(t, Options{})
	op := func(name, op string) string { return u + "/v1/models/" + name + "/" + op }

	t.Run("nn", func(t *testing.T) {
		net := s.models["net"].NN
		x := sample(5, 4)
		for i := range x.Data {
			x.Data[i] = 4*x.Data[i] - 2 // any real inputs
		}
		var preds []classification
		predict(t, op("net", "classify"), x, &preds)
		want := net.Predict(x)
		logits := net.Outputs(x)
		if len(preds) != 5 {
			t.Fatalf("%d predictions", len(preds))
		}
		for i, p := range preds {
			var sum float64
			for _, q := range p.Probabilities {
				sum += float64(q)
			}
			if p.Class != want[i] || len(p.Probabilities) != 3 || math.Abs(sum-1) > 1e-5 {
				t.Fatalf("prediction %d: %+v, want class %d", i, p, want[i])
			}
			// The softmax: probability ratios are exponentiated logit differences.
			r := math.Log(float64(p.Probabilities[0]) / float64(p.Probabilities[1]))
			if d := float64(logits.At(i, 0) - logits.At(i, 1)); math.Abs(r-d) > 1e-4 {
				t.Fatalf("prediction %d: log p0/p1 = %v, logits differ by %v", i, r, d)
			}
		}
		for k, width := range []int{5, 5, 3} {
			var got [][]float32
			predict(t, fmt.Sprintf("%s?layer=%d", op("net", "features"), k), x, &got)
			sameRows(t, fmt.Sprintf("layer %d", k), got, net.Features(x, k))
			if len(got[0]) != width {
				t.Fatalf("layer %d: %d values", k, len(got[0]))
			}
		}
	})

	t.Run("ae", func(t *testing.T) {
		for _, name := range []string{"vae", "gae"} {
			m := s.models[name].AE
			x := sample(4, 6)
			var feats, rec [][]float32
			var scores []float64
			predict(t, op(name, "features"), x, &feats)
			sameRows(t, name+" features", feats, m.Features(x))
			predict(t, op(name, "reconstruct"), x, &rec)
			r := m.Reconstruct(x)
			sameRows(t, name+" reconstruct", rec, r)
			predict(t, op(name, "score"), x, &scores)
			var mean float64
			for i, sc := range scores {
				var want float64
				for j, v := range x.Row(i) {
					want += (float64(v) - float64(r.At(i, j))) * (float64(v) - float64(r.At(i, j)))
				}
				if !closeTo(sc, want) {
					t.Fatalf("%s score %d: %v, want %v", name, i, sc, want)
				}
				mean += sc / float64(len(scores))
			}
			if len(scores) != 4 || !closeTo(mean, m.ReconError(x)) {
				t.Fatalf("%s scores %v, mean reconstruction error %v", name, scores, m.ReconError(x))
			}
		}
		// Gaussian outputs take any real inputs.
		x := sample(2, 6)
		x.Data[0] = 7
		var rec [][]float32
		predict(t, op("gae", "reconstruct"), x, &rec)
	})

	t.Run("dbn", func(t *testing.T) {
		d := s.models["deep"].DBN
		x := sample(3, 6)
		var feats, rec [][]float32
		var scores []float64
		predict(t, op("deep", "features"), x, &feats)
		top, _ := d.Transform(x, 2)
		sameRows(t, "dbn features", feats, top)
		predict(t, op("deep", "reconstruct"), x, &rec)
		down, _ := d.Down(top, 2, nil)
		sameRows(t, "dbn reconstruct", rec, down)
		predict(t, op("deep", "score"), x, &scores)
		for i, sc := range scores {
			want := 0.0
			for j, v := range x.Row(i) {
				want += math.Pow(float64(v)-float64(down.At(i, j)), 2)
			}
			if !closeTo(sc, want) {
				t.Fatalf("dbn score %d: %v, want %v", i, sc, want)
			}
		}
		if scores[0] == scores[1] && scores[1] == scores[2] {
			t.Errorf("dbn scores do not depend on the instance: %v", scores)
		}
	})

	t.Run("dbn with a standardisation", func(t *testing.T) {
		d := s.models["gdbn"].DBN
		x := sample(3, 6)
		for i := range x.Data {
			x.Data[i] = 10*float32(i%6+1) + 5*x.Data[i] // around the Scaler's means
		}
		z := x.Clone()
		d.Scaler().Apply(z)
		top, _ := d.Transform(z, 1)
		down, _ := d.Down(top, 1, nil)
		d.Scaler().Invert(down)
		var feats, rec [][]float32
		var scores []float64
		predict(t, op("gdbn", "features"), x, &feats)
		sameRows(t, "gdbn features", feats, top)
		predict(t, op("gdbn", "reconstruct"), x, &rec)
		sameRows(t, "gdbn reconstruct (on the data's scale)", rec, down)
		predict(t, op("gdbn", "score"), x, &scores)
		for i, sc := range scores {
			want := 0.0
			for j, v := range x.Row(i) {
				want += math.Pow(float64(v)-float64(down.At(i, j)), 2)
			}
			if !closeTo(sc, want) {
				t.Fatalf("gdbn score %d: %v, want %v (on the data's scale)", i, sc, want)
			}
		}
	})

	t.Run("rbm as before", func(t *testing.T) {
		m := s.models["digits"].RBM
		x := mat32.FromSlice(2, 6, []float32{1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 1})
		var feats [][]float32
		var scores []float64
		predict(t, op("digits", "features"), x, &feats)
		sameRows(t, "rbm features", feats, m.Transform(x))
		predict(t, op("digits", "score"), x, &scores)
		if want := m.FreeEnergies(x); !closeTo(scores[1], want[1]) {
			t.Fatalf("rbm score %v, want %v", scores, want)
		}
	})
}

// TestKindsNPY sends .npy bodies (float32 and float64, labelled by
// Content-Type or not at all) and checks that they get the answers of the
// same instances as JSON, and that bad ones get JSON errors.
func TestKindsNPY(t *testing.T) {
	_, u := kindsServer(t, Options{MaxBatch: 8, MaxBody: 4096})
	x6, x4 := sample(3, 6), sample(3, 4)
	for _, path := range []string{"/v1/models/deep/score", "/v1/models/vae/features", "/v1/models/gae/reconstruct",
		"/v1/models/net/classify", "/v1/models/net/features?layer=1", "/v1/models/digits/features"} {
		x := x6
		if strings.Contains(path, "/net/") {
			x = x4
		}
		code, want := post(t, u+path, "application/json", instancesJSON(x))
		if code != 200 {
			t.Fatalf("%s JSON: %d %s", path, code, want)
		}
		for _, ct := range []string{"application/x-npy", "application/octet-stream", "", "application/x-npy; charset=binary"} {
			for _, descr := range []string{"<f4", "<f8"} {
				code, got := post(t, u+path, ct, npyBody(x, descr))
				if code != 200 || !bytes.Equal(got, want) {
					t.Errorf("%s .npy %s as %q: %d %s, want %s", path, descr, ct, code, got, want)
				}
			}
		}
	}
	big := sample(9, 6)
	huge := sample(200, 6)
	for _, c := range []struct {
		name, path string
		body       []byte
		code       int
		says       string
	}{
		{"wrong width", "/v1/models/deep/features", npyBody(sample(2, 5), "<f4"), 400, "the .npy body's instances have 5 values, the model takes 6"},
		{"over the batch cap", "/v1/models/deep/features", npyBody(big, "<f4"), 413, "9 instances, at most 8"},
		{"over the body limit", "/v1/models/deep/features", npyBody(huge, "<f8"), 413, "body over 4096 bytes"},
		{"truncated", "/v1/models/vae/score", npyBody(x6, "<f4")[:100], 400, "truncated"},
		{"trailing bytes", "/v1/models/vae/score", append(npyBody(x6, "<f4"), 1, 2, 3), 400, "3 bytes after the data"},
		{"not .npy", "/v1/models/vae/score", []byte(`{"instances": [[0,0,0,0,0,0]]}`), 400, "not a .npy file"},
		{"NaN", "/v1/models/gae/score", npyBody(mat32.FromSlice(1, 6, []float32{0, 0, float32(math.NaN()), 0, 0, 0}), "<f4"), 400, "not finite"},
		{"outside [0, 1] for Bernoulli outputs", "/v1/models/vae/score", npyBody(mat32.FromSlice(1, 6, []float32{0, 0, 2, 0, 0, 0}), "<f4"), 400, "outside [0, 1]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, data := post(t, u+c.path, "application/x-npy", c.body)
			checkError(t, code, data, c.code, c.says)
		})
	}
	// The limits apply to JSON bodies alike.
	code, data := post(t, u+"/v1/models/deep/features", "application/json", instancesJSON(huge))
	checkError(t, code, data, 413, "body over 4096 bytes")
	code, data = post(t, u+"/v1/models/deep/features", "application/json", instancesJSON(big))
	checkError(t, code, data, 413, "9 instances, at most 8")
}

// checkError fails unless an answer is a JSON error of the given status
// whose message says says.
func checkError(t *testing.T, code int, data []byte, want int, says string) {
	t.Helper()
	var e errorBody
	if code != want || json.Unmarshal(data, &e) != nil || e.Status != want || !strings.Contains(e.Error, says) {
		t.Errorf("%d %s, want %d saying %q", code, data, want, says)
	}
}

func TestKindsBadRequests(t *testing.T) {
	_, u := kindsServer(t, Options{MaxBatch: 4})
	row6, row4 := `[0.5, 0, 1, 0, 1, 0]`, `[0.5, 0, 1, -3]`
	five := `{"instances": [` + strings.Repeat(row6+",", 4) + row6 + `]}`
	for _, c := range []struct {
		name, path, body string
		code             int
		says             string
	}{
		{"classify on an autoencoder", "/v1/models/vae/classify", `{"instances": [` + row6 + `]}`, 400, `model "vae" (kind ae) answers features, reconstruct, score, not classify`},
		{"classify on a dbn", "/v1/models/deep/classify", `{"instances": [` + row6 + `]}`, 400, "answers features, reconstruct, score"},
		{"classify on an rbm", "/v1/models/digits/classify", `{"instances": [` + row6 + `]}`, 400, "answers features, reconstruct, score"},
		{"reconstruct on a network", "/v1/models/net/reconstruct", `{"instances": [` + row4 + `]}`, 400, `model "net" (kind nn) answers features (with ?layer=K), classify, not reconstruct`},
		{"score on a network", "/v1/models/net/score", `{"instances": [` + row4 + `]}`, 400, "not score"},
		{"classify on a cf model", "/v1/models/ml/classify", `{"instances": [[1]]}`, 400, "GET /v1/recommend/{user}"},
		{"unknown operation", "/v1/models/net/predict", `{"instances": [` + row4 + `]}`, 404, "want features, reconstruct, score or classify"},
		{"nn features without a layer", "/v1/models/net/features", `{"instances": [` + row4 + `]}`, 400, "need ?layer=K, the layer whose outputs to return: model \"net\" has layers 0 to 2 (0 dense, 1 relu, 2 dense)"},
		{"nn features, layer out of range", "/v1/models/net/features?layer=3", `{"instances": [` + row4 + `]}`, 400, "has layers 0 to 2"},
		{"nn features, negative layer", "/v1/models/net/features?layer=-1", `{"instances": [` + row4 + `]}`, 400, "has layers 0 to 2"},
		{"nn features, layer not a number", "/v1/models/net/features?layer=top", `{"instances": [` + row4 + `]}`, 400, `?layer="top"`},
		{"layer on an autoencoder", "/v1/models/vae/features?layer=1", `{"instances": [` + row6 + `]}`, 400, "applies to the features of nn models"},
		{"wrong width, nn", "/v1/models/net/classify", `{"instances": [` + row6 + `]}`, 400, "instance 1 has 6 values, the model takes 4"},
		{"wrong width, ae", "/v1/models/vae/features", `{"instances": [` + row4 + `]}`, 400, "instance 1 has 4 values, the model takes 6"},
		{"wrong width, dbn", "/v1/models/deep/features", `{"instances": [` + row6 + `, ` + row4 + `]}`, 400, "instance 2 has 4 values"},
		{"NaN, nn", "/v1/models/net/classify", `{"instances": [[NaN, 0, 0, 0]]}`, 400, "malformed JSON"},
		{"huge value, nn", "/v1/models/net/classify", `{"instances": [[1e39, 0, 0, 0]]}`, 400, "not a finite number"},
		{"outside [0, 1], vae", "/v1/models/vae/score", `{"instances": [[0, 0, 0, 0, 0, 1.5]]}`, 400, "outside [0, 1]"},
		{"outside [0, 1], dbn", "/v1/models/deep/reconstruct", `{"instances": [[0, -0.5, 0, 0, 0, 0]]}`, 400, "Bernoulli"},
		{"no instances", "/v1/models/gae/score", `{"instances": []}`, 400, "at least one instance"},
		{"over the batch cap", "/v1/models/gae/score", five, 413, "5 instances, at most 4"},
		{"answer overflows float32", "/v1/models/net/classify", `{"instances": [[-3e38, 3e38, -3e38, 3e38]]}`, 400, "the model's answer for instance 1 is not finite"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, data := post(t, u+c.path, "", []byte(c.body))
			checkError(t, code, data, c.code, c.says)
		})
	}
}

// TestLoadRefusesUnfinishedDBN checks that the checkpoint of a DBN still
// in training is not served.
func TestLoadRefusesUnfinishedDBN(t *testing.T) {
	d, err := dbn.New([]*rbm.RBM{randomRBM(6, 4, 1)}, 0)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "ck.safetensors")
	if err := modelfile.SaveDBN(p, d, 2, nil, &dbn.State{Done: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := Load("ck", p); err == nil || !strings.Contains(err.Error(), "unfinished") {
		t.Fatalf("Load: %v", err)
	}
}

// TestKindsConcurrent sends requests of every kind from many goroutines at
// once, checking each answer against the one a lone request got, so that
// a network's buffers shared between requests would show (and the race
// detector sees the accesses).
func TestKindsConcurrent(t *testing.T) {
	_, u := kindsServer(t, Options{Workers: 4})
	type req struct {
		path string
		body []byte
		ct   string
	}
	var reqs []req
	for i, path := range []string{"/v1/models/net/classify", "/v1/models/net/features?layer=0", "/v1/models/vae/features",
		"/v1/models/vae/reconstruct", "/v1/models/gae/score", "/v1/models/deep/features", "/v1/models/deep/reconstruct",
		"/v1/models/gdbn/score", "/v1/models/digits/reconstruct"} {
		width := 6
		if strings.Contains(path, "/net/") {
			width = 4
		}
		for n := 1; n <= 3; n++ {
			x := sample(n+i%2, width)
			body, ct := instancesJSON(x), "application/json"
			if n == 2 {
				body, ct = npyBody(x, "<f4"), "application/x-npy"
			}
			reqs = append(reqs, req{path, body, ct})
		}
	}
	want := make([][]byte, len(reqs))
	for i, r := range reqs {
		code, data := post(t, u+r.path, r.ct, r.body)
		if code != 200 {
			t.Fatalf("%s: %d %s", r.path, code, data)
		}
		want[i] = data
	}
	rounds := 20
	if testing.Short() {
		rounds = 6
	}
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	for g := range 12 {
		wg.Go(func() {
			for k := range rounds {
				i := (g*7 + k*5) % len(reqs)
				req, err := http.NewRequest("POST", u+reqs[i].path, bytes.NewReader(reqs[i].body))
				if err != nil {
					errs <- err.Error()
					return
				}
				req.Header.Set("Content-Type", reqs[i].ct)
				resp, err := client.Do(req)
				if err != nil {
					errs <- err.Error()
					return
				}
				data, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || !bytes.Equal(data, want[i]) {
					select {
					case errs <- fmt.Sprintf("%s: %d %s, want %s", reqs[i].path, resp.StatusCode, data, want[i]):
					default:
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestOpenAPIModelOps checks that openapi.json describes every operation
// of every kind, with the ?layer parameter and .npy bodies, and that every
// $ref in it resolves.
func TestOpenAPIModelOps(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	paths := doc["paths"].(map[string]any)
	for kind, ops := range kindOps {
		for _, op := range ops {
			p, ok := paths["/v1/models/{name}/"+op].(map[string]any)
			if !ok {
				t.Fatalf("openapi.json has no /v1/models/{name}/%s (kind %s)", op, kind)
			}
			if summary := p["post"].(map[string]any)["summary"].(string); !strings.Contains(summary, kind) {
				t.Errorf("%s's summary does not say what kind %s gives: %q", op, kind, summary)
			}
		}
	}
	text := string(OpenAPI())
	for _, want := range []string{`"application/x-npy"`, `"name": "layer"`, `"#/components/schemas/Classification"`} {
		if !strings.Contains(text, want) {
			t.Errorf("openapi.json lacks %s", want)
		}
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				var node any = doc
				for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
					m, _ := node.(map[string]any)
					node = m[part]
				}
				if node == nil {
					t.Errorf("$ref %s does not resolve", ref)
				}
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
}
