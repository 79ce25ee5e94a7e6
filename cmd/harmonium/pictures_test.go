package main

import (
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/harmonium-ml/harmonium/modelfile"
)

// trainedModel trains a small 784-36 model on 500 embedded digits.
func trainedModel(t *testing.T, dir string) string {
	t.Helper()
	model := filepath.Join(dir, "m.safetensors")
	if code, _, errs := harmonium(t, "train", "--limit", "500", "--hidden", "36", "--epochs", "2", "--out", model, "--quiet"); code != 0 {
		t.Fatal(errs)
	}
	return model
}

func pngSize(t *testing.T, path string) (int, int) {
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
	return img.Bounds().Dx(), img.Bounds().Dy()
}

func TestPictureCommands(t *testing.T) {
	dir := t.TempDir()
	model := trainedModel(t, dir)
	out := func(name string) string { return filepath.Join(dir, name) }

	// 16 digits, 4x4 grids of 28x28 tiles at zoom 2: each grid 4*(56+1)+1 = 229
	// wide, captions 18 high; the two grids 24 apart.
	if code, _, errs := harmonium(t, "reconstruct", "--model", model, "--n", "16", "--zoom", "2", "--out", out("r.png")); code != 0 {
		t.Fatal(errs)
	}
	if w, h := pngSize(t, out("r.png")); w != 2*229+24 || h != 229+18 {
		t.Fatalf("reconstruction grid is %dx%d", w, h)
	}
	if code, _, errs := harmonium(t, "reconstruct", "--model", model, "--n", "5", "--random", "--seed", "3", "--out", out("r5.png")); code != 0 {
		t.Fatal(errs)
	}
	if w, _ := pngSize(t, out("r5.png")); w != 2*(3*(84+1)+1)+24 {
		t.Fatalf("5 random digits at the default zoom: width %d", w)
	}
	// 36 filters: a 6x6 grid; the caption is wider than the grid at zoom 1.
	if code, _, errs := harmonium(t, "filters", "--model", model, "--n", "36", "--zoom", "1", "--out", out("f.png")); code != 0 {
		t.Fatal(errs)
	}
	if _, h := pngSize(t, out("f.png")); h != 6*29+1+18 {
		t.Fatalf("filter grid height %d", h)
	}
	// 3 chains, snapshots every 10 of 30 steps: 3 rows of 4 tiles.
	if code, _, errs := harmonium(t, "sample", "--model", model, "--n", "3", "--steps", "30", "--every", "10", "--zoom", "1", "--out", out("s.png")); code != 0 {
		t.Fatal(errs)
	}
	if _, h := pngSize(t, out("s.png")); h != 3*29+1+18 {
		t.Fatalf("chains image height %d", h)
	}
	if code, _, errs := harmonium(t, "sample", "--model", model, "--n", "9", "--steps", "20", "--init", "data", "--zoom", "1", "--out", out("s9.png"), "--quiet"); code != 0 || errs != "" {
		t.Fatal(errs)
	}
	if _, h := pngSize(t, out("s9.png")); h != 3*29+1+18 {
		t.Fatalf("9 samples image height %d", h)
	}

	// Errors: one line, non-zero status, no file.
	csv := filepath.Join(dir, "wide.csv")
	os.WriteFile(csv, []byte(strings.Repeat("0,", 98)+"0\n"), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"reconstruct", "--model", model, "--n", "20000", "--out", out("x.png")}, "more than the 10000 samples"},
		{[]string{"reconstruct", "--model", model, "--image-shape", "20x20", "--out", out("x.png")}, "400 pixels, but there are 784"},
		{[]string{"reconstruct", "--model", model, "--image-shape", "28", "--out", out("x.png")}, "not HxW"},
		{[]string{"reconstruct", "--model", model, "--out", filepath.Join(dir, "no", "x.png")}, "no such file"},
		{[]string{"reconstruct", "--model", model, "--out", out("x.jpg")}, "--out must name a .png"},
		{[]string{"reconstruct", "--model", model, "--data", csv, "--out", out("x.png")}, "784 visible units"},
		{[]string{"filters", "--model", model, "--n", "37", "--out", out("x.png")}, "more than the 36 hidden units"},
		{[]string{"filters", "--model", model, "--n", "0", "--out", out("x.png")}, "--n must be positive"},
		{[]string{"sample", "--model", model, "--init", "noise", "--out", out("x.png")}, "--init must be random or data"},
		{[]string{"sample", "--model", model, "--steps", "1000", "--every", "1", "--out", out("x.png")}, "more than 100 snapshots"},
		{[]string{"train", "--data", csv, "--hidden", "3", "--epochs", "1", "--report", out("x.html"), "--out", out("x.safetensors")}, "--image-shape"},
		{[]string{"train", "--limit", "100", "--hidden", "3", "--epochs", "1", "--validate", "1.5", "--out", out("x.safetensors")}, "--validate must be a fraction"},
		{[]string{"train", "--limit", "100", "--hidden", "3", "--epochs", "1", "--curve", out("c.gif"), "--out", out("x.safetensors")}, "--curve must name a .png or .svg"},
	} {
		code, _, errs := harmonium(t, c.args...)
		if code == 0 || !strings.Contains(errs, c.want) || strings.Count(strings.TrimSpace(errs), "\n") > 0 {
			t.Errorf("%v: exit %d, stderr %q, want one line with %q", c.args, code, errs, c.want)
		}
	}
	for _, name := range []string{"x.png", "x.html", "x.safetensors", "c.gif"} {
		if _, err := os.Stat(out(name)); err == nil {
			t.Errorf("a failed command wrote %s", name)
		}
	}
}

// findChromium returns the path of a Chromium browser, or "".
func findChromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// The report opens in a real browser with every image decoded.
func TestReportRendersInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("long; runs in the full suite (make test)")
	}
	dir := t.TempDir()
	report := filepath.Join(dir, "report.html")
	curve := filepath.Join(dir, "curve.svg")
	code, _, errs := harmonium(t, "train", "--limit", "600", "--hidden", "25", "--epochs", "3", "--validate", "0.2",
		"--curve", curve, "--report", report, "--out", filepath.Join(dir, "m.safetensors"))
	if code != 0 {
		t.Fatal(errs)
	}
	if !strings.Contains(errs, "validation: recon") || !strings.Contains(errs, "wrote "+report) {
		t.Fatalf("train output lacks validation figures or the report path: %q", errs)
	}
	if b, err := os.ReadFile(curve); err != nil || !strings.Contains(string(b), "<svg") {
		t.Fatalf("curve: %v", err)
	}
	browser := findChromium()
	if browser == "" {
		t.Skip("no Chromium found: skipping the browser check of the report (.ci/run installs it)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser), chromedp.NoSandbox,
		chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1200, 900))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate("file://"+report), chromedp.WaitReady("body")); err != nil {
		t.Fatalf("Chromium: %v", err)
	}
	images, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.images.length`))
	if err != nil {
		t.Fatalf("Chromium: %v", err)
	}
	loaded, err := chromedp.Run(ctx, chromedp.Evaluate[int](`Array.from(document.images).filter(i => i.complete && i.naturalWidth > 0).length`))
	if err != nil {
		t.Fatalf("Chromium: %v", err)
	}
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil {
		t.Fatalf("Chromium: %v", err)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(80))
	if err != nil {
		t.Fatalf("Chromium screenshot: %v", err)
	}
	if images != 4 || loaded != images || !strings.Contains(title, "784-25 RBM") {
		t.Fatalf("report in Chromium: %d images, %d decoded, title %q", images, loaded, title)
	}
	if len(shot) < 10000 {
		t.Fatalf("screenshot of %d bytes", len(shot))
	}
	if keep := os.Getenv("HARMONIUM_KEEP_SCREENSHOT"); keep != "" {
		os.WriteFile(keep, shot, 0o644)
	}
}

// TestBadImageShapeInModel draws the filters of a model whose image_shape
// metadata is not HxW or does not match its visible units: an error that
// says it is the model's, and --image-shape overriding it.
func TestBadImageShapeInModel(t *testing.T) {
	dir := t.TempDir()
	f, err := modelfile.Read(trainedModel(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	var tensors []modelfile.Tensor
	for _, x := range f.Tensors {
		tensors = append(tensors, x)
	}
	for _, shape := range []string{"99999x99999", "28by28"} {
		f.Meta["image_shape"] = shape
		model := filepath.Join(dir, "bad.safetensors")
		if err := modelfile.Write(model, tensors, f.Meta); err != nil {
			t.Fatal(err)
		}
		code, _, errs := harmonium(t, "filters", "--model", model, "--n", "4", "--out", filepath.Join(dir, "f.png"))
		if code != 1 || !strings.Contains(errs, "the model's image_shape") {
			t.Errorf("image_shape %q: exit %d, %q; want an error about the model's image_shape", shape, code, errs)
		}
		if code, _, errs := harmonium(t, "filters", "--model", model, "--n", "4", "--image-shape", "28x28", "--out", filepath.Join(dir, "f.png")); code != 0 {
			t.Errorf("image_shape %q overridden by --image-shape: %s", shape, errs)
		}
	}
}
