//go:build cgo

package main

import (
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/harmonium-ml/harmonium/modelfile"
)

// runChild runs the command line args in a child process, under the
// emulator given by prefix (nil: natively), with the kernel and OpenBLAS
// choices of the environment replaced by extra, and returns its combined
// output; a failing command fails the test.
func runChild(t *testing.T, prefix []string, extra []string, args ...string) string {
	t.Helper()
	argv := append(append(prefix, os.Args[0]), "-test.run=^TestCommandHelperProcess$")
	cmd := exec.Command(argv[0], argv[1:]...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HARMONIUM_KERNELS=") && !strings.HasPrefix(kv, "HARMONIUM_OPENBLAS_CORETYPE=") && !strings.HasPrefix(kv, "OPENBLAS_CORETYPE=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "HARMONIUM_CMD_HELPER=1", "HARMONIUM_CMD_ARGS="+strings.Join(args, "\x1f"))
	cmd.Env = append(cmd.Env, extra...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", strings.Join(prefix, " "), strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestWithoutAVX512 trains on an emulated CPU without AVX-512 (qemu-user's
// AMD EPYC-Milan: AVX2 and FMA): harmonium must pick its AVX2 kernels and
// OpenBLAS kernels for that CPU, execute no instruction the CPU lacks
// (the emulator has no AVX-512 and stops the program on one), refuse a
// request for AVX-512 kernels, and train the very model that the AVX2
// imitation on this machine (HARMONIUM_KERNELS=avx2 with the same OpenBLAS
// kernels) trains, bit for bit: so figures measured with the imitation
// time the code an AVX2-only CPU runs.
func TestWithoutAVX512(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("x86-64 only")
	}
	if testing.Short() {
		t.Skip("-short: skipping the training run on an emulated CPU")
	}
	qemu, err := exec.LookPath("qemu-x86_64")
	if err != nil {
		t.Skip("qemu-x86_64 not found (Debian: apt-get install qemu-user): skipping the training run on an emulated CPU without AVX-512")
	}
	emulator := []string{qemu, "-cpu", "EPYC-Milan"}
	dir := t.TempDir()
	args := []string{"train", "--limit", "600", "--hidden", "48", "--epochs", "2", "--seed", "7"}
	emu, imit := filepath.Join(dir, "emulated.safetensors"), filepath.Join(dir, "imitated.safetensors")

	out := runChild(t, emulator, nil, append(args, "--out", emu)...)
	if !strings.Contains(out, "kernels: avx2") {
		t.Fatalf("emulated CPU without AVX-512: kernels not avx2:\n%s", out)
	}
	extra := []string{"HARMONIUM_KERNELS=avx2"}
	if m := regexp.MustCompile(`\((\w+) kernels\)`).FindStringSubmatch(out); m != nil {
		if m[1] == "SkylakeX" || m[1] == "Cooperlake" || m[1] == "SapphireRapids" {
			t.Fatalf("emulated CPU without AVX-512: OpenBLAS chose %s kernels:\n%s", m[1], out)
		}
		extra = append(extra, "HARMONIUM_OPENBLAS_CORETYPE="+m[1])
	}
	runChild(t, nil, extra, append(args, "--out", imit)...)
	sameTensors(t, emu, imit)

	out = runChild(t, emulator, []string{"HARMONIUM_KERNELS=avx512"}, "train", "--limit", "100", "--hidden", "8", "--epochs", "1", "--out", filepath.Join(dir, "forced.safetensors"))
	if !strings.Contains(out, "lacks AVX-512") || !strings.Contains(out, "kernels: avx2") {
		t.Errorf("HARMONIUM_KERNELS=avx512 on a CPU without it: want a note and avx2 kernels:\n%s", out)
	}
}

// sameTensors fails the test unless the model files a and b hold the same
// tensors, bit for bit.
func sameTensors(t *testing.T, a, b string) {
	t.Helper()
	fa, err := modelfile.Read(a)
	if err != nil {
		t.Fatal(err)
	}
	fb, err := modelfile.Read(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(fa.Tensors) != len(fb.Tensors) {
		t.Fatalf("%d tensors against %d", len(fa.Tensors), len(fb.Tensors))
	}
	for name, ta := range fa.Tensors {
		tb, ok := fb.Tensors[name]
		if !ok || len(ta.Data) != len(tb.Data) {
			t.Fatalf("tensor %s: missing or of another size in %s", name, b)
		}
		for i := range ta.Data {
			if math.Float32bits(ta.Data[i]) != math.Float32bits(tb.Data[i]) {
				t.Fatalf("tensor %s differs at %d: %g (emulated) against %g (imitated)", name, i, ta.Data[i], tb.Data[i])
			}
		}
	}
}
