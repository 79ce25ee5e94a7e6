package main

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/harmonium-ml/harmonium/dataset"
	"github.com/harmonium-ml/harmonium/internal/memguard"
	"github.com/harmonium-ml/harmonium/rbm"
	"github.com/harmonium-ml/harmonium/viz"
)

// --help prints the help once, on stdout, for every command and for
// 'help CMD'.
func TestHelpPrintedOnce(t *testing.T) {
	for _, args := range [][]string{{"train", "--help"}, {"help", "train"}, {"eval", "-h"}, {"help", "cf", "train"}} {
		code, out, errs := harmonium(t, args...)
		if code != 0 || strings.Count(out, "Example:") != 1 || errs != "" {
			t.Errorf("%v: exit %d, %d copies of the help, stderr %q", args, code, strings.Count(out, "Example:"), errs)
		}
	}
}

// A mistyped flag or command gets one line on stderr with a suggestion, and
// nothing on stdout.
func TestTyposGetSuggestions(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"train", "--epoch", "3"}, "unknown flag --epoch; did you mean --epochs?"},
		{[]string{"train", "--hiden", "3"}, "did you mean --hidden?"},
		{[]string{"eval", "--modle", "m"}, "did you mean --model?"},
		{[]string{"train", "--zzzzzzzz"}, "unknown flag --zzzzzzzz (see"},
		{[]string{"trian"}, `unknown command "trian"; did you mean "train"?`},
		{[]string{"filter"}, `did you mean "filters"?`},
		{[]string{"cf", "trian"}, "unknown cf command"},
	} {
		code, out, errs := harmonium(t, c.args...)
		if code != 2 || out != "" || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %q", c.args, code, out, errs, c.want)
		}
	}
}

// --binarize NaN is refused: every comparison with NaN is false, so it once
// passed for "off" and the model trained on the grey levels.
func TestBinarizeNaNIsRefused(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "m.safetensors")
	code, stdout, errs := harmonium(t, "train", "--data", tinyCSV(t, dir), "--hidden", "2", "--epochs", "1", "--binarize", "NaN", "--out", out, "--quiet")
	if code != 2 || stdout != "" || !strings.Contains(errs, "--binarize") || strings.Count(errs, "\n") != 1 {
		t.Fatalf("--binarize NaN: exit %d, %q %q", code, stdout, errs)
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("a model was written")
	}
}

func TestVersion(t *testing.T) {
	for _, arg := range []string{"--version", "version"} {
		code, out, _ := harmonium(t, arg)
		if code != 0 || !strings.HasPrefix(out, "harmonium ") || !strings.Contains(out, "go1.") {
			t.Fatalf("%s: %d %q", arg, code, out)
		}
	}
}

// AIS whose runs or temperatures cannot fit in memory is refused by eval
// and compare before anything is allocated (--runs 10^8 once crashed the
// runtime), naming the flags.
func TestAISTooLargeIsRefused(t *testing.T) {
	dir := t.TempDir()
	data := tinyCSV(t, dir)
	test := filepath.Join(dir, "test.csv")
	if b, err := os.ReadFile(data); err != nil || os.WriteFile(test, b, 0o644) != nil {
		t.Fatal("copying the test data")
	}
	model := filepath.Join(dir, "m.safetensors")
	if code, _, errs := harmonium(t, "train", "--data", data, "--hidden", "3", "--epochs", "1", "--out", model, "--quiet"); code != 0 {
		t.Fatal(errs)
	}
	t.Setenv(memguard.EnvLimit, "1M")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"eval", "--model", model, "--data", data, "--ais", "--runs", "100000", "--betas", "100", "--quiet"}, "--runs 100000 and --betas 100"},
		{[]string{"eval", "--model", model, "--data", data, "--ais", "--runs", "1", "--betas", "1000000"}, "--runs 1 and --betas 1000000"},
		{[]string{"compare", "--model", model, "--data", data, "--test", test, "--ais-runs", "100000", "--ais-betas", "100", "--quiet"}, "--ais-runs 100000 and --ais-betas 100"},
	} {
		code, out, errs := harmonium(t, c.args...)
		if code != 1 || !strings.Contains(errs, c.want) || !strings.Contains(errs, memguard.EnvLimit) || strings.Count(errs, "\n") != 1 || out != "" {
			t.Errorf("%v: exit %d, %q %q", c.args, code, out, errs)
		}
	}
}

// bench refuses --rows and --hidden whose data or training state cannot
// fit in memory (--rows 2000000000 once crashed the runtime), and settings
// CD-1 does not take, before it measures anything.
func TestBenchTooLargeIsRefused(t *testing.T) {
	data := tinyCSV(t, t.TempDir())
	t.Setenv(memguard.EnvLimit, "1M")
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--rows", "100000", "--hidden", "3"}, 1, "--rows 100000"},
		{[]string{"--rows", "10", "--hidden", "100000"}, 1, "--hidden 100000"},
		{[]string{"--rows", "10", "--hidden", "3", "--momentum", "1"}, 2, "momentum must be in [0, 1)"},
	} {
		args := append([]string{"bench", "--data", data, "--epochs", "1"}, c.args...)
		code, out, errs := harmonium(t, args...)
		if code != c.code || !strings.Contains(errs, c.want) || strings.Count(errs, "\n") != 1 || out != "" {
			t.Errorf("%v: exit %d, %q %q", args, code, out, errs)
		}
	}
}

// Work that cannot fit in memory is refused before anything is allocated,
// with the figures; pictures are bounded too.
func TestTooLargeIsRefused(t *testing.T) {
	dir := t.TempDir()
	data := tinyCSV(t, dir)
	model := filepath.Join(dir, "m.safetensors")
	if code, _, errs := harmonium(t, "train", "--data", data, "--hidden", "3", "--epochs", "1", "--out", model, "--quiet"); code != 0 {
		t.Fatal(errs)
	}
	t.Setenv(memguard.EnvLimit, "1M")
	out := filepath.Join(dir, "big.safetensors")
	code, _, errs := harmonium(t, "train", "--data", data, "--hidden", "100000", "--out", out)
	if code != 1 || !strings.Contains(errs, "training a 6-100000 RBM") || !strings.Contains(errs, memguard.EnvLimit) {
		t.Fatalf("train beyond the memory limit: %d %q", code, errs)
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("refused training wrote a model")
	}
	t.Setenv(memguard.EnvLimit, "")
	png := filepath.Join(dir, "f.png")
	for _, args := range [][]string{
		{"filters", "--model", model, "--n", "3", "--zoom", "100000", "--image-shape", "2x3", "--out", png},
		{"sample", "--model", model, "--n", "1000000000", "--image-shape", "2x3", "--out", png},
		{"sample", "--model", model, "--n", "100000", "--steps", "100", "--every", "1", "--image-shape", "2x3", "--zoom", "10", "--out", png},
	} {
		var code int
		var errs string
		mb := allocatedMB(func() { code, _, errs = harmonium(t, args...) })
		if code != 1 || !strings.Contains(errs, "picture too large") || mb > maxRefusalMB {
			t.Errorf("%v: exit %d after allocating %d MB, %q", args, code, mb, errs)
		}
	}
	if _, err := os.Stat(png); err == nil {
		t.Fatal("a refused picture was written")
	}
}

// PCD resumed with a larger minibatch continues (the persistent chains grow).
func TestPersistentResumeWithLargerBatch(t *testing.T) {
	dir := t.TempDir()
	data := tinyCSV(t, dir)
	ck, out := filepath.Join(dir, "ck.safetensors"), filepath.Join(dir, "m.safetensors")
	base := []string{"train", "--data", data, "--pcd", "1", "--hidden", "4", "--out", out, "--checkpoint", ck, "--quiet"}
	if code, _, errs := harmonium(t, append(base, "--epochs", "1", "--batch", "5")...); code != 0 {
		t.Fatal(errs)
	}
	if code, _, errs := harmonium(t, append(base, "--epochs", "2", "--batch", "20", "--resume")...); code != 0 {
		t.Fatalf("resume with a larger batch: %d %q", code, errs)
	}
}

// An interrupted run with --checkpoint does not tell the user to use
// --checkpoint.
func TestInterruptBeforeFirstEpochWithCheckpoint(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	code, _, errs := harmoniumCtx(t, ctx, "train", "--data", tinyCSV(t, dir), "--hidden", "3", "--checkpoint", filepath.Join(dir, "ck.safetensors"), "--out", filepath.Join(dir, "m.safetensors"))
	if code != 130 || strings.Contains(errs, "use --checkpoint") || !strings.Contains(errs, "before the first epoch") {
		t.Fatalf("interrupted with --checkpoint: %d %q", code, errs)
	}
}

// Away from a terminal, a line printed resets the clock of the periodic
// progress lines: short epochs give one line each and nothing between.
func TestPlainProgressWaitsAfterALine(t *testing.T) {
	old := plainEvery
	plainEvery = time.Hour
	defer func() { plainEvery = old }()
	var errb strings.Builder
	b := newBar(&env{stderr: &errb}, "training", false)
	b.last = time.Now().Add(-2 * time.Hour) // long since the bar started
	b.done()                                // an epoch line was just printed
	b.update(1, 4, "")
	if errb.Len() != 0 {
		t.Fatalf("a progress line right after an epoch line: %q", errb.String())
	}
}

// writeIDX writes an MNIST-style IDX pair (images n x 2 x 2, labels) named
// prefix-images-idx3-ubyte and prefix-labels-idx1-ubyte into dir.
func writeIDX(t *testing.T, dir, prefix string, labels []byte) {
	t.Helper()
	n := len(labels)
	img := []byte{0, 0, 8, 3, 0, 0, 0, byte(n), 0, 0, 0, 2, 0, 0, 0, 2}
	for i := 0; i < n; i++ {
		img = append(img, byte(60*i), 255, 0, byte(255-60*i))
	}
	lab := append([]byte{0, 0, 8, 1, 0, 0, 0, byte(n)}, labels...)
	if os.WriteFile(filepath.Join(dir, prefix+"-images-idx3-ubyte"), img, 0o644) != nil ||
		os.WriteFile(filepath.Join(dir, prefix+"-labels-idx1-ubyte"), lab, 0o644) != nil {
		t.Fatal("cannot write IDX files")
	}
}

// features reads the training split by default, as train does, and writes
// the labels beside the features.
func TestFeaturesSplitAndLabels(t *testing.T) {
	dir := t.TempDir()
	mnist := filepath.Join(dir, "mnist")
	os.Mkdir(mnist, 0o755)
	writeIDX(t, mnist, "train", []byte{3, 1, 4, 1})
	writeIDX(t, mnist, "t10k", []byte{9, 2})
	model := filepath.Join(dir, "m.safetensors")
	if code, _, errs := harmonium(t, "train", "--data", mnist, "--hidden", "3", "--epochs", "1", "--out", model, "--quiet"); code != 0 {
		t.Fatal(errs)
	}
	feats, labels := filepath.Join(dir, "f.npy"), filepath.Join(dir, "y.csv")
	if code, _, errs := harmonium(t, "features", "--model", model, "--data", mnist, "--out", feats, "--labels-out", labels); code != 0 {
		t.Fatal(errs)
	}
	if b, _ := os.ReadFile(labels); string(b) != "3\n1\n4\n1\n" {
		t.Fatalf("labels of the training split: %q", b)
	}
	if code, _, errs := harmonium(t, "features", "--model", model, "--data", mnist, "--split", "test", "--out", feats, "--labels-out", labels); code != 0 {
		t.Fatal(errs)
	}
	if b, _ := os.ReadFile(labels); string(b) != "9\n2\n" {
		t.Fatalf("labels of the test split: %q", b)
	}
	csvModel := filepath.Join(dir, "c.safetensors")
	csv := tinyCSV(t, dir)
	if code, _, errs := harmonium(t, "train", "--data", csv, "--hidden", "3", "--epochs", "1", "--out", csvModel, "--quiet"); code != 0 {
		t.Fatal(errs)
	}
	code, _, errs := harmonium(t, "features", "--model", csvModel, "--data", csv, "--out", feats, "--labels-out", filepath.Join(dir, "none.npy"))
	if code != 1 || !strings.Contains(errs, "has no labels") {
		t.Fatalf("labels of unlabelled data: %d %q", code, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "none.npy")); err == nil {
		t.Fatal("labels written for unlabelled data")
	}
}

// The report's chains show short step counts, and when they fade to blank
// the caption says why.
func TestReportSamplesExplainFading(t *testing.T) {
	set, err := dataset.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	set = set.Head(50)
	caption := func(m *rbm.RBM) string {
		r := buildReport(m, set, nil, rbm.DefaultConfig(), "CD-1", set, nil, time.Second, viz.Shape{H: 28, W: 28}, 1, 1)
		for _, f := range r.Figures {
			if f.Title == "Samples" {
				return f.Caption
			}
		}
		t.Fatal("no Samples figure")
		return ""
	}
	fading := rbm.New(784, 10)
	for i := range fading.VisBias {
		fading.VisBias[i] = -20 // every chain turns blank at the first step
	}
	if c := caption(fading); !strings.Contains(c, "fade to a blank picture") || !strings.Contains(c, "--pcd") || !strings.Contains(c, "[1 2 5") {
		t.Fatalf("caption of a fading model: %q", c)
	}
	keeping := rbm.New(784, 10)
	for i := range keeping.VisBias {
		keeping.VisBias[i] = float32(i%2)*8 - 4 // half the pixels stay on
	}
	if c := caption(keeping); strings.Contains(c, "fade") {
		t.Fatalf("caption of a model whose chains do not fade: %q", c)
	}
}

// The crashers of the hardening issue, through the command line: one line
// naming the file, exit 1, nothing written, quickly.
func TestCrashersThroughTheCLI(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, body []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, body, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	header := `{"weights":{"dtype":"F32","shape":[2147483648,2147483648],"data_offsets":[0,0]}}`
	st := append([]byte{byte(len(header)), 0, 0, 0, 0, 0, 0, 0}, header...)
	model := write("overflow.safetensors", st)
	idx := filepath.Join(dir, "idx")
	os.Mkdir(idx, 0o755)
	write(filepath.Join("idx", "train-images-idx3-ubyte"), append([]byte{0, 0, 8, 3, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0x72, 0x72, 0x72, 0x72}, make([]byte, 8)...))
	npyHeader := func(shape string) []byte {
		h := "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }"
		h += strings.Repeat(" ", 63-(10+len(h))%64) + "\n"
		return append([]byte{0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, byte(len(h)), byte(len(h) >> 8)}, h...)
	}
	huge := write("huge.npy", append(npyHeader("(1000000, 1000000)"), make([]byte, 64)...))
	wrap := write("wrap.npy", append(npyHeader("(4611686018427387904, 2)"), make([]byte, 64)...))
	v2 := write("v2.npy", append([]byte{0x93, 'N', 'U', 'M', 'P', 'Y', 2, 0, 0xff, 0xff, 0xff, 0x7f}, make([]byte, 88)...))
	out := filepath.Join(dir, "out.safetensors")
	for _, c := range []struct {
		args []string
		file string
	}{
		{[]string{"eval", "--model", model}, "overflow.safetensors"},
		{[]string{"filters", "--model", model, "--out", filepath.Join(dir, "f.png")}, "overflow.safetensors"},
		{[]string{"train", "--data", idx, "--out", out}, "train-images-idx3-ubyte"},
		{[]string{"train", "--data", huge, "--out", out}, "huge.npy"},
		{[]string{"train", "--data", wrap, "--out", out}, "wrap.npy"},
		{[]string{"train", "--data", v2, "--out", out}, "v2.npy"},
	} {
		var code int
		var errs string
		mb := allocatedMB(func() { code, _, errs = harmonium(t, c.args...) })
		t.Logf("%v: %s", c.args[:2], errs)
		if code != 1 || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, c.file) || mb > maxRefusalMB {
			t.Errorf("%v: exit %d after allocating %d MB, stderr %q", c.args, code, mb, errs)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("a failed run wrote its output")
	}
}

// maxRefusalMB bounds what a command may allocate before it refuses work
// that would not fit: the crashers claim gigabytes.
const maxRefusalMB = 64

// allocatedMB returns the megabytes the process allocated while f ran
// (the tests of this package do not run in parallel).
func allocatedMB(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) >> 20
}
