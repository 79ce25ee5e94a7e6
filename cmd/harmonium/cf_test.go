package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ratingsCSV writes synthetic ratings of two kinds of users.
func ratingsCSV(t *testing.T, dir string) string {
	r := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	b.WriteString("userId,movieId,rating,timestamp\n")
	for u := 0; u < 120; u++ {
		for _, it := range r.Perm(30)[:15] {
			v := 1 + r.IntN(2)
			if (it < 15) == (u%2 == 0) {
				v = 4 + r.IntN(2)
			}
			fmt.Fprintf(&b, "%d,%d,%d,0\n", u, it, v)
		}
	}
	p := filepath.Join(dir, "ratings.csv")
	os.WriteFile(p, []byte(b.String()), 0o644)
	return p
}

func TestCFCommands(t *testing.T) {
	dir := t.TempDir()
	ratings := ratingsCSV(t, dir)
	titles := filepath.Join(dir, "movies.csv")
	os.WriteFile(titles, []byte("movieId,title,genres\n3,\"Three, The (1999)\",Drama\n"), 0o644)
	model := filepath.Join(dir, "cf.safetensors")
	code, out, errs := harmonium(t, "cf", "train", "--ratings", ratings, "--split", "0.2", "--hidden", "10", "--epochs", "25", "--lr", "0.1", "--out", model, "--json")
	if code != 0 {
		t.Fatal(errs)
	}
	var res struct {
		Epochs []struct {
			TestRMSE float64 `json:"test_rmse"`
		} `json:"epochs"`
		TestRMSE float64 `json:"test_rmse"`
		N        int     `json:"test_n"`
	}
	if json.Unmarshal([]byte(out), &res) != nil || len(res.Epochs) != 25 || res.N != 360 || !(res.TestRMSE < 1.2) {
		t.Fatalf("cf train --json: %q", out)
	}
	if !strings.Contains(errs, "epoch 25/25") || !strings.Contains(errs, "test RMSE") {
		t.Fatalf("no per-epoch lines: %q", errs)
	}
	code, out, errs = harmonium(t, "cf", "eval", "--model", model, "--ratings", ratings, "--json")
	var ev struct {
		RMSE     float64 `json:"rmse"`
		MAE      float64 `json:"mae"`
		N        int     `json:"n"`
		Fallback int     `json:"fallback"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &ev) != nil || ev.N != 1800 || ev.RMSE <= 0 || ev.MAE <= 0 {
		t.Fatalf("cf eval: %d %q %q", code, out, errs)
	}
	code, out, _ = harmonium(t, "cf", "eval", "--model", model, "--ratings", ratings, "--topn", "5", "--json")
	var top map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &top) != nil || top["topn"] != 5.0 || top["relevant"] != 4.0 || top["ndcg"] == nil {
		t.Fatalf("cf eval --topn: %q", out)
	}
	code, out, errs = harmonium(t, "cf", "recommend", "--model", model, "--user", "0", "--top", "3", "--items", titles)
	if code != 0 || strings.Count(out, "\n") != 3 {
		t.Fatalf("cf recommend: %d %q %q", code, out, errs)
	}
	code, out, _ = harmonium(t, "cf", "recommend", "--model", model, "--user", "1", "--top", "2", "--json")
	var recs []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &recs) != nil || len(recs) != 2 {
		t.Fatalf("cf recommend --json: %q", out)
	}
	bin := filepath.Join(dir, "likes.safetensors")
	if code, _, errs := harmonium(t, "cf", "train", "--ratings", ratings, "--binary", "--hidden", "8", "--epochs", "10", "--lr", "0.1", "--out", bin, "--quiet"); code != 0 {
		t.Fatal(errs)
	}
	code, out, _ = harmonium(t, "cf", "recommend", "--model", bin, "--user", "0", "--top", "3", "--json")
	var likes []struct {
		Predicted float64 `json:"predicted"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &likes) != nil || len(likes) != 3 || likes[0].Predicted > 1 || likes[0].Predicted < 0.5 {
		t.Fatalf("like/dislike recommendations: %q", out)
	}
	bad := filepath.Join(dir, "bad.data")
	os.WriteFile(bad, []byte("1\t2\t3\n1\t2\n"), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"cf", "recommend", "--model", model, "--user", "0", "--top", "0"}, "--top must be positive"},
		{[]string{"cf", "train", "--ratings", bad, "--out", filepath.Join(dir, "x.safetensors")}, "bad.data: line 2"},
		{[]string{"cf", "train", "--ratings", ratings, "--cd", "1,x", "--out", filepath.Join(dir, "x.safetensors")}, "--cd must list"},
		{[]string{"cf", "train", "--ratings", ratings, "--test", ratings, "--split", "0.1"}, "not both"},
		{[]string{"cf", "eval", "--model", ratings, "--ratings", ratings}, "ratings.csv"},
		{[]string{"cf", "frob"}, "unknown cf command"},
		{[]string{"eval", "--model", model, "--ais"}, "AIS support Bernoulli RBMs only so far"},
	} {
		code, _, errs := harmonium(t, c.args...)
		if code == 0 || !strings.Contains(errs, c.want) || strings.Count(strings.TrimSpace(errs), "\n") > 0 {
			t.Errorf("%v: exit %d, stderr %q, want %q", c.args, code, errs, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "x.safetensors")); err == nil {
		t.Fatal("a failed cf train wrote a model")
	}
	if code, out, _ := harmonium(t, "cf", "--help"); code != 0 || !strings.Contains(out, "Example") {
		t.Fatalf("cf --help: %q", out)
	}
}
