package serve

import (
	"fmt"
	"io"
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
