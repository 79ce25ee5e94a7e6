package main

import (
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"
)

func TestEvalLikelihoods(t *testing.T) {
	if testing.Short() {
		t.Skip("long; runs in the full suite (make test)")
	}
	dir := t.TempDir()
	model := filepath.Join(dir, "m.safetensors")
	code, out, errs := harmonium(t, "train", "--limit", "1000", "--hidden", "12", "--epochs", "3", "--monitor", "pll", "--out", model, "--quiet", "--json")
	if code != 0 {
		t.Fatal(errs)
	}
	var tr struct {
		Epochs []struct {
			PLL float64 `json:"pseudo_log_likelihood"`
		} `json:"epochs"`
	}
	if json.Unmarshal([]byte(out), &tr) != nil || len(tr.Epochs) != 3 || !(tr.Epochs[2].PLL < 0) {
		t.Fatalf("train --monitor pll: %q", out)
	}
	code, out, errs = harmonium(t, "eval", "--model", model, "--limit", "500", "--exact", "--ais", "--runs", "50", "--betas", "3000", "--pll", "--json", "--quiet")
	if code != 0 {
		t.Fatal(errs)
	}
	var ev map[string]any
	if err := json.Unmarshal([]byte(out), &ev); err != nil {
		t.Fatalf("%v: %q", err, out)
	}
	num := func(k string) float64 {
		v, ok := ev[k].(float64)
		if !ok {
			t.Fatalf("eval --json has no number %q: %q", k, out)
		}
		return v
	}
	exact, ais := num("exact_log_z"), num("log_z")
	if math.Abs(exact-ais) > 0.5 || !(num("log_z_low") <= exact && exact <= num("log_z_high")) {
		t.Fatalf("AIS %v [%v, %v] against exact %v", ais, ev["log_z_low"], ev["log_z_high"], exact)
	}
	if ll := num("log_likelihood"); math.Abs(ll-num("exact_log_likelihood")) > 0.5 || ll > 0 {
		t.Fatalf("log-likelihood %v, exact %v", ll, num("exact_log_likelihood"))
	}
	if p := num("pseudo_log_likelihood"); !(p < 0 && p > -math.Ln2*2) || math.Abs(num("pseudo_log_likelihood_estimate")-p) > 0.05 {
		t.Fatalf("PLL %v, estimate %v", p, ev["pseudo_log_likelihood_estimate"])
	}
	if ev["binarized"] != true {
		t.Fatal("grey-level data evaluated without saying it was binarised")
	}
	// The likelihood and the free energy it is built from are on the same data.
	if d := -num("binarized_free_energy") - exact - num("exact_log_likelihood"); math.Abs(d) > 1e-6 {
		t.Fatalf("-binarized_free_energy - exact_log_z differs from exact_log_likelihood by %g", d)
	}
	if math.Abs(num("binarized_free_energy")-num("free_energy")) < 1e-9 {
		t.Fatal("the binarised free energy equals the grey-level one: the fields do not say which data they describe")
	}
	code, text, _ := harmonium(t, "eval", "--model", model, "--limit", "200", "--exact")
	if code != 0 || !strings.Contains(text, "stochastic binarisation") || !strings.Contains(text, "exact log-likelihood:") {
		t.Fatalf("eval text: %q", text)
	}

	big := filepath.Join(dir, "big.safetensors")
	if code, _, errs := harmonium(t, "train", "--limit", "100", "--hidden", "30", "--epochs", "1", "--out", big, "--quiet"); code != 0 {
		t.Fatal(errs)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"eval", "--model", big, "--exact"}, "use --ais"},
		{[]string{"eval", "--model", big, "--ais", "--runs", "0"}, "--runs must be positive"},
		{[]string{"eval", "--model", big, "--ais", "--betas", "2"}, "--betas must be at least 3"},
		{[]string{"train", "--limit", "100", "--hidden", "3", "--epochs", "1", "--monitor", "nll", "--out", big}, "--monitor must be pll or free-energy-gap"},
		{[]string{"train", "--limit", "100", "--hidden", "3", "--epochs", "1", "--monitor", "free-energy-gap", "--out", big}, "needs --validate"},
	} {
		code, _, errs := harmonium(t, c.args...)
		if code == 0 || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", c.args, code, errs, c.want)
		}
	}
}
