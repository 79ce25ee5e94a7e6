package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestAETrainEvalUse trains each kind of autoencoder on a small CSV and
// uses it with eval, features, reconstruct and sample.
func TestAETrainEvalUse(t *testing.T) {
	dir := t.TempDir()
	x, _ := blobs(t, dir, 120)
	for _, c := range []struct {
		name string
		args []string
	}{
		{"ae", []string{"--kind", "ae", "--code", "6"}},
		{"dae", []string{"--kind", "dae", "--code", "6", "--noise", "saltpepper:0.2", "--tied"}},
		{"vae", []string{"--kind", "vae", "--layers", "8", "--code", "2"}},
		{"conv", []string{"--kind", "conv", "--layers", "3", "--image-shape", "4x4"}},
	} {
		out := filepath.Join(dir, c.name+".safetensors")
		args := append([]string{"ae", "train", "--data", x, "--epochs", "3", "--batch", "16", "--validate", "0.2", "--json", "--out", out, "--curve", filepath.Join(dir, c.name+".png")}, c.args...)
		code, stdout, stderr := harmonium(t, args...)
		if code != 0 {
			t.Fatalf("%s: ae train: %d %s", c.name, code, stderr)
		}
		var res struct {
			Epochs []struct{ Loss, ValLoss float64 } `json:"epochs"`
			Kind   string
		}
		if err := json.Unmarshal([]byte(stdout), &res); err != nil || len(res.Epochs) != 3 || res.Kind != c.name {
			t.Fatalf("%s: ae train --json: %v %q", c.name, err, stdout)
		}
		if !strings.Contains(stderr, "epoch 3/3") || !strings.Contains(stderr, "val loss") {
			t.Errorf("%s: progress lines: %q", c.name, stderr)
		}
		code, stdout, stderr = harmonium(t, "eval", "--model", out, "--data", x, "--samples", "20", "--json")
		if code != 0 {
			t.Fatalf("%s: eval: %s", c.name, stderr)
		}
		var ev map[string]any
		if err := json.Unmarshal([]byte(stdout), &ev); err != nil {
			t.Fatal(err)
		}
		_, hasLL := ev["log_likelihood"]
		if _, ok := ev["recon_error"]; !ok || hasLL != (c.name == "vae") {
			t.Errorf("%s: eval gave %v", c.name, ev)
		}
		feats := filepath.Join(dir, c.name+"-features.csv")
		if code, _, stderr := harmonium(t, "features", "--model", out, "--data", x, "--out", feats); code != 0 {
			t.Fatalf("%s: features: %s", c.name, stderr)
		}
		pic := filepath.Join(dir, c.name+"-rec.png")
		if code, _, stderr := harmonium(t, "reconstruct", "--model", out, "--data", x, "--n", "9", "--image-shape", "4x4", "--out", pic); code != 0 {
			t.Fatalf("%s: reconstruct: %s", c.name, stderr)
		}
		code, _, stderr = harmonium(t, "sample", "--model", out, "--n", "9", "--image-shape", "4x4", "--out", filepath.Join(dir, c.name+"-samples.png"))
		if (code == 0) != (c.name == "vae") {
			t.Errorf("%s: sample exit %d: %s", c.name, code, stderr)
		}
	}
}

// TestAEResumeMatchesStraightRun checks that 2 + 2 epochs through a
// checkpoint give the same autoencoder as 4 straight epochs, optimiser
// state included.
func TestAEResumeMatchesStraightRun(t *testing.T) {
	dir := t.TempDir()
	x, _ := blobs(t, dir, 90)
	common := []string{"ae", "train", "--kind", "dae", "--data", x, "--code", "5", "--batch", "16", "--seed", "4", "--quiet"}
	straight := filepath.Join(dir, "straight.safetensors")
	if code, _, errs := harmonium(t, append(common, "--epochs", "4", "--out", straight)...); code != 0 {
		t.Fatal(errs)
	}
	ck := filepath.Join(dir, "ck.safetensors")
	if code, _, errs := harmonium(t, append(common, "--epochs", "2", "--checkpoint", ck, "--out", filepath.Join(dir, "half.safetensors"))...); code != 0 {
		t.Fatal(errs)
	}
	resumed := filepath.Join(dir, "resumed.safetensors")
	if code, _, errs := harmonium(t, append(common, "--epochs", "4", "--checkpoint", ck, "--resume", "--out", resumed)...); code != 0 {
		t.Fatal(errs)
	}
	a, b := params(t, straight), params(t, resumed)
	if len(a) == 0 || len(a) != len(b) {
		t.Fatalf("%d and %d tensors", len(a), len(b))
	}
	for name, v := range a {
		if !slices.Equal(v, b[name]) {
			t.Fatalf("tensor %s: 2 + 2 resumed epochs differ from 4 straight epochs", name)
		}
	}
	code, _, errs := harmonium(t, "ae", "train", "--kind", "dae", "--data", x, "--code", "7", "--epochs", "4", "--checkpoint", ck, "--resume", "--out", resumed)
	if code == 0 || !strings.Contains(errs, "different autoencoder") {
		t.Fatalf("resume with another --code: %d %q", code, errs)
	}
	code, _, errs = harmonium(t, append(common, "--epochs", "4", "--optimizer", "rmsprop", "--checkpoint", ck, "--resume", "--out", resumed)...)
	if code == 0 || !strings.Contains(errs, "another --optimizer") {
		t.Fatalf("resume with another --optimizer: %d %q", code, errs)
	}
}

// TestAEBadInput checks one-line refusals that write nothing.
func TestAEBadInput(t *testing.T) {
	dir := t.TempDir()
	x, _ := blobs(t, dir, 30)
	out := filepath.Join(dir, "m.safetensors")
	vae := filepath.Join(dir, "vae.safetensors")
	if code, _, errs := harmonium(t, "ae", "train", "--kind", "vae", "--data", x, "--layers", "4", "--code", "2", "--epochs", "1", "--quiet", "--out", vae); code != 0 {
		t.Fatal(errs)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"ae", "train", "--kind", "dae", "--noise", "mask:2", "--data", x, "--out", out}, "--noise"},
		{[]string{"ae", "train", "--kind", "dae", "--noise", "pink", "--data", x, "--out", out}, "KIND:LEVEL"},
		{[]string{"ae", "train", "--kind", "conv", "--data", x, "--out", out}, "no image shape"},
		{[]string{"ae", "train", "--kind", "pca", "--data", x, "--out", out}, "--kind"},
		{[]string{"ae", "train", "--kind", "vae", "--noise", "mask:0.1", "--data", x, "--out", out}, "--noise applies to --kind dae"},
		{[]string{"ae", "train", "--kind", "ae", "--output", "bernoulli", "--scale=false", "--data", writeCSV(t, dir, "3,-1\n2,5\n"), "--out", out}, "outside [0, 1]"},
		{[]string{"eval", "--model", vae, "--data", writeCSV(t, dir, "0.5,0.5\n")}, "takes 16 values"},
		{[]string{"ae", "eval", "--model", x}, "read"},
	} {
		code, _, errs := harmonium(t, c.args...)
		if code == 0 || !strings.Contains(errs, c.want) || strings.Count(strings.TrimSpace(errs), "\n") > 0 {
			t.Errorf("%v: exit %d, %q; want a one-line error with %q", c.args, code, errs, c.want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatalf("%v wrote %s", c.args, out)
		}
	}
}

// writeCSV writes text to a new CSV file in dir and returns its path.
func writeCSV(t *testing.T, dir, text string) string {
	t.Helper()
	f, err := os.CreateTemp(dir, "*.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
	return f.Name()
}

// TestAEDefaultLearningRate checks each kind's learning rate when --lr is
// not given (Adam: 0.003 for ae, 0.001 for dae, vae and conv; the other
// optimisers 0.001) and that --lr replaces it, from the rate every epoch
// reports.
func TestAEDefaultLearningRate(t *testing.T) {
	dir := t.TempDir()
	x, _ := blobs(t, dir, 40)
	for _, c := range []struct {
		args []string
		want float64
	}{
		{[]string{"--kind", "ae", "--code", "4"}, 0.003},
		{[]string{"--kind", "dae", "--code", "4"}, 0.001},
		{[]string{"--kind", "vae", "--layers", "4", "--code", "2"}, 0.001},
		{[]string{"--kind", "conv", "--layers", "2", "--image-shape", "4x4"}, 0.001},
		{[]string{"--kind", "ae", "--code", "4", "--optimizer", "rmsprop"}, 0.001},
		{[]string{"--kind", "ae", "--code", "4", "--lr", "0.02"}, 0.02},
	} {
		args := append([]string{"ae", "train", "--data", x, "--epochs", "1", "--batch", "16", "--json", "--quiet", "--out", filepath.Join(dir, "m.safetensors")}, c.args...)
		code, stdout, stderr := harmonium(t, args...)
		if code != 0 {
			t.Fatalf("%v: %d %s", c.args, code, stderr)
		}
		var res struct {
			Epochs []struct {
				LearningRate float64 `json:"learning_rate"`
			} `json:"epochs"`
		}
		if err := json.Unmarshal([]byte(stdout), &res); err != nil || len(res.Epochs) != 1 {
			t.Fatalf("%v: %v %q", c.args, err, stdout)
		}
		if got := res.Epochs[0].LearningRate; got != c.want {
			t.Errorf("%v: learning rate %g, want %g", c.args, got, c.want)
		}
	}
}
