package modelfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestKindOf(t *testing.T) {
	dir := t.TempDir()
	tensor := []Tensor{{Name: "x", Shape: []int{1}, Data: []float32{1}}}
	file := func(name string, meta map[string]string) string {
		p := filepath.Join(dir, name)
		if err := Write(p, tensor, meta); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct {
		format string
		kind   Kind
	}{{FormatRBM, KindRBM}, {FormatCF, KindCF}, {FormatNN, KindNN}} {
		p := file(string(c.kind)+".safetensors", map[string]string{"format": c.format})
		k, f, err := KindOf(p)
		if err != nil || k != c.kind || f != c.format {
			t.Errorf("%s: got %q %q %v, want %q", c.format, k, f, err, c.kind)
		}
	}
	garbage := filepath.Join(dir, "garbage")
	os.WriteFile(garbage, []byte("\xff\xff\xff\xff\xff\xff\xff\x7fhello"), 0o644)
	for _, c := range []struct {
		path, want string
	}{
		{file("none.safetensors", nil), "no format"},
		{file("other.safetensors", map[string]string{"format": "acme/v9"}), `unknown model format "acme/v9"`},
		{garbage, "runs past the end"},
		{filepath.Join(dir, "missing"), "no such file"},
		{dir, "folder"},
	} {
		_, _, err := KindOf(c.path)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.path) {
			t.Errorf("%s: error %v, want one naming the file and %q", c.path, err, c.want)
		}
	}
	err := WrongKind("net.safetensors", KindNN, "an RBM")
	if want := "net.safetensors is a neural network (harmonium.nn/v1), not an RBM: use harmonium classify"; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("WrongKind: %q, want %q...", err, want)
	}
}
