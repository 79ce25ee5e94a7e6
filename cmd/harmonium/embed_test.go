package main

import (
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/harmonium-ml/harmonium/viz"
)

// decodePNG reads a PNG file written by a command.
func decodePNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

// colourPixels counts the pixels of img in each of the first n palette
// colours and in the colour of unlabelled dots (the last count).
func colourPixels(img image.Image, n int) []int {
	counts := make([]int, n+1)
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			c := [3]uint8{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8)}
			for k := range n {
				p := viz.Palette[k]
				if c == [3]uint8{p.R, p.G, p.B} {
					counts[k]++
				}
			}
			if u := viz.Unlabelled; c == [3]uint8{u.R, u.G, u.B} {
				counts[n]++
			}
		}
	}
	return counts
}

// embedHeight is the height of embed's picture for plots of size pixels:
// a caption line, the plot and its frame, the ticks and their labels.
func embedHeight(size int) int { return 18 + 4 + size + 1 + 4 + 18 + 4 }

func TestEmbedModels(t *testing.T) {
	dir := t.TempDir()
	x, y := blobs(t, dir, 90)
	vae := filepath.Join(dir, "vae.safetensors")
	if code, _, errs := harmonium(t, "ae", "train", "--kind", "vae", "--data", x, "--layers", "8", "--code", "2", "--epochs", "2", "--quiet", "--out", vae); code != 0 {
		t.Fatal(errs)
	}

	// The VAE's codes beside PCA's, coloured by the three classes.
	out := filepath.Join(dir, "vae.png")
	code, stdout, errs := harmonium(t, "embed", "--model", vae, "--data", x, "--labels", y, "--out", out, "--pca", "--size", "200")
	if code != 0 {
		t.Fatalf("embed: %d %s", code, errs)
	}
	if stdout != "" || !strings.Contains(errs, "wrote "+out) || !strings.Contains(errs, "principal components") || !strings.Contains(errs, "90 samples") {
		t.Errorf("embed messages: stdout %q, stderr %q", stdout, errs)
	}
	img := decodePNG(t, out)
	b := img.Bounds()
	if b.Dy() != embedHeight(200) || b.Dx() < 2*200+24 || b.Dx() > 2*(200+100)+24 {
		t.Errorf("picture of two 200-pixel plots is %dx%d", b.Dx(), b.Dy())
	}
	counts := colourPixels(img, 4)
	if counts[0] == 0 || counts[1] == 0 || counts[2] == 0 || counts[3] != 0 || counts[4] != 0 {
		t.Errorf("pixels of classes 0-3 and unlabelled: %v", counts)
	}

	// Without labels (a CSV has none) and without PCA: one colour, no legend.
	single := filepath.Join(dir, "single.png")
	if code, _, errs := harmonium(t, "embed", "--model", vae, "--data", x, "--out", single, "--size", "200", "--quiet"); code != 0 || errs != "" {
		t.Fatalf("embed without labels: %d %q", code, errs)
	}
	img = decodePNG(t, single)
	if b := img.Bounds(); b.Dy() != embedHeight(200) || b.Dx() > 200+100 {
		t.Errorf("one plot without legend is %dx%d", b.Dx(), b.Dy())
	}
	if counts := colourPixels(img, 3); counts[0]+counts[1]+counts[2] != 0 || counts[3] == 0 {
		t.Errorf("pixels of classes 0-2 and unlabelled without labels: %v", counts)
	}

	// A DBN whose top level has 2 units, and an RBM with 2 hidden units.
	stack := filepath.Join(dir, "dbn.safetensors")
	if code, _, errs := harmonium(t, "dbn", "train", "--data", x, "--layers", "6,2", "--top-units", "gaussian", "--epochs", "2", "--quiet", "--out", stack); code != 0 {
		t.Fatal(errs)
	}
	rbm2 := filepath.Join(dir, "rbm.safetensors")
	if code, _, errs := harmonium(t, "train", "--data", x, "--hidden", "2", "--epochs", "2", "--quiet", "--out", rbm2); code != 0 {
		t.Fatal(errs)
	}
	for _, c := range []struct{ model, what string }{{stack, "DBN top-level"}, {rbm2, "RBM hidden"}} {
		out := filepath.Join(dir, filepath.Base(c.model)+".png")
		code, _, errs := harmonium(t, "embed", "--model", c.model, "--data", x, "--labels", y, "--limit", "60", "--out", out, "--pca", "--size", "150", "--dot", "2")
		if code != 0 || !strings.Contains(errs, c.what) || !strings.Contains(errs, "60 samples") {
			t.Fatalf("embed %s: %d %q", c.model, code, errs)
		}
		if b := decodePNG(t, out).Bounds(); b.Dy() != embedHeight(150) {
			t.Errorf("%s: picture %dx%d", c.model, b.Dx(), b.Dy())
		}
	}
}

func TestEmbedRefusals(t *testing.T) {
	dir := t.TempDir()
	x, y := blobs(t, dir, 60)
	ae5 := filepath.Join(dir, "ae5.safetensors")
	if code, _, errs := harmonium(t, "ae", "train", "--kind", "ae", "--data", x, "--code", "5", "--epochs", "1", "--quiet", "--out", ae5); code != 0 {
		t.Fatal(errs)
	}
	net := filepath.Join(dir, "net.safetensors")
	if code, _, errs := harmonium(t, "nn", "train", "--data", x, "--labels", y, "--arch", "mlp:4", "--epochs", "1", "--quiet", "--out", net); code != 0 {
		t.Fatal(errs)
	}
	rbm3 := filepath.Join(dir, "rbm3.safetensors")
	if code, _, errs := harmonium(t, "train", "--data", x, "--hidden", "3", "--epochs", "1", "--quiet", "--out", rbm3); code != 0 {
		t.Fatal(errs)
	}
	vae := filepath.Join(dir, "vae.safetensors")
	if code, _, errs := harmonium(t, "ae", "train", "--kind", "vae", "--data", x, "--layers", "4", "--code", "2", "--epochs", "1", "--quiet", "--out", vae); code != 0 {
		t.Fatal(errs)
	}
	narrow := tinyCSV(t, dir)
	shortLabels := writeCSV(t, dir, "0\n1\n2\n")
	out := filepath.Join(dir, "p.png")
	for _, c := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"5-value code", []string{"--model", ae5, "--data", x}, 1, "5-value code; embed draws 2-value codes: train one with harmonium ae train --kind vae --code 2"},
		{"classifier", []string{"--model", net, "--data", x}, 1, "is a neural network (harmonium.nn/v1), not a model with a 2-value code"},
		{"3 hidden units", []string{"--model", rbm3, "--data", x}, 1, "RBM with 3 hidden units"},
		{"bad extension", []string{"--model", vae, "--data", x, "--out", filepath.Join(dir, "p.jpg")}, 2, `--out must name a .png file, got "`},
		{"no --out", []string{"--model", vae, "--data", x, "--out", ""}, 2, "--out must name a .png file"},
		{"no --model", []string{"--data", x}, 2, "--model is required"},
		{"missing model", []string{"--model", filepath.Join(dir, "none.safetensors"), "--data", x}, 1, "no such file"},
		{"data too narrow", []string{"--model", vae, "--data", narrow}, 1, "takes 16 values per sample but"},
		{"too few labels", []string{"--model", vae, "--data", x, "--labels", shortLabels}, 1, "has 3 labels, but"},
		{"size", []string{"--model", vae, "--data", x, "--size", "50"}, 2, "--size must be in [100, 2000]"},
		{"dot", []string{"--model", vae, "--data", x, "--dot", "0"}, 2, "--dot must be in [1, 9]"},
	} {
		args := append([]string{"embed", "--out", out}, c.args...)
		code, _, errs := harmonium(t, args...)
		if code != c.code || !strings.Contains(errs, c.want) || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
			t.Errorf("%s: exit %d, stderr %q; want exit %d and %q in one line", c.name, code, errs, c.code, c.want)
		}
		matches, _ := filepath.Glob(filepath.Join(dir, "p.*"))
		if len(matches) != 0 {
			t.Fatalf("%s: wrote %v", c.name, matches)
		}
	}
}
