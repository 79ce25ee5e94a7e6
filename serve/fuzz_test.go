package serve

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzRequests sends arbitrary requests (method, path and query, body,
// with or without the token) to a server with a recommender and an RBM,
// and checks that every answer is a well-formed response: never a 500 or
// a panic, an error always a JSON error carrying its status, and a JSON
// answer always valid JSON.
func FuzzRequests(f *testing.F) {
	seeds := []struct{ method, target, body string }{
		{"GET", "/v1/recommend/4?n=3", ""},
		{"GET", "/v1/recommend/4?n=-3&model=ml", ""},
		{"GET", "/v1/predict/4/3", ""},
		{"GET", "/v1/similar/3?n=2", ""},
		{"GET", "/v1/models", ""},
		{"GET", "/healthz", ""},
		{"POST", "/v1/ratings", `[{"user":"1","item":"2","rating":3}]`},
		{"POST", "/v1/ratings", `[{"user":"new","item":"2","rating":4.5},{"user":"new","item":"9","rating":1}]`},
		{"POST", "/v1/models/digits/features", `{"instances": [[1, 0, 1, 0, 1, 0]]}`},
		{"POST", "/v1/models/digits/score", `{"instances": [[1, 0, 1, 0, 1, 0], [0, 0, 0, 0, 0, 0]]}`},
		{"POST", "/v1/models/digits/reconstruct", `{"instances": [[1, 0, 1, 0, 1, 0]]}`},
		{"POST", "/v1/models/ml/features", `{"instances": [[1]]}`},
		{"POST", "/v1/models/digits/features", `{"instances": [[NaN]]}`},
		{"PUT", "/v1/ratings", `[]`},
		{"GET", "/v1/recommend/4?n=5;model=x", ""},
	}
	for _, s := range seeds {
		f.Add(s.method, s.target, []byte(s.body), true)
	}
	s, _ := testServer(f, Options{Token: "s3cret", MaxBody: 1 << 16})
	f.Fuzz(func(t *testing.T, method, target string, body []byte, token bool) {
		req, err := http.NewRequest(method, "http://127.0.0.1/", bytes.NewReader(body))
		if err != nil {
			return // not a method net/http would read from the wire
		}
		if req.URL, err = url.ParseRequestURI(target); err != nil || !strings.HasPrefix(target, "/") {
			return
		}
		req.RequestURI, req.Host = target, "127.0.0.1"
		if token {
			req.Header.Set("Authorization", "Bearer s3cret")
		}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		checkAnswer(t, method, target, rec)
	})
}

// checkAnswer fails t unless rec holds a well-formed answer.
func checkAnswer(t *testing.T, method, target string, rec *httptest.ResponseRecorder) {
	t.Helper()
	code, data := rec.Code, rec.Body.Bytes()
	if code >= 500 {
		t.Fatalf("%s %q: %d %s", method, target, code, data)
	}
	if method == http.MethodHead {
		return // no body to check
	}
	if !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		if code >= 400 {
			t.Fatalf("%s %q: error %d is not JSON (%q): %s", method, target, code, rec.Header().Get("Content-Type"), data)
		}
		return
	}
	var out any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("%s %q: %d, invalid JSON %q: %v", method, target, code, data, err)
	}
	if code >= 400 {
		e, ok := out.(map[string]any)
		if !ok || e["error"] == nil || e["status"] != float64(code) {
			t.Fatalf("%s %q: %d with %s, not a JSON error with its status", method, target, code, data)
		}
	}
}
