package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/harmonium-ml/harmonium/modelfile"
)

// TestFinetuneAutoencode pretrains a DBN with a Gaussian code layer,
// fine-tunes it into a deep autoencoder, and checks that fine-tuning
// lowers the reconstruction error of the unrolled stack and that eval,
// features and compare take the result.
func TestFinetuneAutoencode(t *testing.T) {
	dir := t.TempDir()
	x, _ := blobs(t, dir, 120)
	stack := filepath.Join(dir, "stack.safetensors")
	if code, _, errs := harmonium(t, "dbn", "train", "--data", x, "--layers", "10,2", "--top-units", "gaussian", "--epochs", "5", "--quiet", "--out", stack); code != 0 {
		t.Fatal(errs)
	}
	unrolled := filepath.Join(dir, "unrolled.safetensors")
	tuned := filepath.Join(dir, "tuned.safetensors")
	common := []string{"finetune", "--model", stack, "--data", x, "--task", "autoencode", "--quiet", "--json"}
	if code, _, errs := harmonium(t, append(common, "--epochs", "1", "--lr", "1e-9", "--out", unrolled)...); code != 0 {
		t.Fatal(errs)
	}
	code, stdout, errs := harmonium(t, append(common, "--epochs", "40", "--batch", "10", "--out", tuned)...)
	if code != 0 {
		t.Fatal(errs)
	}
	if k, _, _ := modelfile.KindOf(tuned); k != modelfile.KindAE {
		t.Fatalf("finetune --task autoencode wrote a %v file", k)
	}
	recon := func(model string) float64 {
		code, out, errs := harmonium(t, "eval", "--model", model, "--data", x, "--json")
		if code != 0 {
			t.Fatal(errs)
		}
		var r struct {
			ReconError float64 `json:"recon_error"`
			Kind       string
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil || r.Kind != "deep" {
			t.Fatalf("eval: %v %q", err, out)
		}
		return r.ReconError
	}
	before, after := recon(unrolled), recon(tuned)
	if !(after < before*0.8) {
		t.Errorf("reconstruction error %.3f unrolled, %.3f fine-tuned (%s)", before, after, stdout)
	}
	feats := filepath.Join(dir, "code.csv")
	if code, _, errs := harmonium(t, "features", "--model", tuned, "--data", x, "--out", feats); code != 0 || !strings.Contains(errs, "2 features") {
		t.Errorf("features: %d %q", code, errs)
	}
	if code, _, errs := harmonium(t, "finetune", "--model", stack, "--data", x, "--task", "autoencode", "--dropout", "0.5", "--out", filepath.Join(dir, "x.safetensors")); code == 0 || !strings.Contains(errs, "--dropout") {
		t.Errorf("--dropout with autoencode: %d %q", code, errs)
	}
}

// TestGeneralCommandsTakeDBNsAndAutoencoders runs eval, features,
// reconstruct and filters on a DBN and an autoencoder.
func TestGeneralCommandsTakeDBNsAndAutoencoders(t *testing.T) {
	dir := t.TempDir()
	x, _ := blobs(t, dir, 60)
	d := filepath.Join(dir, "d.safetensors")
	a := filepath.Join(dir, "a.safetensors")
	if code, _, errs := harmonium(t, "dbn", "train", "--data", x, "--layers", "9,3", "--epochs", "2", "--quiet", "--out", d); code != 0 {
		t.Fatal(errs)
	}
	if code, _, errs := harmonium(t, "ae", "train", "--data", x, "--code", "5", "--epochs", "2", "--quiet", "--out", a); code != 0 {
		t.Fatal(errs)
	}
	code, out, errs := harmonium(t, "eval", "--model", d, "--data", x, "--json")
	var r struct {
		ReconError float64 `json:"recon_error"`
		Layers     []int
	}
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil || !(r.ReconError > 0) || len(r.Layers) != 3 {
		t.Fatalf("eval of a DBN: %d %q %s", code, out, errs)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"features", "--model", d, "--data", x}, "3 features (level 2"},
		{[]string{"features", "--model", d, "--data", x, "--layer", "1"}, "9 features (level 1"},
		{[]string{"reconstruct", "--model", d, "--data", x, "--n", "4", "--image-shape", "4x4"}, "4 samples and their reconstructions"},
		{[]string{"filters", "--model", d, "--n", "9", "--image-shape", "4x4"}, "filters of 9"},
		{[]string{"filters", "--model", a, "--n", "5", "--image-shape", "4x4"}, "filters of 5"},
	} {
		ext := ".csv"
		if c.args[0] != "features" {
			ext = ".png"
		}
		outFile := filepath.Join(dir, c.args[0]+strconv.Itoa(len(c.args))+ext)
		code, _, errs := harmonium(t, append(c.args, "--out", outFile)...)
		if code != 0 || !strings.Contains(errs, c.want) {
			t.Errorf("%v: %d %q, want %q", c.args, code, errs, c.want)
		}
	}
	if code, _, errs := harmonium(t, "features", "--model", d, "--data", x, "--layer", "3", "--out", filepath.Join(dir, "f.csv")); code == 0 || !strings.Contains(errs, "levels 1 to 2") {
		t.Errorf("features --layer 3 of a 2-level DBN: %d %q", code, errs)
	}
}

// TestDBNReport trains a small labelled DBN with --report and --curve and
// checks the page holds the curves, filters, reconstructions and dreams.
func TestDBNReport(t *testing.T) {
	dir := t.TempDir()
	x, y := blobs(t, dir, 90)
	page, curve := filepath.Join(dir, "r.html"), filepath.Join(dir, "c.png")
	code, _, errs := harmonium(t, "dbn", "train", "--data", x, "--label-file", y, "--labels", "--layers", "9,6", "--epochs", "2", "--image-shape", "4x4",
		"--quiet", "--report", page, "--curve", curve, "--out", filepath.Join(dir, "d.safetensors"))
	if code != 0 {
		t.Fatal(errs)
	}
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Training curves", "Filters", "Reconstructions", "Dreams", "layer 1 reconstruction error"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	if _, err := os.Stat(curve); err != nil {
		t.Error(err)
	}
	bad := filepath.Join(dir, "bad.safetensors")
	if code, _, errs := harmonium(t, "dbn", "train", "--data", x, "--layers", "4", "--report", filepath.Join(dir, "r.txt"), "--out", bad); code == 0 || !strings.Contains(errs, "--report") {
		t.Errorf("--report r.txt: %d %q", code, errs)
	}
	if _, err := os.Stat(bad); err == nil {
		t.Error("a refused dbn train wrote its model")
	}
}
