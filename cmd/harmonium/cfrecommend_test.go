package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCFRecommendUnknownAndFoldIn(t *testing.T) {
	dir := t.TempDir()
	ratings := ratingsCSV(t, dir)
	model := filepath.Join(dir, "cf.safetensors")
	if code, _, errs := harmonium(t, "cf", "train", "--ratings", ratings, "--user-based", "--hidden", "10", "--epochs", "10", "--lr", "0.1", "--out", model, "--quiet"); code != 0 {
		t.Fatal(errs)
	}
	type rec struct {
		Item      string  `json:"item"`
		Predicted float64 `json:"predicted"`
		Popular   bool    `json:"popular"`
	}
	// An unknown user gets the most popular items, flagged.
	code, out, errs := harmonium(t, "cf", "recommend", "--model", model, "--user", "nobody", "--top", "3")
	if code != 0 || !strings.HasPrefix(out, "(unknown user: most popular items)\n") || strings.Count(out, "\n") != 4 {
		t.Fatalf("unknown user: %d %q %q", code, out, errs)
	}
	code, out, _ = harmonium(t, "cf", "recommend", "--model", model, "--user", "nobody", "--top", "3", "--json")
	var pop []rec
	if code != 0 || json.Unmarshal([]byte(out), &pop) != nil || len(pop) != 3 || !pop[0].Popular || pop[0].Item == "" || !(pop[0].Predicted >= 1 && pop[0].Predicted <= 5) {
		t.Fatalf("unknown user --json: %q", out)
	}
	// A known user's recommendations are not flagged.
	code, out, _ = harmonium(t, "cf", "recommend", "--model", model, "--user", "0", "--top", "5", "--json")
	var known []rec
	if code != 0 || json.Unmarshal([]byte(out), &known) != nil || len(known) != 5 || known[0].Popular || strings.Contains(out, "popular") {
		t.Fatalf("user 0 --json: %q", out)
	}
	// Folding in user 0's training ratings gives (nearly) the same.
	var b strings.Builder
	b.WriteString("[")
	data, _ := os.ReadFile(ratings)
	for _, line := range strings.Split(string(data), "\n")[1:] {
		f := strings.Split(line, ",")
		if len(f) == 4 && f[0] == "0" {
			fmt.Fprintf(&b, `{"item":%q,"rating":%s},`, f[1], f[2])
		}
	}
	b.WriteString(`{"item":"no-such-item","rating":4}]`)
	mine := filepath.Join(dir, "mine.json")
	os.WriteFile(mine, []byte(b.String()), 0o644)
	code, out, errs = harmonium(t, "cf", "recommend", "--model", model, "--ratings-of-user", mine, "--top", "5", "--json")
	var folded []rec
	if code != 0 || json.Unmarshal([]byte(out), &folded) != nil || len(folded) != 5 || !strings.Contains(errs, "1 of the 16 rated items are unknown") {
		t.Fatalf("fold-in: %d %q %q", code, out, errs)
	}
	for i := range folded {
		if math.Abs(folded[i].Predicted-known[i].Predicted) > 1e-4 || folded[i].Popular {
			t.Fatalf("fold-in %+v, trained %+v", folded, known)
		}
	}
	// Numeric item ids are accepted too.
	num := filepath.Join(dir, "num.json")
	os.WriteFile(num, []byte(`[{"item":3,"rating":5},{"item":"4","rating":1}]`), 0o644)
	if code, out, errs := harmonium(t, "cf", "recommend", "--model", model, "--ratings-of-user", num, "--top", "2"); code != 0 || strings.Count(out, "\n") != 2 {
		t.Fatalf("numeric ids: %d %q %q", code, out, errs)
	}
	itemModel := filepath.Join(dir, "items.safetensors")
	if code, _, errs := harmonium(t, "cf", "train", "--ratings", ratings, "--item-based", "--hidden", "5", "--epochs", "2", "--out", itemModel, "--quiet"); code != 0 {
		t.Fatal(errs)
	}
	if code, out, _ := harmonium(t, "cf", "recommend", "--model", itemModel, "--user", "nobody", "--top", "2", "--json"); code != 0 || strings.Count(out, `"popular":true`) != 2 {
		t.Fatalf("item-based, unknown user: %q", out)
	}
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o644)
		return p
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--ratings-of-user", write("bad.json", `[{"item":"1","rating":5},`)}, "bad.json: want a JSON array"},
		{[]string{"--ratings-of-user", write("obj.json", `{"item":"1"}`)}, "obj.json: want a JSON array"},
		{[]string{"--ratings-of-user", write("empty.json", `[]`)}, "empty.json: no ratings"},
		{[]string{"--ratings-of-user", write("norating.json", `[{"item":"1"}]`)}, `norating.json: entry 1 (item "1"): no "rating"`},
		{[]string{"--ratings-of-user", write("noitem.json", `[{"rating":3}]`)}, `noitem.json: entry 1: "item" must be`},
		{[]string{"--ratings-of-user", write("strangers.json", `[{"item":"x","rating":3}]`)}, "strangers.json: none of the 1 rated items is known"},
		{[]string{"--ratings-of-user", filepath.Join(dir, "absent.json")}, "absent.json"},
		{[]string{"--ratings-of-user", mine, "--user", "0"}, "not both"},
		{[]string{}, "--user or --ratings-of-user is required"},
	} {
		args := append([]string{"cf", "recommend", "--model", model}, c.args...)
		code, _, errs := harmonium(t, args...)
		if code == 0 || !strings.Contains(errs, c.want) || strings.Count(strings.TrimSpace(errs), "\n") > 0 {
			t.Errorf("%v: exit %d, stderr %q, want %q", c.args, code, errs, c.want)
		}
	}
	if code, _, errs := harmonium(t, "cf", "recommend", "--model", itemModel, "--ratings-of-user", mine); code == 0 || !strings.Contains(errs, "fold-in needs a user-based model") || !strings.Contains(errs, "mine.json") {
		t.Fatalf("item-based fold-in: %d %q", code, errs)
	}
}

func TestCFEvalPopularRow(t *testing.T) {
	dir := t.TempDir()
	ratings := ratingsCSV(t, dir)
	model := filepath.Join(dir, "cf.safetensors")
	if code, _, errs := harmonium(t, "cf", "train", "--ratings", ratings, "--user-based", "--hidden", "10", "--epochs", "5", "--lr", "0.1", "--out", model, "--quiet"); code != 0 {
		t.Fatal(errs)
	}
	code, out, errs := harmonium(t, "cf", "eval", "--model", model, "--ratings", ratings, "--topn", "3")
	if code != 0 || !strings.Contains(out, "  model (relevant)   precision@3") || !strings.Contains(out, "  most popular       precision@3") || !strings.Contains(out, "NDCG model / most popular:") {
		t.Fatalf("cf eval --topn: %d %q %q", code, out, errs)
	}
	code, out, _ = harmonium(t, "cf", "eval", "--model", model, "--ratings", ratings, "--topn", "3", "--json")
	var res map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil {
		t.Fatalf("cf eval --topn --json: %q", out)
	}
	for _, k := range []string{"precision", "ndcg", "popular_precision", "popular_recall", "popular_ndcg"} {
		if _, ok := res[k].(float64); !ok {
			t.Fatalf("no %s in %q", k, out)
		}
	}
}
