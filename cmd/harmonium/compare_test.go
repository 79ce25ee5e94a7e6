package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCompare(t *testing.T) {
	dir := t.TempDir()
	x, y := blobs(t, dir, 150)
	testDir := filepath.Join(dir, "test")
	if err := os.Mkdir(testDir, 0o755); err != nil {
		t.Fatal(err)
	}
	tx, ty := blobs(t, testDir, 60)
	rbmFile, aeFile, vaeFile := filepath.Join(dir, "rbm.safetensors"), filepath.Join(dir, "ae.safetensors"), filepath.Join(dir, "vae.safetensors")
	for _, args := range [][]string{
		{"train", "--data", x, "--hidden", "6", "--epochs", "3", "--batch", "10", "--quiet", "--out", rbmFile},
		{"ae", "train", "--kind", "ae", "--data", x, "--code", "6", "--epochs", "3", "--quiet", "--out", aeFile},
		{"ae", "train", "--kind", "vae", "--data", x, "--layers", "8", "--code", "2", "--epochs", "3", "--quiet", "--out", vaeFile},
	} {
		if code, _, errs := harmonium(t, args...); code != 0 {
			t.Fatalf("%v: %s", args, errs)
		}
	}
	html := filepath.Join(dir, "cmp.html")
	common := []string{"compare", "--data", x, "--labels", y, "--test", tx, "--test-labels", ty, "--model", rbmFile, "--model", "plain=" + aeFile, "--model", vaeFile,
		"--ais-runs", "5", "--ais-betas", "100", "--samples", "10", "--logistic-epochs", "2"}
	code, stdout, errs := harmonium(t, append(common, "--json", "--html", html)...)
	if code != 0 {
		t.Fatalf("compare: %s", errs)
	}
	var res struct {
		Models []map[string]any `json:"models"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || len(res.Models) != 3 {
		t.Fatalf("compare --json: %v %q", err, stdout)
	}
	for i, m := range res.Models {
		if (m["log_likelihood"] == nil) != (i == 1) || m["logistic_accuracy"] == nil || m["recon_error"] == nil {
			t.Errorf("model %d: %v", i, m)
		}
	}
	if res.Models[1]["model"] != "plain" || res.Models[2]["kind"] != "vae" {
		t.Errorf("names and kinds: %v", res.Models)
	}
	page, err := os.ReadFile(html)
	if err != nil || !strings.Contains(string(page), "logistic accuracy") || !strings.Contains(string(page), "data:image/png;base64,") {
		t.Errorf("HTML page: %v", err)
	}
	code, stdout, _ = harmonium(t, append(common, "--quiet")...)
	if code != 0 || !strings.Contains(stdout, "log-likelihood") || !strings.Contains(stdout, "n/a") {
		t.Errorf("compare table: %q", stdout)
	}
	// A model of another input size, and a classifier: refused, nothing written.
	other := filepath.Join(dir, "other.safetensors")
	if code, _, errs := harmonium(t, "ae", "train", "--kind", "ae", "--data", writeCSV(t, dir, "0.5,0.5\n0.2,0.1\n"), "--code", "1", "--epochs", "1", "--quiet", "--out", other); code != 0 {
		t.Fatal(errs)
	}
	net := filepath.Join(dir, "net.safetensors")
	if code, _, errs := harmonium(t, "nn", "train", "--data", x, "--labels", y, "--arch", "mlp:4", "--epochs", "1", "--quiet", "--out", net); code != 0 {
		t.Fatal(errs)
	}
	bad := filepath.Join(dir, "bad.html")
	for _, c := range []struct{ model, want string }{{other, "takes 2 values per sample"}, {net, "neural network"}} {
		code, _, errs := harmonium(t, "compare", "--data", x, "--test", tx, "--model", aeFile, "--model", c.model, "--html", bad)
		if code == 0 || !strings.Contains(errs, c.want) || strings.Count(strings.TrimSpace(errs), "\n") > 0 {
			t.Errorf("compare with %s: exit %d %q, want a one-line error with %q", c.model, code, errs, c.want)
		}
		if _, err := os.Stat(bad); err == nil {
			t.Fatal("a refused compare wrote its page")
		}
	}
}
