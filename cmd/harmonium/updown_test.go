package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/harmonium-ml/harmonium/modelfile"
)

func TestDBNUpDown(t *testing.T) {
	dir := t.TempDir()
	x, y := blobs(t, dir, 120)
	d := filepath.Join(dir, "d.safetensors")
	if code, _, errs := harmonium(t, "dbn", "train", "--data", x, "--label-file", y, "--labels", "--layers", "8,6", "--epochs", "3", "--quiet", "--out", d); code != 0 {
		t.Fatal(errs)
	}
	ud := filepath.Join(dir, "ud.safetensors")
	code, out, errs := harmonium(t, "dbn", "updown", "--model", d, "--data", x, "--label-file", y, "--epochs", "3", "--batch", "20", "--lr", "0.01", "--top-steps", "2", "--json", "--out", ud)
	if code != 0 {
		t.Fatal(errs)
	}
	var res struct{ Epochs []map[string]any }
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.Epochs) != 3 || !strings.Contains(errs, "wake reconstruction error") {
		t.Fatalf("updown --json: %v %q %q", err, out, errs)
	}
	m, meta, _, _, err := modelfile.LoadDBN(ud)
	if err != nil || len(m.Gen) != 1 || meta["updown_epochs"] != "3" {
		t.Fatalf("the fine-tuned DBN: %v, %d generative layers, %v", err, len(m.Gen), meta["updown_epochs"])
	}
	if code, _, errs := harmonium(t, "dbn", "sample", "--model", ud, "--n", "2", "--image-shape", "4x4", "--out", filepath.Join(dir, "dreams.png")); code != 0 {
		t.Errorf("dbn sample of the fine-tuned DBN: %s", errs)
	}
	plain := filepath.Join(dir, "plain.safetensors")
	if code, _, errs := harmonium(t, "dbn", "train", "--data", x, "--layers", "8,6", "--epochs", "1", "--quiet", "--out", plain); code != 0 {
		t.Fatal(errs)
	}
	bad := filepath.Join(dir, "bad.safetensors")
	if code, _, errs := harmonium(t, "dbn", "updown", "--model", plain, "--data", x, "--out", bad); code == 0 || !strings.Contains(errs, "without labels") {
		t.Errorf("updown on a DBN without labels: %d %q", code, errs)
	}
	if _, err := os.Stat(bad); err == nil {
		t.Error("a refused updown wrote its output")
	}
}
