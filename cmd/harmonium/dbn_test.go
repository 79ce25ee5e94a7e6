package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/harmonium-ml/harmonium/modelfile"
)

// stripesCSV writes n samples of 16 binary features in two classes (the
// first or the second half on, every 7th value flipped) and their labels,
// and returns the two paths.
func stripesCSV(t *testing.T, dir string, n int) (string, string) {
	t.Helper()
	var x, y strings.Builder
	for i := range n {
		c := i % 2
		var row []string
		for j := range 16 {
			on := (j < 8) == (c == 0)
			if (i+j)%7 == 0 {
				on = !on
			}
			if on {
				row = append(row, "1")
			} else {
				row = append(row, "0")
			}
		}
		x.WriteString(strings.Join(row, ",") + "\n")
		fmt.Fprintf(&y, "%d\n", c)
	}
	xp, yp := filepath.Join(dir, "x.csv"), filepath.Join(dir, "y.csv")
	if err := os.WriteFile(xp, []byte(x.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(yp, []byte(y.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return xp, yp
}

func TestDBNTrainClassifySample(t *testing.T) {
	dir := t.TempDir()
	x, y := stripesCSV(t, dir, 200)
	out, ck := filepath.Join(dir, "d.safetensors"), filepath.Join(dir, "ck.safetensors")
	code, stdout, errs := harmonium(t, "dbn", "train", "--data", x, "--labels", "--label-file", y, "--layers", "12,10", "--epochs", "20,30",
		"--cd", "1", "--lr", "0.1", "--seed", "3", "--checkpoint", ck, "--out", out, "--json")
	if code != 0 {
		t.Fatalf("train: %d %s", code, errs)
	}
	if !strings.Contains(errs, "layer 1 epoch  30/30") || !strings.Contains(errs, "12+2 labels -> 10") {
		t.Errorf("progress: %s", errs)
	}
	var res struct {
		Sizes  []int `json:"sizes"`
		Labels int   `json:"labels"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || res.Labels != 2 || len(res.Sizes) != 3 {
		t.Fatalf("json %q: %v", stdout, err)
	}
	d, meta, total, st, err := modelfile.LoadDBN(out)
	if err != nil || st != nil || total != 2 || d.Labels != 2 || meta["layers.1.epochs"] != "30" {
		t.Fatalf("model: %v %v %d %v", err, st, total, meta["layers.1.epochs"])
	}
	code, stdout, errs = harmonium(t, "dbn", "classify", "--model", out, "--data", x, "--label-file", y, "--json")
	if code != 0 {
		t.Fatalf("classify: %d %s", code, errs)
	}
	var cl struct {
		Accuracy  float64 `json:"accuracy"`
		ErrorRate float64 `json:"error_rate"`
		N         int     `json:"n"`
		Confusion [][]int `json:"confusion"`
	}
	if err := json.Unmarshal([]byte(stdout), &cl); err != nil || cl.N != 200 || len(cl.Confusion) != 2 {
		t.Fatalf("classify json %q: %v", stdout, err)
	}
	if cl.Accuracy < 0.95 {
		t.Errorf("generative accuracy %.3f, want >= 0.95", cl.Accuracy)
	}
	png := filepath.Join(dir, "dreams.png")
	code, _, errs = harmonium(t, "dbn", "sample", "--model", out, "--steps", "20", "--n", "4", "--image-shape", "4x4", "--out", png)
	if code != 0 || !strings.Contains(errs, "one row of 4 per class 0..1") {
		t.Fatalf("sample: %d %s", code, errs)
	}
	if fi, err := os.Stat(png); err != nil || fi.Size() == 0 {
		t.Fatalf("no picture: %v", err)
	}
	code, _, errs = harmonium(t, "dbn", "sample", "--model", out, "--label", "1", "--steps", "5", "--image-shape", "4x4", "--out", png)
	if code != 0 || !strings.Contains(errs, "64 dreams of class 1") {
		t.Fatalf("sample --label 1: %d %s", code, errs)
	}
	// Resuming the finished checkpoint saves the same DBN.
	again := filepath.Join(dir, "again.safetensors")
	code, _, errs = harmonium(t, "dbn", "train", "--data", x, "--labels", "--label-file", y, "--layers", "12,10", "--epochs", "20,30",
		"--cd", "1", "--lr", "0.1", "--seed", "3", "--checkpoint", ck, "--resume", "--out", again, "--quiet")
	if code != 0 {
		t.Fatalf("resume: %d %s", code, errs)
	}
	a, _, _, _, _ := modelfile.LoadDBN(again)
	for i := range d.Layers {
		for k, w := range d.Layers[i].W.Data {
			if a.Layers[i].W.Data[k] != w {
				t.Fatalf("resumed model differs in layer %d", i)
			}
		}
	}
}

func TestDBNBadInput(t *testing.T) {
	dir := t.TempDir()
	x, y := stripesCSV(t, dir, 60)
	out := filepath.Join(dir, "d.safetensors")
	short := filepath.Join(dir, "short.csv")
	os.WriteFile(short, []byte("0\n1\n"), 0o644)
	wide := filepath.Join(dir, "wide.csv")
	os.WriteFile(wide, []byte(strings.Repeat("0\n1\n7\n", 20)), 0o644)
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no layers", []string{"dbn", "train", "--data", x, "--out", out}, 2, "--layers is required"},
		{"bad layers", []string{"dbn", "train", "--data", x, "--layers", "12,x", "--out", out}, 2, "--layers must list"},
		{"epochs per layer", []string{"dbn", "train", "--data", x, "--layers", "12,10", "--epochs", "1,2,3", "--out", out}, 2, "3 values for 2 layers"},
		{"labels without labels", []string{"dbn", "train", "--data", x, "--layers", "12", "--labels", "--out", out}, 2, "has no labels"},
		{"label count", []string{"dbn", "train", "--data", x, "--layers", "12", "--labels", "--label-file", short, "--out", out}, 1, short + " has 2 labels"},
		{"label file without labels", []string{"dbn", "train", "--data", x, "--layers", "12", "--label-file", y, "--out", out}, 2, "--label-file needs --labels"},
		{"resume without checkpoint", []string{"dbn", "train", "--data", x, "--layers", "12", "--resume", "--out", out}, 2, "--resume needs --checkpoint"},
		{"gaussian top with labels", []string{"dbn", "train", "--data", x, "--layers", "12", "--labels", "--label-file", y, "--top-units", "gaussian", "--out", out}, 2, "--labels needs Bernoulli top units"},
		{"unknown sub", []string{"dbn", "fit"}, 2, "unknown dbn command"},
	}
	for _, c := range cases {
		code, _, errs := harmonium(t, c.args...)
		if code != c.code || !strings.Contains(errs, c.want) || strings.Count(strings.TrimSpace(errs), "\n") > 0 {
			t.Errorf("%s: exit %d, stderr %q; want exit %d and %q in one line", c.name, code, errs, c.code, c.want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatalf("%s: wrote %s", c.name, out)
		}
	}
	// A checkpoint of a 12-10 DBN does not resume as 12-9.
	ck := filepath.Join(dir, "ck.safetensors")
	if code, _, errs := harmonium(t, "dbn", "train", "--data", x, "--layers", "12,10", "--epochs", "2", "--checkpoint", ck, "--out", out, "--quiet"); code != 0 {
		t.Fatalf("train: %s", errs)
	}
	os.Remove(out)
	code, _, errs := harmonium(t, "dbn", "train", "--data", x, "--layers", "12,9", "--epochs", "2", "--checkpoint", ck, "--resume", "--out", out, "--quiet")
	if code != 1 || !strings.Contains(errs, ck) || !strings.Contains(errs, "layer 1 of the checkpoint is 12x10, this run asks for 12x9") {
		t.Errorf("resume with other layers: %d %q", code, errs)
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("resume with other layers wrote %s", out)
	}
	// Generative classification needs labels in the model and in range.
	plain := filepath.Join(dir, "plain.safetensors")
	harmonium(t, "dbn", "train", "--data", x, "--layers", "12,10", "--epochs", "2", "--out", plain, "--quiet")
	if code, _, errs := harmonium(t, "dbn", "classify", "--model", plain, "--data", x); code != 1 || !strings.Contains(errs, "trained without labels") {
		t.Errorf("classify without labels: %d %q", code, errs)
	}
	labelled := filepath.Join(dir, "labelled.safetensors")
	harmonium(t, "dbn", "train", "--data", x, "--layers", "12,10", "--labels", "--label-file", y, "--epochs", "2", "--out", labelled, "--quiet")
	if code, _, errs := harmonium(t, "dbn", "classify", "--model", labelled, "--data", x, "--label-file", wide); code != 1 || !strings.Contains(errs, "label 7, outside 0..1") {
		t.Errorf("label out of range: %d %q", code, errs)
	}
	if code, _, errs := harmonium(t, "dbn", "sample", "--model", labelled, "--label", "2", "--out", filepath.Join(dir, "s.png")); code != 1 || !strings.Contains(errs, "outside 0..1") {
		t.Errorf("sample label out of range: %d %q", code, errs)
	}
}

func TestFinetune(t *testing.T) {
	dir := t.TempDir()
	x, y := stripesCSV(t, dir, 200)
	d := filepath.Join(dir, "d.safetensors")
	if code, _, errs := harmonium(t, "dbn", "train", "--data", x, "--layers", "12,10", "--epochs", "20", "--batch", "10", "--out", d, "--quiet"); code != 0 {
		t.Fatalf("dbn train: %s", errs)
	}
	net := filepath.Join(dir, "net.safetensors")
	code, stdout, errs := harmonium(t, "finetune", "--model", d, "--data", x, "--label-file", y, "--epochs", "20", "--batch", "10", "--validate", "0.2", "--out", net, "--json")
	if code != 0 || !strings.Contains(errs, "validation: loss") || !strings.Contains(stdout, `"validation_accuracy"`) {
		t.Fatalf("finetune: %d %s %s", code, stdout, errs)
	}
	code, stdout, errs = harmonium(t, "classify", "--model", net, "--data", x, "--labels", y, "--json")
	var cl struct{ Accuracy float64 }
	if code != 0 || json.Unmarshal([]byte(stdout), &cl) != nil || cl.Accuracy < 0.95 {
		t.Fatalf("classify the fine-tuned network: %d %q %s", code, stdout, errs)
	}
	rbmFile := filepath.Join(dir, "rbm.safetensors")
	if code, _, errs := harmonium(t, "train", "--data", x, "--hidden", "4", "--epochs", "1", "--out", rbmFile, "--quiet"); code != 0 {
		t.Fatalf("train: %s", errs)
	}
	bad := [][]string{
		{"finetune", "--model", rbmFile, "--data", x, "--label-file", y, "--out", filepath.Join(dir, "n2.safetensors")},
		{"finetune", "--model", d, "--data", x, "--out", filepath.Join(dir, "n2.safetensors")},
		{"finetune", "--model", d, "--data", x, "--label-file", y, "--task", "denoise", "--out", filepath.Join(dir, "n2.safetensors")},
	}
	wants := []string{"single RBM", "has no labels", "classify or autoencode"}
	for i, args := range bad {
		code, _, errs := harmonium(t, args...)
		if code == 0 || !strings.Contains(errs, wants[i]) {
			t.Errorf("%v: %d %q, want %q", args, code, errs, wants[i])
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "n2.safetensors")); err == nil {
		t.Error("a refused finetune wrote its output")
	}
}

func TestDBNGaussianUnits(t *testing.T) {
	dir := t.TempDir()
	x, _ := stripesCSV(t, dir, 100)
	out := filepath.Join(dir, "g.safetensors")
	code, _, errs := harmonium(t, "dbn", "train", "--data", x, "--visible", "gaussian", "--standardize", "--layers", "8,4",
		"--top-units", "gaussian", "--epochs", "3", "--out", out)
	if code != 0 || !strings.Contains(errs, "CD-20") || !strings.Contains(errs, "lr 0.01") {
		t.Fatalf("train: %d %s", code, errs)
	}
	d, meta, _, _, err := modelfile.LoadDBN(out)
	if err != nil || d.Scaler() == nil || d.Layers[0].LogVar == nil || d.Layers[1].HidUnits.String() != "gaussian" {
		t.Fatalf("model: %v %+v", err, d)
	}
	if meta["layers.0.cd_steps"] != "20" || meta["layers.1.learning_rate"] != "0.01" {
		t.Errorf("per-layer settings: cd_steps %q, learning_rate %q", meta["layers.0.cd_steps"], meta["layers.1.learning_rate"])
	}
	png := filepath.Join(dir, "s.png")
	if code, _, errs := harmonium(t, "dbn", "sample", "--model", out, "--steps", "3", "--n", "4", "--image-shape", "4x4", "--out", png); code != 0 || !strings.Contains(errs, "4 unclamped dreams") {
		t.Fatalf("sample: %d %s", code, errs)
	}
}

// dbn train refuses an --image-shape it cannot keep, as train does, before
// training (it once trained and saved the DBN without the shape); a shape
// that fits is kept in the model.
func TestDBNTrainImageShape(t *testing.T) {
	dir := t.TempDir()
	data := tinyCSV(t, dir)
	out := filepath.Join(dir, "d.safetensors")
	for shape, code := range map[string]int{"3x3": 1, "abc": 2, "0x6": 2} {
		c, _, errs := harmonium(t, "dbn", "train", "--data", data, "--layers", "4", "--epochs", "1", "--image-shape", shape, "--out", out, "--quiet")
		if c != code || !strings.Contains(errs, "image shape") || strings.Count(errs, "\n") != 1 {
			t.Errorf("--image-shape %s: exit %d, %q", shape, c, errs)
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatalf("--image-shape %s: a model was written", shape)
		}
	}
	if c, _, errs := harmonium(t, "dbn", "train", "--data", data, "--layers", "4", "--epochs", "1", "--image-shape", "2x3", "--out", out, "--quiet"); c != 0 {
		t.Fatal(errs)
	}
	if _, meta, _, _, err := modelfile.LoadDBN(out); err != nil || meta["image_shape"] != "2x3" {
		t.Fatalf("image shape kept: %q, %v", meta["image_shape"], err)
	}
}
