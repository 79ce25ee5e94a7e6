package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// cf eval --topn prints the model's ranking (named) beside the most
// popular one; --rank picks another; a model trained without the
// implicit part ranks by rating; cf recommend shows the score.
func TestCFTopNRankings(t *testing.T) {
	dir := t.TempDir()
	ratings := ratingsCSV(t, dir)
	model := filepath.Join(dir, "cf.safetensors")
	if code, _, errs := harmonium(t, "cf", "train", "--ratings", ratings, "--hidden", "8", "--epochs", "4", "--implicit-epochs", "5", "--out", model, "--quiet"); code != 0 {
		t.Fatal(errs)
	}
	evalJSON := func(model string, extra ...string) map[string]any {
		t.Helper()
		code, out, errs := harmonium(t, append([]string{"cf", "eval", "--model", model, "--ratings", ratings, "--topn", "3", "--json"}, extra...)...)
		var res map[string]any
		if code != 0 || json.Unmarshal([]byte(out), &res) != nil {
			t.Fatalf("cf eval %v: %d %q %q", extra, code, out, errs)
		}
		return res
	}
	res := evalJSON(model)
	for _, k := range []string{"ndcg", "precision", "recall", "popular_ndcg", "popular_precision", "popular_recall"} {
		if _, ok := res[k].(float64); !ok {
			t.Fatalf("no %s in %v", k, res)
		}
	}
	if res["ranking"] != "relevant" {
		t.Fatalf("default ranking %v, want relevant", res["ranking"])
	}
	for _, by := range []string{"rating", "chosen"} {
		if r := evalJSON(model, "--rank", by); r["ranking"] != by {
			t.Fatalf("--rank %s: ranking %v", by, r["ranking"])
		}
	}
	if code, _, errs := harmonium(t, "cf", "eval", "--model", model, "--ratings", ratings, "--topn", "3", "--rank", "best"); code != 2 || !strings.Contains(errs, "unknown ranking") {
		t.Fatalf("--rank best: %d %q", code, errs)
	}
	// A threshold no rating reaches or passes: once 0 users in text and
	// "json: unsupported value: NaN" with --json.
	for _, rel := range []string{"NaN", "Inf", "-Inf"} {
		code, out, errs := harmonium(t, "cf", "eval", "--model", model, "--ratings", ratings, "--topn", "3", "--relevant", rel, "--json")
		if code != 2 || out != "" || !strings.Contains(errs, "--relevant") {
			t.Fatalf("--relevant %s: %d %q %q", rel, code, out, errs)
		}
	}
	code, out, errs := harmonium(t, "cf", "recommend", "--model", model, "--user", "3", "--top", "2", "--json")
	var recs []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &recs) != nil || len(recs) != 2 {
		t.Fatalf("cf recommend: %d %q %q", code, out, errs)
	}
	if s, ok := recs[0]["score"].(float64); !ok || !(s > 0 && s <= 1) || recs[0]["score"].(float64) < recs[1]["score"].(float64) {
		t.Fatalf("scores %v: want probabilities, decreasing", recs)
	}

	plain := filepath.Join(dir, "plain.safetensors")
	if code, _, errs := harmonium(t, "cf", "train", "--ratings", ratings, "--hidden", "8", "--epochs", "2", "--implicit-hidden", "0", "--out", plain, "--quiet"); code != 0 {
		t.Fatal(errs)
	}
	if r := evalJSON(plain); r["ranking"] != "rating" {
		t.Fatalf("without the implicit part: ranking %v", r["ranking"])
	}
	if code, _, errs := harmonium(t, "cf", "eval", "--model", plain, "--ratings", ratings, "--topn", "3", "--rank", "relevant"); code != 1 || !strings.Contains(errs, "implicit") {
		t.Fatalf("--rank relevant without the implicit part: %d %q", code, errs)
	}
}

// --implied-test trains the conditional RBM told which test
// pairs were rated; cf eval --topn warns that its ranking is not a fair
// comparison.
func TestCFConditionalImpliedTest(t *testing.T) {
	dir := t.TempDir()
	ratings := ratingsCSV(t, dir)
	model := filepath.Join(dir, "cond.safetensors")
	if code, _, errs := harmonium(t, "cf", "train", "--ratings", ratings, "--test", ratings, "--implied-test", "--conditional=false", "--hidden", "8", "--epochs", "2"); code != 2 || !strings.Contains(errs, "conditional") {
		t.Fatalf("--implied-test without --conditional: %d %q", code, errs)
	}
	code, _, errs := harmonium(t, "cf", "train", "--ratings", ratings, "--split", "0.2", "--conditional", "--hidden", "8", "--epochs", "2", "--implicit-hidden", "0", "--out", model, "--quiet")
	if code != 0 {
		t.Fatal(errs)
	}
	split := filepath.Join(dir, "split")
	code, _, errs = harmonium(t, "cf", "train", "--ratings", ratings, "--split", "0.2", "--save-split", split, "--hidden", "4", "--epochs", "1", "--implicit-hidden", "0", "--out", filepath.Join(dir, "x.safetensors"), "--quiet")
	if code != 0 {
		t.Fatal(errs)
	}
	train, test := filepath.Join(split, "train.tsv"), filepath.Join(split, "test.tsv")
	code, _, errs = harmonium(t, "cf", "train", "--ratings", train, "--test", test, "--conditional", "--implied-test", "--hidden", "8", "--epochs", "2", "--implicit-hidden", "0", "--out", model, "--quiet")
	if code != 0 {
		t.Fatal(errs)
	}
	code, out, errs := harmonium(t, "cf", "eval", "--model", model, "--ratings", test, "--topn", "3")
	if code != 0 || !strings.Contains(out, "warning: the model was trained knowing") {
		t.Fatalf("cf eval --topn of an --implied-test model: %d %q %q", code, out, errs)
	}
}
