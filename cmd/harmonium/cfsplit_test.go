package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/harmonium-ml/harmonium/cf"
	"github.com/harmonium-ml/harmonium/internal/memguard"
)

// --save-split writes exactly the parts --split trains and tests on: a run
// on the saved files gives the same model and test RMSE (up to the order in
// which the squared errors are summed).
func TestCFSaveSplit(t *testing.T) {
	dir := t.TempDir()
	ratings := ratingsCSV(t, dir)
	parts := filepath.Join(dir, "parts")
	common := []string{"--hidden", "5", "--epochs", "3", "--seed", "4", "--json", "--quiet"}
	code, out1, errs := harmonium(t, append([]string{"cf", "train", "--ratings", ratings, "--split", "0.2", "--save-split", parts, "--out", filepath.Join(dir, "a.safetensors")}, common...)...)
	if code != 0 {
		t.Fatal(errs)
	}
	train, err1 := cf.ReadRatings(filepath.Join(parts, "train.tsv"))
	test, err2 := cf.ReadRatings(filepath.Join(parts, "test.tsv"))
	all, err3 := cf.ReadRatings(ratings)
	if err1 != nil || err2 != nil || err3 != nil {
		t.Fatal(err1, err2, err3)
	}
	if len(train.List)+len(test.List) != len(all.List) || len(test.List) != len(all.List)/5 {
		t.Fatalf("saved %d + %d ratings of %d", len(train.List), len(test.List), len(all.List))
	}
	code, out2, errs := harmonium(t, append([]string{"cf", "train", "--ratings", filepath.Join(parts, "train.tsv"), "--test", filepath.Join(parts, "test.tsv"), "--out", filepath.Join(dir, "b.safetensors")}, common...)...)
	if code != 0 {
		t.Fatal(errs)
	}
	var a, b struct {
		TestRMSE float64 `json:"test_rmse"`
	}
	if json.Unmarshal([]byte(out1), &a) != nil || json.Unmarshal([]byte(out2), &b) != nil || a.TestRMSE == 0 || math.Abs(a.TestRMSE-b.TestRMSE) > 1e-12 {
		t.Fatalf("test RMSE %v with --split, %v on the saved parts", a.TestRMSE, b.TestRMSE)
	}
	code, _, errs = harmonium(t, "cf", "train", "--ratings", ratings, "--save-split", parts)
	if code != 2 || !strings.Contains(errs, "--save-split needs --split") {
		t.Fatalf("--save-split alone: %d %q", code, errs)
	}
	// A ratings file given as titles is named as such.
	code, _, errs = harmonium(t, "cf", "recommend", "--model", filepath.Join(dir, "a.safetensors"), "--user", "1", "--items", ratings)
	if code != 1 || !strings.Contains(errs, "not a titles file") {
		t.Fatalf("recommend --items with a ratings file: %d %q", code, errs)
	}
}

// A recommender whose weights cannot fit is refused before training.
func TestCFTooLargeIsRefused(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(memguard.EnvLimit, "1M")
	out := filepath.Join(dir, "cf.safetensors")
	code, _, errs := harmonium(t, "cf", "train", "--ratings", ratingsCSV(t, dir), "--hidden", "5000", "--out", out)
	if code != 1 || !strings.Contains(errs, "120 visible units x 4 levels x 5000 hidden units") || !strings.Contains(errs, memguard.EnvLimit) {
		t.Fatalf("cf train beyond the memory limit: %d %q", code, errs)
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("refused training wrote a model")
	}
}

// The default recommender is item-based (it predicts better); --user-based
// gives the other orientation.
func TestCFDefaultOrientation(t *testing.T) {
	dir := t.TempDir()
	ratings := ratingsCSV(t, dir)
	for flag, want := range map[string]string{"": "item-based RBM", "--user-based": "user-based RBM", "--item-based": "item-based RBM"} {
		args := []string{"cf", "train", "--ratings", ratings, "--hidden", "3", "--epochs", "1", "--out", filepath.Join(dir, "m.safetensors")}
		if flag != "" {
			args = append(args, flag)
		}
		code, _, errs := harmonium(t, args...)
		if code != 0 || !strings.Contains(errs, want) {
			t.Errorf("cf train %s: %d, want %q in %q", flag, code, want, errs)
		}
	}
}
