package dataset

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// npyLabelFile returns a version 1.0 .npy file of the given dtype and shape
// with data as its body.
func npyLabelFile(descr, shape string, data []byte) []byte {
	h := "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }"
	h += strings.Repeat(" ", (64-(10+len(h)+1)%64)%64) + "\n"
	b := []byte("\x93NUMPY\x01\x00\x00\x00")
	binary.LittleEndian.PutUint16(b[8:], uint16(len(h)))
	return append(append(b, h...), data...)
}

func int64s(v ...int64) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint64(b, uint64(x))
	}
	return b
}

func writeTemp(t testing.TB, name string, data []byte) string {
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadLabels(t *testing.T) {
	f64 := func(v ...float64) []byte {
		var b []byte
		for _, x := range v {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
		}
		return b
	}
	good := []struct {
		name string
		data []byte
		want []int
	}{
		{"a.csv", []byte("3\n1\n\n0\n"), []int{3, 1, 0}},
		{"a.csv", []byte("label\r\n2\r\n7.0\r\n"), []int{2, 7}},
		{"a.npy", npyLabelFile("<i8", "(3,)", int64s(4, 0, 9)), []int{4, 0, 9}},
		{"a.npy", npyLabelFile("|u1", "(2, 1)", []byte{5, 6}), []int{5, 6}},
		{"a.npy", npyLabelFile("<f8", "(2,)", f64(1, 2)), []int{1, 2}},
	}
	for _, c := range good {
		got, err := ReadLabels(writeTemp(t, c.name, c.data))
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%s %q: got %v, %v; want %v", c.name, c.data, got, err, c.want)
		}
	}
	bad := []struct {
		name string
		data []byte
		msg  string
	}{
		{"a.csv", []byte("1\n2\nx\n"), "line 3: \"x\" is not an integer"},
		{"a.csv", []byte("1\n2.5\n"), "line 2: \"2.5\" is not an integer"},
		{"a.csv", []byte("1\n-1\n"), "line 2: \"-1\" is negative"},
		{"a.csv", []byte("1,2\n"), "line 1 has 2 fields"},
		{"a.csv", []byte("\n\n"), "no labels"},
		{"a.npy", npyLabelFile("<i8", "(3,)", int64s(1, -2, 3)), "sample 2: -2 is negative"},
		{"a.npy", npyLabelFile("<f8", "(2,)", f64(1, 0.5)), "sample 2: 0.5 is not an integer"},
		{"a.npy", npyLabelFile("<i8", "(1000000000,)", int64s(1)), "truncated: shape (1000000000,) needs 8000000000 bytes"},
		{"a.npy", npyLabelFile("<i8", "(2, 2)", int64s(1, 2, 3, 4)), "labels need shape (n,) or (n, 1)"},
		{"a.npy", npyLabelFile("<c8", "(1,)", int64s(1)), "unsupported dtype"},
		{"a.npy", []byte("1\n2\n"), "not a .npy file"},
	}
	for _, c := range bad {
		p := writeTemp(t, c.name, c.data)
		got, err := ReadLabels(p)
		if err == nil {
			t.Errorf("%s %q: got %v, want an error", c.name, c.data, got)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, c.msg) || !strings.Contains(msg, p) || strings.Contains(msg, "\n") {
			t.Errorf("%s %q: error %q, want one line naming the file and %q", c.name, c.data, msg, c.msg)
		}
	}
}

// FuzzReadLabels checks that ReadLabels never panics and that what it
// accepts is a non-empty list of labels in [0, MaxLabel].
func FuzzReadLabels(f *testing.F) {
	f.Add(false, []byte("3\n1\n0\n"))
	f.Add(false, []byte("label\n2\n7.0\n"))
	f.Add(false, []byte("1\n-1\nx\n1e400\n"))
	f.Add(true, npyLabelFile("<i8", "(3,)", int64s(4, 0, 9)))
	f.Add(true, npyLabelFile("<u8", "(1, 1)", int64s(-1)))
	f.Add(true, npyLabelFile("<f4", "(1,)", []byte{0, 0, 0x80, 0x7f}))
	f.Add(true, npyLabelFile("<i2", "(100000000000,)", nil))
	f.Fuzz(func(t *testing.T, npy bool, data []byte) {
		name := "labels.csv"
		if npy {
			name = "labels.npy"
		}
		labels, err := ReadLabels(writeTemp(t, name, data))
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error of more than one line: %q", err)
			}
			return
		}
		if len(labels) == 0 {
			t.Fatal("no labels and no error")
		}
		for i, l := range labels {
			if l < 0 || l > MaxLabel {
				t.Fatalf("label %d is %d, outside [0, %d]", i, l, MaxLabel)
			}
		}
	})
}
