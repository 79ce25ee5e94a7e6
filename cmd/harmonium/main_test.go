package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/harmonium-ml/harmonium/dataset"
	"github.com/harmonium-ml/harmonium/modelfile"
)

// harmonium runs the command line in-process and returns its exit status,
// stdout and stderr.
func harmonium(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return harmoniumCtx(t, context.Background(), args...)
}

func harmoniumCtx(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(ctx, &env{stdout: &out, stderr: &errb}, args)
	return code, out.String(), errb.String()
}

// tinyCSV writes a small binary data set with two clear patterns.
func tinyCSV(t *testing.T, dir string) string {
	var b strings.Builder
	b.WriteString("a,b,c,d,e,f\n")
	for i := 0; i < 40; i++ {
		if i%2 == 0 {
			b.WriteString("1,1,1,0,0,0\n")
		} else {
			b.WriteString("0,0,0,1,1,1\n")
		}
	}
	p := filepath.Join(dir, "tiny.csv")
	os.WriteFile(p, []byte(b.String()), 0o644)
	return p
}

func TestHelp(t *testing.T) {
	code, out, _ := harmonium(t, "help")
	if code != 0 || !strings.Contains(out, "train") || !strings.Contains(out, "Examples") {
		t.Fatalf("help: %d %q", code, out)
	}
	for _, c := range commands {
		code, out, _ := harmonium(t, c.name, "--help")
		if code != 0 || !strings.Contains(out, "Example:") || !strings.Contains(out, "-") {
			t.Fatalf("%s --help: %d %q", c.name, code, out)
		}
	}
	if code, _, errs := harmonium(t, "frobnicate"); code != 2 || !strings.Contains(errs, "unknown command") {
		t.Fatalf("unknown command: %d %q", code, errs)
	}
}

func TestTrainEvalFeaturesCSV(t *testing.T) {
	dir := t.TempDir()
	data := tinyCSV(t, dir)
	model := filepath.Join(dir, "m.safetensors")
	code, out, errs := harmonium(t, "train", "--data", data, "--hidden", "4", "--epochs", "30", "--batch", "10", "--seed", "3", "--out", model, "--json")
	if code != 0 {
		t.Fatalf("train: %d %s", code, errs)
	}
	var res struct {
		Epochs []struct {
			ReconError float64 `json:"recon_error"`
		} `json:"epochs"`
		ReconError float64 `json:"recon_error"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.Epochs) != 30 {
		t.Fatalf("train --json: %v %q", err, out)
	}
	if !(res.ReconError < res.Epochs[0].ReconError) {
		t.Fatalf("reconstruction error did not fall: %v -> %v", res.Epochs[0].ReconError, res.ReconError)
	}
	if !strings.Contains(errs, "epoch 30/30") {
		t.Fatalf("no per-epoch progress lines in %q", errs)
	}
	code, out, errs = harmonium(t, "eval", "--model", model, "--data", data, "--json")
	var ev struct {
		Recon   float64 `json:"recon_error"`
		Free    float64 `json:"free_energy"`
		Samples int     `json:"samples"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &ev) != nil || ev.Samples != 40 || ev.Recon < 0 || ev.Recon > 6 {
		t.Fatalf("eval: %d %q %s", code, out, errs)
	}
	code, out, _ = harmonium(t, "eval", "--model", model, "--data", data)
	if code != 0 || !strings.Contains(out, "reconstruction error:") {
		t.Fatalf("eval text: %q", out)
	}
	for _, ext := range []string{".npy", ".csv"} {
		f := filepath.Join(dir, "feat"+ext)
		if code, _, errs := harmonium(t, "features", "--model", model, "--data", data, "--out", f); code != 0 {
			t.Fatalf("features %s: %s", ext, errs)
		}
		s, err := dataset.Load(f, "")
		if err != nil || s.X.Rows != 40 || s.X.Cols != 4 {
			t.Fatalf("features %s: %v", ext, err)
		}
	}
}

// Training on a subset of MNIST lowers the reconstruction error of held-out digits.
func TestTrainEmbeddedMNISTSubset(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "m.safetensors")
	code, _, errs := harmonium(t, "train", "--limit", "2000", "--hidden", "64", "--epochs", "3", "--out", model, "--quiet")
	if code != 0 || errs != "" {
		t.Fatalf("train: %d %q", code, errs)
	}
	m, meta, _, err := modelfile.LoadRBM(model)
	if err != nil || m.Visible() != 784 || m.Hidden() != 64 || meta["data"] != dataset.EmbeddedName || meta["learning_rate"] != "0.1" {
		t.Fatalf("model: %v %v", err, meta)
	}
	set, _ := dataset.Embedded()
	held := set.X.Slice(5000, 6000)
	trained := m.ReconstructionError(held, 1)
	code, out, _ := harmonium(t, "train", "--limit", "2000", "--hidden", "64", "--epochs", "1", "--lr", "1e-9", "--out", filepath.Join(dir, "u.safetensors"), "--quiet", "--json")
	if code != 0 {
		t.Fatal(out)
	}
	u, _, _, _ := modelfile.LoadRBM(filepath.Join(dir, "u.safetensors"))
	before := u.ReconstructionError(held, 1)
	if !(trained < 0.8*before) {
		t.Fatalf("held-out reconstruction error %.2f after training, %.2f before", trained, before)
	}
	t.Logf("held-out reconstruction error: %.2f untrained, %.2f after 3 epochs on 2000 digits", before, trained)
}

func TestCheckpointResumeMatchesStraightRun(t *testing.T) {
	dir := t.TempDir()
	data := tinyCSV(t, dir)
	common := []string{"train", "--data", data, "--hidden", "5", "--batch", "8", "--pcd", "2", "--centered", "--seed", "9", "--quiet"}
	straight := filepath.Join(dir, "straight.safetensors")
	if code, _, errs := harmonium(t, append(common, "--epochs", "6", "--out", straight)...); code != 0 {
		t.Fatal(errs)
	}
	ck := filepath.Join(dir, "ck.safetensors")
	if code, _, errs := harmonium(t, append(common, "--epochs", "3", "--checkpoint", ck, "--out", filepath.Join(dir, "half.safetensors"))...); code != 0 {
		t.Fatal(errs)
	}
	resumed := filepath.Join(dir, "resumed.safetensors")
	if code, _, errs := harmonium(t, append(common, "--epochs", "6", "--checkpoint", ck, "--resume", "--out", resumed)...); code != 0 {
		t.Fatal(errs)
	}
	a, _, _, _ := modelfile.LoadRBM(straight)
	b, _, _, _ := modelfile.LoadRBM(resumed)
	for i := range a.W.Data {
		if a.W.Data[i] != b.W.Data[i] {
			t.Fatal("3 + 3 resumed epochs differ from 6 straight epochs")
		}
	}
	code, _, errs := harmonium(t, "train", "--data", data, "--hidden", "7", "--epochs", "6", "--checkpoint", ck, "--resume", "--out", resumed)
	if code == 0 || !strings.Contains(errs, "6x5 model") {
		t.Fatalf("resume with another --hidden: %d %q", code, errs)
	}
}

func TestInterrupt(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := filepath.Join(dir, "m.safetensors")
	code, _, errs := harmoniumCtx(t, ctx, "train", "--data", tinyCSV(t, dir), "--hidden", "3", "--out", out)
	if code != 130 || !strings.Contains(errs, "interrupted") {
		t.Fatalf("cancelled train: %d %q", code, errs)
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("an interrupted run wrote its model")
	}
}

func TestDownloadFlag(t *testing.T) {
	shared := filepath.Join("..", "..", "..", "shared", "data", "mnist")
	if _, err := os.Stat(shared); err != nil {
		t.Skipf("MNIST not found at %s: skipping the --data mnist download test", shared)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(shared)))
	defer srv.Close()
	cache := t.TempDir()
	t.Setenv("HARMONIUM_MNIST_URL", srv.URL)
	t.Setenv("HARMONIUM_CACHE", cache)
	dir := t.TempDir()
	model := filepath.Join(dir, "m.safetensors")
	if code, _, errs := harmonium(t, "train", "--data", "mnist", "--limit", "300", "--hidden", "10", "--epochs", "1", "--out", model, "--quiet"); code != 0 {
		t.Fatal(errs)
	}
	if _, err := os.Stat(filepath.Join(cache, "mnist", "train-images-idx3-ubyte.gz")); err != nil {
		t.Fatal("MNIST was not downloaded into the cache")
	}
	code, out, errs := harmonium(t, "eval", "--model", model, "--data", "mnist", "--json")
	if code != 0 || !strings.Contains(out, `"samples":10000`) {
		t.Fatalf("eval on downloaded MNIST test split: %d %q %q", code, out, errs)
	}
}

// Every bad input gives one line naming the problem, a non-zero status, no
// panic and no output file.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	data := tinyCSV(t, dir)
	model := filepath.Join(dir, "m.safetensors")
	if code, _, errs := harmonium(t, "train", "--data", data, "--hidden", "3", "--epochs", "1", "--out", model, "--quiet"); code != 0 {
		t.Fatal(errs)
	}
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o644)
		return p
	}
	badIDX := filepath.Join(dir, "idx")
	os.Mkdir(badIDX, 0o755)
	os.WriteFile(filepath.Join(badIDX, "train-images-idx3-ubyte"), []byte{0, 0, 8, 9, 0, 0, 0, 1}, 0o644)
	mb, _ := os.ReadFile(model)
	trunc := write("trunc.safetensors", string(mb[:len(mb)/2]))
	wide := write("wide.csv", "0,1,0,1,0,1,0\n")
	out := filepath.Join(dir, "out.safetensors")
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"train", "--data", filepath.Join(dir, "nope.csv"), "--out", out}, []string{"nope.csv", "no such file"}},
		{[]string{"train", "--data", badIDX, "--out", out}, []string{"train-images-idx3-ubyte", "wrong IDX magic"}},
		{[]string{"train", "--data", write("ragged.csv", "0,1\n1\n"), "--out", out}, []string{"ragged.csv", "line 2"}},
		{[]string{"train", "--data", write("nan.csv", "0,NaN\n"), "--out", out}, []string{"nan.csv", "NaN"}},
		{[]string{"train", "--data", write("big.csv", "0,2\n"), "--out", out}, []string{"big.csv", "outside [0, 1]", "--scale"}},
		{[]string{"train", "--data", data, "--hidden", "0", "--out", out}, []string{"--hidden must be positive"}},
		{[]string{"train", "--data", data, "--batch", "-5", "--out", out}, []string{"--batch must be positive"}},
		{[]string{"train", "--data", data, "--epochs", "0", "--out", out}, []string{"--epochs must be positive"}},
		{[]string{"train", "--data", data, "--cd", "0", "--out", out}, []string{"--cd must be positive"}},
		{[]string{"train", "--data", data, "--lr", "0", "--out", out}, []string{"learning rate must be positive"}},
		{[]string{"train", "--data", data, "--lr", "abc", "--out", out}, []string{"invalid value"}},
		{[]string{"train", "--data", data, "--hidden", "3", "--out", filepath.Join(dir, "no", "such", "m.safetensors"), "--quiet"}, []string{"no such file"}},
		{[]string{"eval", "--model", trunc, "--data", data}, []string{"trunc.safetensors", "truncated"}},
		{[]string{"eval", "--model", filepath.Join(dir, "absent.safetensors"), "--data", data}, []string{"absent.safetensors", "no such file"}},
		{[]string{"eval", "--model", model, "--data", wide}, []string{"3 visible", "6 visible units", "wide.csv", "7 values"}},
		{[]string{"eval", "--data", data}, []string{"--model is required"}},
		{[]string{"features", "--model", model, "--data", data, "--out", filepath.Join(dir, "f.txt")}, []string{"--out must name a .npy or .csv"}},
		{[]string{"eval", "--model", data, "--data", data}, []string{"tiny.csv", "header length"}},
	}
	for _, c := range cases {
		code, _, errs := harmonium(t, c.args...)
		if code == 0 || strings.Count(strings.TrimRight(errs, "\n"), "\n") > 0 || strings.Contains(errs, "panic") || strings.Contains(errs, "goroutine") {
			t.Errorf("%v: exit %d, stderr %q", c.args, code, errs)
			continue
		}
		for _, w := range c.want {
			if strings.Contains(w, "visible") && !strings.Contains(errs, w) {
				continue // the mismatch message names one of the two counts
			}
			if !strings.Contains(errs, w) {
				t.Errorf("%v: stderr %q does not mention %q", c.args, errs, w)
			}
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("a failed run wrote its output")
	}
	if entries, _ := os.ReadDir(dir); len(entries) == 0 {
		t.Fatal("test folder vanished")
	} else {
		for _, e := range entries {
			if strings.Contains(e.Name(), ".tmp") {
				t.Fatalf("temporary file %s left behind", e.Name())
			}
		}
	}
}

func TestPlainProgressLines(t *testing.T) {
	old := plainEvery
	plainEvery = 0
	defer func() { plainEvery = old }()
	var errb strings.Builder
	b := newBar(&env{stderr: &errb}, "sampling", false)
	b.update(1, 4, "")
	b.update(2, 4, "")
	b.update(4, 4, "")
	b.done()
	if got := errb.String(); !strings.Contains(got, "sampling: 50% done, ETA") || strings.Contains(got, "\r") || strings.Count(got, "\n") != 2 {
		t.Fatalf("plain progress: %q", got)
	}
	// Nothing done yet: no estimate (it once printed an overflowed one).
	errb.Reset()
	z := newBar(&env{stderr: &errb}, "sampling", false)
	z.update(0, 4, "")
	if got := errb.String(); !strings.Contains(got, "sampling: 0% done, ETA --:--") || strings.Contains(got, "-1") {
		t.Fatalf("plain progress before the first step: %q", got)
	}
	if got := eta(time.Hour, 1, math.MaxInt); got != "--:--" {
		t.Fatalf("an ETA beyond a Duration: %q", got)
	}
	errb.Reset()
	q := newBar(&env{stderr: &errb}, "sampling", true)
	q.update(2, 4, "")
	if errb.Len() != 0 {
		t.Fatal("--quiet printed progress")
	}
}

// TestOutputsCheckedFirst checks that training commands whose outputs
// include one that cannot be written fail before training, leaving an
// existing file at another output path as it was.
func TestOutputsCheckedFirst(t *testing.T) {
	dir := t.TempDir()
	data := tinyCSV(t, dir)
	x, y := blobs(t, dir, 30)
	model, curve := filepath.Join(dir, "m.safetensors"), filepath.Join(dir, "c.png")
	missing := filepath.Join(dir, "no", "such")
	for _, args := range [][]string{
		{"train", "--data", data, "--hidden", "2", "--epochs", "1", "--quiet", "--out", model, "--curve", filepath.Join(missing, "c.png")},
		{"dbn", "train", "--data", data, "--layers", "2", "--epochs", "1", "--quiet", "--out", model, "--report", filepath.Join(missing, "r.html")},
		{"nn", "train", "--data", x, "--labels", y, "--arch", "mlp:4", "--epochs", "1", "--quiet", "--curve", curve, "--out", filepath.Join(missing, "n.safetensors")},
		{"ae", "train", "--data", data, "--code", "2", "--epochs", "1", "--quiet", "--curve", curve, "--out", dir},
	} {
		for _, p := range []string{model, curve} {
			os.WriteFile(p, []byte("old"), 0o644)
		}
		code, _, stderr := harmonium(t, args...)
		if code != 1 || !strings.HasPrefix(stderr, "harmonium "+args[0]+": write ") || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%s: exit %d, %q; want a one-line write error", args[0], code, stderr)
		}
		for _, p := range []string{model, curve} {
			if b, _ := os.ReadFile(p); string(b) != "old" {
				t.Errorf("%s: %s replaced by a run that failed", args[0], filepath.Base(p))
			}
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 5 { // tiny.csv, x and y, the two outputs
		t.Errorf("files left behind: %v", entries)
	}
}

// TestOutputCheckedBeforeInputs checks that commands that compute then
// write one file (pictures, predictions, a comparison page, a fine-tuned
// DBN) try the output path before reading anything: a mistyped path fails
// at once rather than after the work.
func TestOutputCheckedBeforeInputs(t *testing.T) {
	dir := t.TempDir()
	none, missing := filepath.Join(dir, "none"), filepath.Join(dir, "no", "such")
	for _, args := range [][]string{
		{"reconstruct", "--model", none, "--data", none + ".csv", "--out", filepath.Join(missing, "r.png")},
		{"filters", "--model", none, "--out", filepath.Join(missing, "f.png")},
		{"sample", "--model", none, "--out", filepath.Join(missing, "s.png")},
		{"embed", "--model", none, "--out", filepath.Join(missing, "e.png")},
		{"dbn", "sample", "--model", none, "--out", filepath.Join(missing, "d.png")},
		{"dbn", "updown", "--model", none, "--out", filepath.Join(missing, "u.safetensors")},
		{"classify", "--model", none, "--data", none + ".csv", "--out", filepath.Join(missing, "p.csv")},
		{"compare", "--model", none, "--data", none + ".csv", "--test", none + ".csv", "--html", filepath.Join(missing, "c.html")},
	} {
		code, _, stderr := harmonium(t, args...)
		if code != 1 || !strings.Contains(stderr, ": write "+missing) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%s: exit %d, %q; want the write error first", strings.Join(args[:2], " "), code, stderr)
		}
	}
}
