package serve

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
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
