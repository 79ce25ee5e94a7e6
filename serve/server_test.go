package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/harmonium-ml/harmonium/cf"
	"github.com/harmonium-ml/harmonium/mat32"
	"github.com/harmonium-ml/harmonium/modelfile"
	"github.com/harmonium-ml/harmonium/rbm"
)

// fixtures are model files shared by the tests, written once.
var fixtures struct {
	once         sync.Once
	dir          string
	cfItem, rbmF string
	err          error
}

// twoKinds returns ratings of 120 users of two kinds over 30 items: even
// users rate items 0-14 high and 15-29 low, odd users the other way round.
func twoKinds() *cf.Ratings {
	r := rand.New(rand.NewPCG(1, 2))
	var list []cf.Rating
	for u := 0; u < 120; u++ {
		for _, it := range r.Perm(30)[:15] {
			v := 1 + r.IntN(2)
			if (it < 15) == (u%2 == 0) {
				v = 4 + r.IntN(2)
			}
			list = append(list, cf.Rating{User: strconv.Itoa(u), Item: strconv.Itoa(it), Value: float64(v)})
		}
	}
	return &cf.Ratings{List: list, Source: "two kinds"}
}

var update = flag.Bool("update", false, "retrain the models in testdata")

// modelFiles returns a small item-based cf model trained on twoKinds and a
// 6-4 RBM: the files in testdata (trained once, so that the race detector's
// runs need not train), retrained there with -update or into a temporary
// folder when missing.
func modelFiles(t testing.TB) (cfPath, rbmPath string) {
	fixtures.once.Do(func() {
		cfPath, rbmPath := filepath.Join("testdata", "cf.safetensors"), filepath.Join("testdata", "rbm.safetensors")
		_, err1 := os.Stat(cfPath)
		_, err2 := os.Stat(rbmPath)
		if !*update && err1 == nil && err2 == nil {
			fixtures.cfItem, fixtures.rbmF = cfPath, rbmPath
			return
		}
		if !*update {
			dir, err := makeTempDir()
			if err != nil {
				fixtures.err = err
				return
			}
			fixtures.dir = dir
			cfPath, rbmPath = filepath.Join(dir, "cf.safetensors"), filepath.Join(dir, "rbm.safetensors")
		}
		fixtures.cfItem, fixtures.rbmF = cfPath, rbmPath
		fixtures.err = trainFixtures(cfPath, rbmPath)
	})
	if fixtures.err != nil {
		t.Fatal(fixtures.err)
	}
	return fixtures.cfItem, fixtures.rbmF
}

// trainFixtures trains the test models and saves them.
func trainFixtures(cfPath, rbmPath string) error {
	cfg := cf.DefaultConfig()
	cfg.Hidden, cfg.Epochs, cfg.LearningRate = 10, 20, 0.1
	cfg.Implicit.Hidden, cfg.Implicit.Epochs = 8, 10
	m, err := cf.Train(context.Background(), twoKinds(), cfg, nil)
	if err != nil {
		return err
	}
	if err := modelfile.SaveCF(cfPath, m, map[string]string{"ratings": "two kinds (serve tests)"}); err != nil {
		return err
	}
	data := mat32.New(20, 6)
	for i := range data.Data {
		data.Data[i] = float32((i * 7 % 5) % 2)
	}
	return modelfile.SaveRBM(rbmPath, rbm.NewInit(6, 4, data, 1), nil, nil)
}

// testServer starts a server on 127.0.0.1 with the fixture models
// ("ml", "digits") and a database in a temporary folder.
func testServer(t testing.TB, opt Options) (*Server, *httptest.Server) {
	t.Helper()
	cfPath, rbmPath := modelFiles(t)
	var models []*Model
	for name, p := range map[string]string{"ml": cfPath, "digits": rbmPath} {
		m, err := Load(name, p)
		if err != nil {
			t.Fatal(err)
		}
		models = append(models, m)
	}
	if opt.DB == "" {
		opt.DB = filepath.Join(t.TempDir(), "ratings.db")
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
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
	return s, hs
}

var client = &http.Client{Timeout: 10 * time.Second}

// call makes a request and decodes the JSON answer into a map.
func call(t *testing.T, method, url, body string, header ...string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("%s %s: %d, not a JSON object: %q", method, url, resp.StatusCode, data)
	}
	return resp.StatusCode, out
}

func TestEndpoints(t *testing.T) {
	s, hs := testServer(t, Options{Titles: map[string]string{"3": "Three"}})
	u := hs.URL
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, _ := call(t, "GET", u+p, ""); code != 200 {
			t.Errorf("%s: %d", p, code)
		}
	}
	code, out := call(t, "GET", u+"/v1/models", "")
	if code != 200 || len(out["models"].([]any)) != 2 {
		t.Fatalf("models: %d %v", code, out)
	}
	// A known user gets what the model itself recommends.
	want, err := s.models["ml"].CF.Model().Recommend("4", 5)
	if err != nil {
		t.Fatal(err)
	}
	code, out = call(t, "GET", u+"/v1/recommend/4?n=5", "")
	items, _ := out["items"].([]any)
	if code != 200 || out["popular"] != false || len(items) != 5 {
		t.Fatalf("recommend: %d %v", code, out)
	}
	for i, it := range items {
		if it.(map[string]any)["item"] != want[i].Item {
			t.Fatalf("recommend: %v, want %v", items, want)
		}
	}
	code, out = call(t, "GET", u+"/v1/recommend/nobody?n=3", "")
	if code != 200 || out["popular"] != true || len(out["items"].([]any)) != 3 {
		t.Fatalf("recommend to an unknown user: %d %v", code, out)
	}
	code, out = call(t, "GET", u+"/v1/predict/4/3", "")
	if p, _ := out["predicted"].(float64); code != 200 || p < 1 || p > 5 || out["title"] != "Three" {
		t.Fatalf("predict: %d %v", code, out)
	}
	code, out = call(t, "GET", u+"/v1/similar/3?n=4", "")
	if code != 200 || len(out["items"].([]any)) != 4 || out["measure"] == "" {
		t.Fatalf("similar: %d %v", code, out)
	}
	row := `[1, 0, 1, 0, 1, 0]`
	for op, check := range map[string]func([]any) bool{
		"features":    func(p []any) bool { return len(p) == 2 && len(p[0].([]any)) == 4 },
		"reconstruct": func(p []any) bool { return len(p) == 2 && len(p[0].([]any)) == 6 },
		"score":       func(p []any) bool { _, ok := p[0].(float64); return len(p) == 2 && ok },
	} {
		code, out = call(t, "POST", u+"/v1/models/digits/"+op, `{"instances": [`+row+`, `+row+`]}`)
		if p, _ := out["predictions"].([]any); code != 200 || !check(p) {
			t.Errorf("%s: %d %v", op, code, out)
		}
	}
	resp, err := client.Get(u + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	err = json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if err != nil || doc.OpenAPI == "" || doc.Paths["/v1/recommend/{user}"] == nil || doc.Paths["/v1/ratings"] == nil {
		t.Fatalf("openapi.json: %v %+v", err, doc)
	}
	resp, err = client.Get(u + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`harmonium_http_requests_total{code="200",method="GET",route="GET /v1/recommend/{user}"} 2`,
		`harmonium_model_load_seconds{kind="cf",model="ml"}`, "harmonium_http_request_duration_seconds_bucket", "harmonium_db_commits_total 0"} {
		if !bytes.Contains(text, []byte(want)) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestRatingsUsedAtOnce posts ratings of a new user and of a known one and
// checks that recommendations change at once and survive a restart.
func TestRatingsUsedAtOnce(t *testing.T) {
	db := filepath.Join(t.TempDir(), "r.db")
	s, hs := testServer(t, Options{DB: db})
	body := `[{"user":"newcomer","item":"0","rating":5},{"user":"newcomer","item":"1","rating":5},
		{"user":"newcomer","item":2,"rating":4},{"user":"newcomer","item":"16","rating":1},
		{"user":"newcomer","item":"17","rating":1},{"user":"newcomer","item":"no-such-film","rating":3},
		{"user":"4","item":"29","rating":2}]`
	code, out := call(t, "POST", hs.URL+"/v1/ratings", body)
	if code != 200 || out["stored"] != 7.0 || fmt.Sprint(out["unknown_items"]) != "[no-such-film]" {
		t.Fatalf("post: %d %v", code, out)
	}
	check := func(url string) {
		code, out := call(t, "GET", url+"/v1/recommend/newcomer?n=8", "")
		if code != 200 || out["popular"] != false || out["new_user"] != true {
			t.Fatalf("recommend after posting: %d %v", code, out)
		}
		mine := 0
		for _, it := range out["items"].([]any) {
			id := it.(map[string]any)["item"].(string)
			if id == "0" || id == "1" || id == "2" || id == "16" || id == "17" {
				t.Fatalf("recommended rated item %s: %v", id, out)
			}
			if n, _ := strconv.Atoi(id); n < 15 {
				mine++
			}
		}
		if mine < 6 {
			t.Errorf("only %d of 8 recommendations of the kind the newcomer likes: %v", mine, out["items"])
		}
		if code, _ := call(t, "GET", url+"/v1/predict/newcomer/5", ""); code != 200 {
			t.Errorf("predict for the newcomer: %d", code)
		}
		_, out = call(t, "GET", url+"/v1/recommend/4?n=1000", "")
		for _, it := range out["items"].([]any) {
			if it.(map[string]any)["item"] == "29" {
				t.Errorf("user 4 is recommended item 29, rated since")
			}
		}
	}
	check(hs.URL)
	hs.Close()
	s.Close()
	_, hs2 := testServer(t, Options{DB: db}) // a restart on the same database
	check(hs2.URL)
}

// TestBadRequests checks that every bad request gets a JSON error with its
// status, and that the server keeps serving.
func TestBadRequests(t *testing.T) {
	_, hs := testServer(t, Options{Token: "s3cret", MaxBody: 4096})
	u := hs.URL
	auth := []string{"Authorization", "Bearer s3cret"}
	big := `[` + strings.Repeat(`{"user":"1","item":"2","rating":3},`, 200) + `{"user":"1","item":"2","rating":3}]`
	cases := []struct {
		name, method, path, body string
		header                   []string
		code                     int
	}{
		{"malformed ratings JSON", "POST", "/v1/ratings", `[{"user":"1",`, auth, 400},
		{"malformed instances JSON", "POST", "/v1/models/digits/score", `{"instances": [[1, 0,]]}`, nil, 400},
		{"NaN rating", "POST", "/v1/ratings", `[{"user":"1","item":"2","rating":NaN}]`, auth, 400},
		{"NaN in a vector", "POST", "/v1/models/digits/features", `{"instances": [[NaN, 0, 0, 0, 0, 0]]}`, nil, 400},
		{"huge number in a vector", "POST", "/v1/models/digits/features", `{"instances": [[1e300, 0, 0, 0, 0, 0]]}`, nil, 400},
		{"rating above the scale", "POST", "/v1/ratings", `[{"user":"1","item":"2","rating":7}]`, auth, 400},
		{"rating below the scale", "POST", "/v1/ratings", `[{"user":"1","item":"2","rating":0}]`, auth, 400},
		{"rating missing", "POST", "/v1/ratings", `[{"user":"1","item":"2"}]`, auth, 400},
		{"no ratings", "POST", "/v1/ratings", `[]`, auth, 400},
		{"wrong vector length", "POST", "/v1/models/digits/features", `{"instances": [[1, 0, 1]]}`, nil, 400},
		{"value outside a Bernoulli unit's range", "POST", "/v1/models/digits/score", `{"instances": [[2, 0, 0, 0, 0, 0]]}`, nil, 400},
		{"unknown model", "POST", "/v1/models/nosuch/features", `{"instances": [[1]]}`, nil, 404},
		{"unknown operation", "POST", "/v1/models/digits/explode", `{"instances": [[1]]}`, nil, 404},
		{"cf model given vectors", "POST", "/v1/models/ml/features", `{"instances": [[1]]}`, nil, 400},
		{"unknown user on predict", "GET", "/v1/predict/nobody/3", "", nil, 404},
		{"unknown item on predict", "GET", "/v1/predict/4/nothing", "", nil, 404},
		{"unknown item on similar", "GET", "/v1/similar/nothing", "", nil, 404},
		{"bad n", "GET", "/v1/recommend/4?n=-3", "", nil, 400},
		{"unknown model for recommend", "GET", "/v1/recommend/4?model=nosuch", "", nil, 404},
		{"body over the limit", "POST", "/v1/ratings", big, auth, 413},
		{"missing token", "POST", "/v1/ratings", `[{"user":"1","item":"2","rating":3}]`, nil, 401},
		{"wrong token", "POST", "/v1/ratings", `[{"user":"1","item":"2","rating":3}]`, []string{"Authorization", "Bearer guess"}, 401},
		{"path traversal, raw", "POST", "/v1/models/../../etc/passwd/features", `{"instances": [[1]]}`, nil, 400},
		{"path traversal, encoded", "POST", "/v1/models/..%2F..%2Fetc%2Fpasswd/features", `{"instances": [[1]]}`, nil, 400},
		{"path traversal, dot name", "POST", "/v1/models/../features", `{"instances": [[1]]}`, nil, 400},
		{"no such endpoint", "GET", "/v2/anything", "", nil, 404},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out := rawCall(t, c.method, u, c.path, c.body, c.header...)
			if code != c.code || out["error"] == nil || out["status"] != float64(c.code) {
				t.Errorf("%d %v, want %d and a JSON error", code, out, c.code)
			}
			if code, _ := call(t, "GET", u+"/v1/recommend/4", ""); code != 200 {
				t.Errorf("the server stopped serving: %d", code)
			}
		})
	}
	if code, out := call(t, "POST", u+"/v1/ratings", `[{"user":"1","item":"2","rating":3}]`, auth...); code != 200 {
		t.Errorf("good token: %d %v", code, out)
	}
}

// rawCall sends path as written, without the client cleaning it, and
// decodes the JSON answer.
func rawCall(t *testing.T, method, base, path, body string, header ...string) (int, map[string]any) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	var req strings.Builder
	fmt.Fprintf(&req, "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n", method, path, len(body))
	for i := 0; i+1 < len(header); i += 2 {
		fmt.Fprintf(&req, "%s: %s\r\n", header[i], header[i+1])
	}
	req.WriteString("\r\n" + body)
	if _, err := io.WriteString(conn, req.String()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufioReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if json.Unmarshal(data, &out) != nil {
		t.Fatalf("%s %s: %d, not JSON: %q", method, path, resp.StatusCode, data)
	}
	return resp.StatusCode, out
}

// TestConcurrent hits recommend, features and ratings from many goroutines
// at once (run with -race).
func TestConcurrent(t *testing.T) {
	_, hs := testServer(t, Options{Workers: 2})
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	rounds := 30
	if testing.Short() {
		rounds = 10
	}
	for g := range 12 {
		wg.Go(func() {
			for i := range rounds {
				var resp *http.Response
				var err error
				switch (g + i) % 3 {
				case 0:
					resp, err = client.Get(fmt.Sprintf("%s/v1/recommend/%d?n=5", hs.URL, (g*7+i)%130))
				case 1:
					resp, err = client.Post(hs.URL+"/v1/models/digits/features", "application/json", strings.NewReader(`{"instances": [[1,0,1,0,1,0]]}`))
				default:
					body := fmt.Sprintf(`[{"user":"%d","item":"%d","rating":%d}]`, g, i%30, 1+i%5)
					resp, err = client.Post(hs.URL+"/v1/ratings", "application/json", strings.NewReader(body))
				}
				if err != nil {
					errs <- err.Error()
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					errs <- fmt.Sprintf("%s: %d", resp.Request.URL, resp.StatusCode)
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

// TestRunShutsDownGracefully starts Run, lets a request finish, cancels,
// and checks that Run returns and the database is closed.
func TestRunShutsDownGracefully(t *testing.T) {
	cfPath, _ := modelFiles(t)
	m, err := Load("ml", cfPath)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New([]*Model{m}, Options{DB: filepath.Join(t.TempDir(), "r.db"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, s, ln, 5*time.Second) }()
	if code, _ := call(t, "POST", "http://"+ln.Addr().String()+"/v1/ratings", `[{"user":"1","item":"2","rating":3}]`); code != 200 {
		t.Fatalf("post: %d", code)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	if err := s.store.Add(context.Background(), []cf.Rating{{User: "1", Item: "2", Value: 3}}); err == nil {
		t.Fatal("the database is still open after shutdown")
	}
}

func TestLoadRejects(t *testing.T) {
	cfPath, _ := modelFiles(t)
	for _, name := range []string{"..", "../x", "a/b", "", ".hidden", strings.Repeat("a", 65)} {
		if _, err := Load(name, cfPath); err == nil {
			t.Errorf("Load accepted the name %q", name)
		}
	}
	if _, err := Load("x", filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("Load accepted a missing file")
	}
}
