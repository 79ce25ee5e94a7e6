package main

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/harmonium-ml/harmonium/dataset"
	"github.com/harmonium-ml/harmonium/mat32"
	"github.com/harmonium-ml/harmonium/modelfile"
)

// realCSV writes n samples of six real features in three clusters, on
// scales far from standard (means near 100, deviations near 20), and one
// constant feature.
func realCSV(t *testing.T, dir, name string, n int, seed uint64) string {
	r := rand.New(rand.NewPCG(seed, 1))
	var b strings.Builder
	for i := 0; i < n; i++ {
		for j := 0; j < 6; j++ {
			c := float64((i%3+j)%3) - 1
			fmt.Fprintf(&b, "%.4f,", 100+20*c+3*r.NormFloat64())
		}
		b.WriteString("7\n")
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Real-valued data through every command: train a Gaussian-Bernoulli RBM
// with --standardize, evaluate it exactly and by AIS (they agree), and use
// features, reconstruct, sample and filters on it.
func TestGaussianThroughTheCLI(t *testing.T) {
	dir := t.TempDir()
	train, test := realCSV(t, dir, "train.csv", 600, 1), realCSV(t, dir, "test.csv", 300, 2)
	model := filepath.Join(dir, "g.safetensors")
	code, _, errs := harmonium(t, "train", "--data", train, "--visible", "gaussian", "--standardize", "--hidden", "6", "--out", model, "--quiet")
	if code != 0 {
		t.Fatal(errs)
	}
	m, meta, _, err := modelfile.LoadRBM(model)
	if err != nil {
		t.Fatal(err)
	}
	if meta["visible_units"] != "gaussian" || m.Scaler == nil || m.LogVar == nil || meta["learn_sigma"] != "true" || meta["cd_steps"] != "20" {
		t.Fatalf("model: units %s, scaler %v, variances %v, learn_sigma %s, cd_steps %s", meta["visible_units"], m.Scaler != nil, m.LogVar != nil, meta["learn_sigma"], meta["cd_steps"])
	}
	code, out, errs := harmonium(t, "eval", "--model", model, "--data", test, "--exact", "--ais", "--runs", "50", "--betas", "2000", "--json", "--quiet")
	if code != 0 {
		t.Fatal(errs)
	}
	var ev map[string]any
	if err := json.Unmarshal([]byte(out), &ev); err != nil {
		t.Fatal(err)
	}
	exact, ais := ev["exact_log_likelihood"].(float64), ev["log_likelihood"].(float64)
	if math.Abs(exact-ais) > 0.5 || ev["standardized"] != true {
		t.Fatalf("exact %.3f, AIS %.3f, standardized %v", exact, ais, ev["standardized"])
	}
	// Three clusters with deviation 3/20 of the spread beat independent
	// Gaussians (about -1.42 nats per standardised feature, -0.92 for the
	// constant one) by far.
	if !(exact > -6*1.42-0.92+4) {
		t.Fatalf("test log-likelihood %.3f nats: no better than independent Gaussians", exact)
	}
	feats := filepath.Join(dir, "f.csv")
	if code, _, errs := harmonium(t, "features", "--model", model, "--data", test, "--out", feats); code != 0 {
		t.Fatal(errs)
	}
	f, err := dataset.Load(feats, "train")
	if err != nil || f.X.Rows != 300 || f.X.Cols != 6 {
		t.Fatalf("features: %v", err)
	}
	for _, c := range [][]string{
		{"reconstruct", "--model", model, "--data", test, "--n", "9", "--image-shape", "1x7", "--out", filepath.Join(dir, "r.png")},
		{"sample", "--model", model, "--n", "9", "--steps", "20", "--image-shape", "1x7", "--out", filepath.Join(dir, "s.png"), "--quiet"},
		{"sample", "--model", model, "--data", test, "--init", "data", "--n", "9", "--steps", "20", "--image-shape", "1x7", "--out", filepath.Join(dir, "sd.png"), "--quiet"},
		{"filters", "--model", model, "--n", "6", "--image-shape", "1x7", "--out", filepath.Join(dir, "w.png")},
		{"train", "--data", train, "--visible", "gaussian", "--standardize", "--hidden", "4", "--epochs", "3", "--validate", "0.2", "--image-shape", "1x7",
			"--report", filepath.Join(dir, "r.html"), "--curve", filepath.Join(dir, "c.png"), "--out", filepath.Join(dir, "g2.safetensors"), "--quiet"},
	} {
		if code, _, errs := harmonium(t, c...); code != 0 {
			t.Fatalf("%v: %s", c, errs)
		}
	}
}

func TestGaussianBadInput(t *testing.T) {
	dir := t.TempDir()
	train := realCSV(t, dir, "train.csv", 60, 1)
	model := filepath.Join(dir, "g.safetensors")
	if code, _, errs := harmonium(t, "train", "--data", train, "--visible", "gaussian", "--standardize", "--hidden", "3", "--epochs", "2", "--out", model, "--quiet"); code != 0 {
		t.Fatal(errs)
	}
	nan := mat32.FromSlice(2, 2, []float32{1, float32(math.NaN()), 0, 1})
	nanNPY := filepath.Join(dir, "nan.npy")
	if err := dataset.WriteNPY(nanNPY, nan); err != nil {
		t.Fatal(err)
	}
	constant := filepath.Join(dir, "constant.csv")
	os.WriteFile(constant, []byte("1,2\n1,2\n1,2\n"), 0o644)
	out := filepath.Join(dir, "out.safetensors")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"train", "--data", nanNPY, "--visible", "gaussian", "--out", out}, "nan.npy: value NaN at sample 1, feature 2 is not finite"},
		{[]string{"train", "--data", constant, "--visible", "gaussian", "--standardize", "--out", out}, "constant.csv: standardise: every feature is constant"},
		{[]string{"train", "--data", train, "--learn-sigma", "--out", out}, "--learn-sigma needs --visible gaussian"},
		{[]string{"train", "--data", train, "--standardize", "--out", out}, "--standardize needs --visible gaussian"},
		{[]string{"train", "--data", train, "--visible", "softmax", "--out", out}, "--visible must be bernoulli or gaussian"},
		{[]string{"train", "--data", train, "--visible", "gaussian", "--sample-data", "--out", out}, "--sample-data draws binary data"},
		{[]string{"train", "--data", train, "--visible", "gaussian", "--monitor", "pll", "--out", out}, "--monitor pll needs Bernoulli units"},
		{[]string{"train", "--data", train, "--visible", "gaussian", "--hidden-units", "gaussian", "--out", out}, "--hidden-units gaussian needs --visible bernoulli"},
		{[]string{"eval", "--model", model, "--data", train, "--pll"}, "the pseudo-likelihood is defined for binary units only"},
		{[]string{"eval", "--model", model, "--data", constant}, "2 values per sample"},
	} {
		code, _, errs := harmonium(t, c.args...)
		if code == 0 || strings.Count(strings.TrimRight(errs, "\n"), "\n") > 0 || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, stderr %q, want one line with %q", c.args, code, errs, c.want)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("a failed run wrote its output")
	}
}

// Gaussian visible units left at the recipe's epochs average their
// parameters over the last fortieth of the recipe's updates (200 samples:
// 1,000 epochs of 2 minibatches, a horizon of 50 updates), not of the
// --epochs flag's default.
func TestGaussianAveragingHorizon(t *testing.T) {
	dir := t.TempDir()
	data := realCSV(t, dir, "r.csv", 200, 1)
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "averaged over about 50 updates"},
		{[]string{"--epochs", "100"}, "averaged over about 5 updates"},
	} {
		args := append([]string{"train", "--data", data, "--visible", "gaussian", "--standardize", "--hidden", "2", "--out", filepath.Join(dir, "m.safetensors")}, c.args...)
		code, _, errs := harmonium(t, args...)
		if code != 0 || !strings.Contains(errs, c.want) {
			t.Errorf("train %v: %d, want %q in %q", c.args, code, c.want, errs)
		}
	}
}

// dbn train's Gaussian first layer averages over the last fortieth of the
// updates it runs: with --epochs 20 over 2 minibatches, 40 updates
// (AverageDecay's floor of 80 gives a horizon of 2), not the recipe's
// 1,000 epochs' 2,000 (a horizon of 50).
func TestDBNGaussianAveragingHorizon(t *testing.T) {
	dir := t.TempDir()
	data := realCSV(t, dir, "r.csv", 200, 1)
	code, _, errs := harmonium(t, "dbn", "train", "--data", data, "--visible", "gaussian", "--standardize", "--layers", "2,2", "--epochs", "20,2", "--out", filepath.Join(dir, "d.safetensors"))
	if code != 0 || !strings.Contains(errs, "layer 0: 7 -> 2 bernoulli hidden, CD-20 averaged over about 2 updates, 20 epochs") {
		t.Fatalf("dbn train: %d %q", code, errs)
	}
}

// optdigitsCSV writes the 64 pixel columns of the UCI digits' training
// file as a CSV, skipping the test when the data is absent.
func optdigitsCSV(t *testing.T, dir string) string {
	t.Helper()
	src := filepath.Join("..", "..", "..", "shared", "data", "digits", "optdigits.tra")
	raw, err := os.ReadFile(src)
	if err != nil {
		t.Skipf("UCI digits not found at %s: %v", src, err)
	}
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		f := strings.Split(strings.TrimSpace(line), ",")
		b.WriteString(strings.Join(f[:64], ","))
		b.WriteByte('\n')
	}
	p := filepath.Join(dir, "optdigits.csv")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// The recipe for Gaussian visible units scales its learning rate to the
// model's size: 100 hidden units on the standardised UCI digits train,
// where the rate tuned for 20 (0.05) diverges in the first epoch.
func TestGaussianRecipeScalesToSize(t *testing.T) {
	dir := t.TempDir()
	data := optdigitsCSV(t, dir)
	base := []string{"train", "--data", data, "--visible", "gaussian", "--standardize", "--hidden", "100", "--epochs", "2", "--seed", "1", "--out", filepath.Join(dir, "m.safetensors")}
	code, _, errs := harmonium(t, base...)
	if code != 0 || !strings.Contains(errs, "lr 0.022,") {
		t.Fatalf("defaults, 64x100: %d %q", code, errs)
	}
	if code, _, errs := harmonium(t, append(base, "--lr", "0.05")...); code != 1 || !strings.Contains(errs, "diverged") {
		t.Fatalf("--lr 0.05, 64x100: %d %q (the rate tuned for 20 hidden units no longer diverges: is the test still telling?)", code, errs)
	}
}

// ReLU hidden units over Gaussian visible units train on the standardised
// UCI digits at the defaults (σ fixed, CD-1 at 0.001 scaled to 64x20: 0.000984), where the recipe
// they took before (σ learned, CD-5 at 0.05) diverges.
func TestGaussianReLUDefaultsTrain(t *testing.T) {
	dir := t.TempDir()
	data := optdigitsCSV(t, dir)
	base := []string{"train", "--data", data, "--visible", "gaussian", "--standardize", "--hidden-units", "relu", "--hidden", "20", "--epochs", "60", "--seed", "1", "--out", filepath.Join(dir, "m.safetensors")}
	code, _, errs := harmonium(t, base...)
	if code != 0 || !strings.Contains(errs, "relu hidden, CD-1") || !strings.Contains(errs, "lr 0.000984,") {
		t.Fatalf("defaults: %d %q", code, errs)
	}
	if code, _, errs := harmonium(t, append(base, "--learn-sigma", "--cd", "5", "--lr", "0.05")...); code != 1 || !strings.Contains(errs, "diverged") {
		t.Fatalf("the old recipe: %d %q (no longer diverges: is the test still telling?)", code, errs)
	}
}
