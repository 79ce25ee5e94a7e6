package main

import (
	"encoding/json"
	"path/filepath"
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
