package serve

import (
	"bufio"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/harmonium-ml/harmonium/serve/ratingstore"
)

// TestMetricsMethodsBounded sends requests with made-up methods and checks
// that they share one metrics label, so that clients cannot grow the
// metrics (and the server's memory) without bound.
func TestMetricsMethodsBounded(t *testing.T) {
	_, hs := testServer(t, Options{})
	for i := range 20 {
		code, out := rawCall(t, fmt.Sprintf("MADEUP%d", i), hs.URL, "/healthz", "")
		if code < 400 || code >= 500 || out["error"] == nil {
			t.Fatalf("method MADEUP%d: %d %v", i, code, out)
		}
	}
	resp, err := client.Get(hs.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(text), "MADEUP") {
		t.Errorf("a client's made-up method became a metrics label")
	}
	if !strings.Contains(string(text), `method="other"`) {
		t.Errorf("no method=\"other\" in the metrics")
	}
}

// TestWrongMethod checks that a method a path does not answer gets a 405
// with an Allow header and a JSON error, and that paths no method answers
// still get a 404.
func TestWrongMethod(t *testing.T) {
	_, hs := testServer(t, Options{})
	cases := []struct{ method, path, allow string }{
		{"POST", "/healthz", "GET, HEAD"},
		{"DELETE", "/v1/recommend/4", "GET, HEAD"},
		{"PUT", "/v1/ratings", "POST"},
		{"GET", "/v1/ratings", "POST"},
		{"GET", "/v1/models/digits/features", "POST"},
		{"POST", "/v1/predict/4/3", "GET, HEAD"},
	}
	for _, c := range cases {
		req, err := http.NewRequest(c.method, hs.URL+c.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var out map[string]any
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if resp.StatusCode != 405 || resp.Header.Get("Allow") != c.allow || err != nil || out["status"] != 405.0 {
			t.Errorf("%s %s: %d, Allow %q, %v %v; want 405, Allow %q and a JSON error",
				c.method, c.path, resp.StatusCode, resp.Header.Get("Allow"), out, err, c.allow)
		}
	}
	if code, out := call(t, "DELETE", hs.URL+"/v2/nothing", ""); code != 404 || out["error"] == nil {
		t.Errorf("DELETE /v2/nothing: %d %v, want 404", code, out)
	}
}

// TestSlowBodyHoldsNoWorkSlot starts requests that send their bodies
// slowly, as many as there are work slots, and checks that other requests
// are still answered at once.
func TestSlowBodyHoldsNoWorkSlot(t *testing.T) {
	_, hs := testServer(t, Options{Workers: 1})
	for _, path := range []string{"/v1/models/digits/score", "/v1/ratings"} {
		conn, err := net.DialTimeout("tcp", strings.TrimPrefix(hs.URL, "http://"), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{", path)
	}
	time.Sleep(100 * time.Millisecond)
	quick := &http.Client{Timeout: 3 * time.Second}
	resp, err := quick.Get(hs.URL + "/v1/recommend/4?n=2")
	if err != nil {
		t.Fatalf("a request behind slow senders: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("a request behind slow senders: %d", resp.StatusCode)
	}
}

// TestSlowBodiesAreBounded fills every body slot with requests that send
// their bodies slowly and checks that another request with a body waits
// for one (the bodies held in memory stay bounded), while requests without
// a body are still answered, and that it is answered once a slot frees.
func TestSlowBodiesAreBounded(t *testing.T) {
	s, hs := testServer(t, Options{Workers: 1, MaxBody: bodyBudget})
	if cap(s.bodies) != 4 {
		t.Fatalf("%d body slots for one worker and bodies of bodyBudget bytes, want 4", cap(s.bodies))
	}
	var slow []net.Conn
	for range 4 {
		conn, err := net.DialTimeout("tcp", strings.TrimPrefix(hs.URL, "http://"), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST /v1/models/digits/score HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
		slow = append(slow, conn)
	}
	time.Sleep(100 * time.Millisecond)
	done := make(chan int, 1)
	go func() {
		resp, err := client.Post(hs.URL+"/v1/models/digits/score", "application/json", strings.NewReader(`{"instances": [[1, 0, 1, 0, 1, 0]]}`))
		if err != nil {
			done <- -1
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	select {
	case code := <-done:
		t.Fatalf("a body read while %d slow bodies hold every body slot: %d", len(slow), code)
	case <-time.After(300 * time.Millisecond):
	}
	if code, out := call(t, "GET", hs.URL+"/v1/recommend/4?n=2", ""); code != 200 {
		t.Fatalf("a request without a body behind slow senders: %d %v", code, out)
	}
	slow[0].Close()
	select {
	case code := <-done:
		if code != 200 {
			t.Errorf("the waiting request, once a body slot freed: %d", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting request was not answered once a body slot freed")
	}
}

// TestBodyOverLimitByPadding checks that a body over MaxBody is refused
// even when what lies past the limit is only whitespace after the JSON.
func TestBodyOverLimitByPadding(t *testing.T) {
	_, hs := testServer(t, Options{MaxBody: 200})
	for path, body := range map[string]string{
		"/v1/ratings":             `[{"user":"1","item":"2","rating":3}]`,
		"/v1/models/digits/score": `{"instances": [[1, 0, 1, 0, 1, 0]]}`,
	} {
		code, out := call(t, "POST", hs.URL+path, body+strings.Repeat(" ", 300))
		if code != 413 || out["error"] == nil {
			t.Errorf("%s with a padded body of %d bytes: %d %v, want 413", path, len(body)+300, code, out)
		}
	}
}

// TestEmptyInstancesAllocateNothing sends many empty instances to a wide
// model and checks that the instances' width is checked before a matrix
// of the model's width is allocated for them.
func TestEmptyInstancesAllocateNothing(t *testing.T) {
	s, _ := testServer(t, Options{MaxBatch: 1 << 20})
	body := `{"instances": [[]` + strings.Repeat(`, []`, 63) + `]}`
	const width = 1 << 20 // 64 such rows: 256 MiB
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r := httptest.NewRequest("POST", "/v1/models/wide/features", strings.NewReader(body))
	_, err := s.readInstances(httptest.NewRecorder(), r, width)
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Fatal("empty instances accepted")
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
		t.Errorf("%d bytes allocated for a %d-byte body of empty instances", grew, len(body))
	}
}

// TestOpenAPIListsErrorStatuses makes requests that fail and checks that
// openapi.json lists each status they get for their endpoint.
func TestOpenAPIListsErrorStatuses(t *testing.T) {
	_, hs := testServer(t, Options{Token: "t", MaxBody: 300})
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]any `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	auth := []string{"Authorization", "Bearer t"}
	cases := []struct {
		method, spec, path, body string
		header                   []string
	}{
		{"GET", "/v1/recommend/{user}", "/v1/recommend/4?model=digits", "", nil},
		{"GET", "/v1/recommend/{user}", "/v1/recommend/4?n=0", "", nil},
		{"GET", "/v1/recommend/{user}", "/v1/recommend/4?model=nosuch", "", nil},
		{"GET", "/v1/predict/{user}/{item}", "/v1/predict/4/3?model=digits", "", nil},
		{"GET", "/v1/predict/{user}/{item}", "/v1/predict/4/3?model=..", "", nil},
		{"GET", "/v1/predict/{user}/{item}", "/v1/predict/nobody/3", "", nil},
		{"GET", "/v1/similar/{item}", "/v1/similar/3?model=digits", "", nil},
		{"GET", "/v1/similar/{item}", "/v1/similar/nothing", "", nil},
		{"POST", "/v1/ratings", "/v1/ratings", `[]`, auth},
		{"POST", "/v1/ratings", "/v1/ratings", `[]`, nil},
		{"POST", "/v1/ratings", "/v1/ratings", strings.Repeat(" ", 400) + `[]`, auth},
		{"POST", "/v1/models/{name}/score", "/v1/models/digits/score", `{"instances": [[1]]}`, nil},
		{"POST", "/v1/models/{name}/score", "/v1/models/nosuch/score", `{"instances": [[1]]}`, nil},
		{"POST", "/v1/models/{name}/score", "/v1/models/digits/score", strings.Repeat(" ", 400), nil},
	}
	for _, c := range cases {
		code, _ := rawCall(t, c.method, hs.URL, c.path, c.body, c.header...)
		op, ok := doc.Paths[c.spec][strings.ToLower(c.method)]
		if !ok {
			t.Fatalf("openapi.json has no %s %s", c.method, c.spec)
		}
		if _, ok := op.Responses[fmt.Sprint(code)]; !ok {
			t.Errorf("%s %s: %d, which openapi.json does not list for %s", c.method, c.path, code, c.spec)
		}
	}
}

// TestMalformedQuery checks that a query string that does not parse gets a
// 400 rather than having its parameters dropped (n=5;model=nosuch would
// otherwise answer 10 items from the default model).
func TestMalformedQuery(t *testing.T) {
	_, hs := testServer(t, Options{})
	for _, path := range []string{"/v1/recommend/4?n=5;model=nosuch", "/v1/recommend/4?n=%zz", "/v1/similar/3?n=2&model=%", "/healthz?a;b"} {
		if code, out := rawCall(t, "GET", hs.URL, path, ""); code != 400 || out["error"] == nil {
			t.Errorf("GET %s: %d %v, want 400", path, code, out)
		}
	}
	if code, out := rawCall(t, "GET", hs.URL, "/v1/recommend/4?n=5&model=ml", ""); code != 200 || len(out["items"].([]any)) != 5 {
		t.Errorf("a good query: %d %v", code, out)
	}
}

// TestBearerSchemeAnyCase checks that the bearer token is accepted whatever
// the case of the scheme's name, which HTTP makes case-insensitive, and
// that a wrong or missing token still is not.
func TestBearerSchemeAnyCase(t *testing.T) {
	_, hs := testServer(t, Options{Token: "s3cret"})
	body := `[{"user":"1","item":"2","rating":3}]`
	for auth, want := range map[string]int{"Bearer s3cret": 200, "bearer s3cret": 200, "BEARER s3cret": 200,
		"Bearer s3cre": 401, "Bearer  s3cret": 401, "Basic s3cret": 401, "s3cret": 401, "Bearers3cret": 401} {
		if code, out := call(t, "POST", hs.URL+"/v1/ratings", body, "Authorization", auth); code != want {
			t.Errorf("Authorization: %s: %d %v, want %d", auth, code, out, want)
		}
	}
}

// TestStoredRatingsAreChecked starts a server on a database in which
// another program wrote a rating outside the cf model's scale, or one that
// is not a number: it must refuse to start, naming the database and the
// rating, rather than fold it in (or drop its user) without a word.
func TestStoredRatingsAreChecked(t *testing.T) {
	cfPath, _ := modelFiles(t)
	m, err := Load("ml", cfPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"-5", "99", "1e309"} {
		db := filepath.Join(t.TempDir(), "ratings.db")
		st, err := ratingstore.Open(db, nil)
		if err != nil {
			t.Fatal(err)
		}
		st.Close()
		conn, err := sql.Open("sqlite", db)
		if err != nil {
			t.Fatal(err)
		}
		_, err = conn.Exec(`INSERT INTO ratings VALUES ('v', '51', ` + v + `, 0, 1)`)
		conn.Close()
		if err != nil {
			t.Fatal(err)
		}
		s, err := New([]*Model{m}, Options{DB: db, Logger: slog.New(slog.DiscardHandler)})
		if err == nil {
			s.Close()
			t.Errorf("rating %s in the database: the server started", v)
		} else if msg := err.Error(); !strings.Contains(msg, db) || !strings.Contains(msg, `user "v"`) {
			t.Errorf("rating %s in the database: %q does not name the database and the user", v, msg)
		}
	}
}

// TestBodyTimeout sends a body that stops short of its Content-Length:
// when the server's read timeout passes, the answer is a 408 with a JSON
// error.
func TestBodyTimeout(t *testing.T) {
	s, _ := testServer(t, Options{})
	hs := httptest.NewUnstartedServer(s)
	hs.Config.ReadTimeout = 300 * time.Millisecond
	hs.Start()
	defer hs.Close()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(hs.URL, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "POST /v1/models/digits/score HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 408 || out["status"] != 408.0 {
		t.Fatalf("a body cut short: %d %v %v; want 408 and a JSON error", resp.StatusCode, out, err)
	}
}
