package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/harmonium-ml/harmonium/dataset"
	"github.com/harmonium-ml/harmonium/mat32"
)

// example is one command line shown under "Example:" in a help text.
type example struct {
	line string   // as printed, without "harmonium" and any trailing comment
	from string   // the help it comes from, e.g. "dbn train --help"
	args []string // what the test runs
}

// helpExamples returns the example command lines of 'harmonium help' and
// of every command's and sub-command's --help, each once.
func helpExamples(t *testing.T) []example {
	t.Helper()
	texts := map[string]string{"help": helpOf(t, "help")}
	for _, c := range commands {
		text := helpOf(t, c.name, "--help")
		texts[c.name+" --help"] = text
		for _, sub := range subcommands(text) {
			texts[c.name+" "+sub+" --help"] = helpOf(t, c.name, sub, "--help")
		}
	}
	var out []example
	seen := map[string]bool{}
	for _, from := range slices.Sorted(func(yield func(string) bool) {
		for k := range texts {
			if !yield(k) {
				return
			}
		}
	}) {
		for _, line := range exampleLines(texts[from]) {
			if !seen[line] {
				seen[line] = true
				out = append(out, example{line: line, from: from})
			}
		}
	}
	return out
}

// helpOf returns what the command line prints on stdout, failing the test
// unless it exits with status 0.
func helpOf(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errs := harmonium(t, args...)
	if code != 0 {
		t.Fatalf("harmonium %s: exit %d: %s", strings.Join(args, " "), code, errs)
	}
	return out
}

// subcommands returns the names a command group's help lists under
// "Commands:" (cf, nn, ae, dbn), or nothing for a plain command.
func subcommands(help string) []string {
	_, rest, ok := strings.Cut(help, "\nCommands:\n")
	if !ok {
		return nil
	}
	var subs []string
	for _, l := range strings.Split(rest, "\n") {
		f := strings.Fields(l)
		if len(f) == 0 {
			break
		}
		subs = append(subs, f[0])
	}
	return subs
}

// exampleLines returns the lines after "Example:" or "Examples:" that run
// harmonium, without "harmonium " and without a trailing "# comment".
func exampleLines(help string) []string {
	var out []string
	in := false
	for _, l := range strings.Split(help, "\n") {
		l = strings.TrimSpace(l)
		switch {
		case l == "Example:" || l == "Examples:":
			in = true
		case l == "Flags:":
			in = false
		case in && strings.HasPrefix(l, "harmonium "):
			if i := strings.Index(l, " #"); i >= 0 {
				l = l[:i]
			}
			out = append(out, strings.TrimSpace(strings.TrimPrefix(l, "harmonium ")))
		}
	}
	return out
}

// tinyArgs returns an example's arguments as the test runs them: 'mnist'
// (a download) replaced by the small MNIST folder, and the settings that
// make a run long (epochs, AIS, importance samples, Gibbs steps, bench's
// 60,000 rows) made small, every other argument as printed.
func tinyArgs(line string) []string {
	args := strings.Fields(line)
	name := args[0]
	if slices.Contains([]string{"cf", "nn", "ae", "dbn"}, name) && len(args) > 1 {
		name += " " + args[1]
	}
	set := func(flag, value string) {
		if i := slices.Index(args, "--"+flag); i >= 0 && i+1 < len(args) {
			args[i+1] = value
			return
		}
		args = append(args, "--"+flag, value)
	}
	if i := slices.Index(args, "--data"); i >= 0 && i+1 < len(args) && args[i+1] == "mnist" {
		args[i+1] = "../shared/data/mnist"
	}
	if slices.Contains(args, "--samples") {
		set("samples", "10")
	}
	switch name {
	case "train":
		set("epochs", "2")
		set("limit", "200")
	case "nn train", "ae train", "finetune", "dbn train", "dbn updown":
		set("epochs", "2")
	case "cf train":
		set("epochs", "2")
		set("implicit-epochs", "2")
	case "eval":
		if slices.Contains(args, "--ais") {
			set("runs", "2")
			set("betas", "50")
		}
	case "ae eval":
		set("samples", "10")
	case "compare":
		set("ais-runs", "2")
		set("ais-betas", "50")
		set("samples", "5")
		set("logistic-epochs", "2")
	case "bench":
		set("rows", "200")
		set("epochs", "1")
	case "sample", "dbn sample":
		set("steps", "10")
	case "serve":
		set("addr", "127.0.0.1:0")
	}
	return args
}

// writeExampleData writes, under root, the data files the examples name:
// a small MNIST folder at shared/data/mnist (as the examples' relative
// ../shared/data/mnist finds it from root/work), x.npy with y.csv and
// x-test.npy, a real-valued features.csv, MovieLens-style ratings and
// titles under work/ml-100k, and me.json.
func writeExampleData(t *testing.T, root string) {
	t.Helper()
	r := rand.New(rand.NewPCG(7, 8))
	mnist := filepath.Join(root, "shared", "data", "mnist")
	work := filepath.Join(root, "work")
	for _, d := range []string{mnist, filepath.Join(work, "ml-100k")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Digits of 10 classes: class c lights rows 2c+4..2c+7 of a 28x28
	// image, with noise.
	digits := func(n int) ([]byte, []byte) {
		img, lab := make([]byte, 0, n*784), make([]byte, 0, n)
		for i := range n {
			c := i % 10
			for p := range 784 {
				v := r.IntN(40)
				if row := p / 28; row >= 2*c+4 && row < 2*c+8 && p%28 > 4 && p%28 < 24 {
					v = 200 + r.IntN(56)
				}
				img = append(img, byte(v))
			}
			lab = append(lab, byte(c))
		}
		return img, lab
	}
	for _, split := range []struct {
		prefix string
		n      int
	}{{"train", 200}, {"t10k", 70}} {
		img, lab := digits(split.n)
		n := byte(split.n)
		img = append([]byte{0, 0, 8, 3, 0, 0, 0, n, 0, 0, 0, 28, 0, 0, 0, 28}, img...)
		lab = append([]byte{0, 0, 8, 1, 0, 0, 0, n}, lab...)
		if os.WriteFile(filepath.Join(mnist, split.prefix+"-images-idx3-ubyte"), img, 0o644) != nil ||
			os.WriteFile(filepath.Join(mnist, split.prefix+"-labels-idx1-ubyte"), lab, 0o644) != nil {
			t.Fatal("cannot write the MNIST files")
		}
	}
	for _, f := range []struct {
		name string
		n    int
	}{{"x.npy", 40}, {"x-test.npy", 20}} {
		img, lab := digits(f.n)
		x := mat32.New(f.n, 784)
		for i, v := range img {
			x.Data[i] = float32(v) / 255
		}
		if err := dataset.WriteNPY(filepath.Join(work, f.name), x); err != nil {
			t.Fatal(err)
		}
		if f.name == "x.npy" {
			labels := make([]int, len(lab))
			for i, c := range lab {
				labels[i] = int(c)
			}
			if err := dataset.WriteLabels(filepath.Join(work, "y.csv"), labels); err != nil {
				t.Fatal(err)
			}
		}
	}
	realCSV(t, work, "features.csv", 200, 1)
	// Ratings of 60 users (ids 1..60, so that user 42 exists) on 30 items,
	// in MovieLens 100K's u.data format, split 4:1, and the items' titles.
	var base, test strings.Builder
	for u := 1; u <= 60; u++ {
		for k, it := range r.Perm(30)[:15] {
			v := 1 + r.IntN(2)
			if (it < 15) == (u%2 == 0) {
				v = 4 + r.IntN(2)
			}
			b := &base
			if k%5 == 4 {
				b = &test
			}
			fmt.Fprintf(b, "%d\t%d\t%d\t0\n", u, it+1, v)
		}
	}
	var items strings.Builder
	for it := 1; it <= 30; it++ {
		fmt.Fprintf(&items, "%d|Film %d (1995)|01-Jan-1995||http://example.com|0\n", it, it)
	}
	for name, text := range map[string]string{
		"ml-100k/u1.base": base.String(), "ml-100k/u1.test": test.String(), "ml-100k/u.item": items.String(),
		"me.json": `[{"item":"5","rating":5},{"item":"7","rating":4}]`,
	} {
		if err := os.WriteFile(filepath.Join(work, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// exampleFixtures make the model files that examples take but no example
// writes.
var exampleFixtures = [][]string{
	{"train", "--data", "x.npy", "--hidden", "10", "--epochs", "1", "--out", "a.safetensors", "--quiet"},
	{"ae", "train", "--data", "x.npy", "--code", "8", "--epochs", "1", "--out", "b.safetensors", "--quiet"},
	{"train", "--data", "../shared/data/mnist", "--hidden", "20", "--epochs", "1", "--out", "rbm.safetensors", "--quiet"},
	{"ae", "train", "--data", "../shared/data/mnist", "--code", "16", "--epochs", "1", "--out", "ae.safetensors", "--quiet"},
	{"ae", "train", "--kind", "vae", "--code", "2", "--data", "../shared/data/mnist", "--epochs", "1", "--out", "vae2d.safetensors", "--quiet"},
	{"cf", "train", "--ratings", "ml-100k/u1.base", "--user-based", "--hidden", "8", "--epochs", "2", "--implicit-epochs", "2", "--out", "ml-user.safetensors", "--quiet"},
}

// Every example command line of the help texts runs as printed, with the
// data paths it names written by the test and its long settings made
// small. An example that takes another's output (eval after train) runs
// after it: examples are retried while any succeeds.
func TestHelpExamples(t *testing.T) {
	root := t.TempDir()
	writeExampleData(t, root)
	t.Chdir(filepath.Join(root, "work"))
	for _, args := range exampleFixtures {
		if code, _, errs := harmonium(t, args...); code != 0 {
			t.Fatalf("fixture harmonium %s: %s", strings.Join(args, " "), errs)
		}
	}
	pending := helpExamples(t)
	if len(pending) < 40 {
		t.Fatalf("only %d examples found in the help texts: is the extraction broken?", len(pending))
	}
	for i := range pending {
		if strings.ContainsAny(pending[i].line, `"'\`) {
			t.Fatalf("%s: example %q has quotes or escapes, which this test does not parse", pending[i].from, pending[i].line)
		}
		pending[i].args = tinyArgs(pending[i].line)
	}
	errs := map[string]string{}
	for len(pending) > 0 {
		var failed []example
		for _, ex := range pending {
			ctx, cancel := context.WithCancel(context.Background())
			if ex.args[0] == "serve" { // serves until the context ends
				ctx, cancel = context.WithTimeout(context.Background(), 2*time.Second)
			}
			code, _, stderr := harmoniumCtx(t, ctx, ex.args...)
			cancel()
			if code == 0 && ex.args[0] == "serve" && !strings.Contains(stderr, "listening on") {
				code, stderr = -1, "never listened: "+stderr
			}
			if code != 0 {
				errs[ex.line] = fmt.Sprintf("exit %d: %s", code, stderr)
				failed = append(failed, ex)
			}
		}
		if len(failed) == len(pending) {
			for _, ex := range failed {
				t.Errorf("%s: harmonium %s\n  run as: harmonium %s\n  %s", ex.from, ex.line, strings.Join(ex.args, " "), errs[ex.line])
			}
			return
		}
		pending = failed
	}
}
