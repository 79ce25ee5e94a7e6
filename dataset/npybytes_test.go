package dataset

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/harmonium-ml/harmonium/mat32"
)

// npyBytes returns the bytes WriteNPY writes for m.
func npyBytes(t testing.TB, m *mat32.Dense) []byte {
	p := filepath.Join(t.TempDir(), "m.npy")
	if err := WriteNPY(p, m); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestReadNPYBytes(t *testing.T) {
	m := mat32.FromSlice(2, 3, []float32{0, 0.5, 1, 0.25, 0.75, -3})
	s, err := ReadNPYBytes("body", npyBytes(t, m))
	if err != nil {
		t.Fatal(err)
	}
	if s.X.Rows != 2 || s.X.Cols != 3 || !slicesEqual(s.X.Data, m.Data) || s.Source != "body" {
		t.Fatalf("got %d x %d %v from %q", s.X.Rows, s.X.Cols, s.X.Data, s.Source)
	}
	f8 := binary.LittleEndian.AppendUint64(nil, math.Float64bits(0.5))
	s, err = ReadNPYBytes("body", npyFile("<f8", "False", "3,", append(append(f8, f8...), f8...)))
	if err != nil || s.X.Rows != 1 || s.X.Cols != 3 || s.X.Data[2] != 0.5 {
		t.Fatalf("1-D float64: %v %+v", err, s)
	}
	full := npyBytes(t, m)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(npyBytes(t, m))
	zw.Close()
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "read body: not a .npy file (bad magic)"},
		{"JSON", []byte(`{"instances": [[1]]}`), "not a .npy file"},
		{"gzipped", gz.Bytes(), "gzipped"},
		{"trailing bytes", append(npyBytes(t, m), 0, 0), "2 bytes after the data of the array of shape (2, 3)"},
		{"truncated", full[:len(full)-5], "truncated: shape (2, 3) needs 24 bytes of data, file has 19"},
		{"huge shape", npyHuge, "has more than"},
		{"big shape, small body", npyBig, "truncated: shape (15000, 15000) needs 900000000 bytes"},
		{"overflowing shape", npyOverflow, "has more than"},
		{"long header", npyLongHeader, "implausibly long"},
		{"NaN", npyFile("<f4", "False", "1, 1", []byte{0, 0, 0xc0, 0x7f}), "is not finite"},
		{"too large for float32", npyFile("<f8", "False", "1,", binary.LittleEndian.AppendUint64(nil, math.Float64bits(1e300))), "does not fit in float32"},
		{"3-D", npyFile("<f4", "False", "1, 1, 1", make([]byte, 4)), "3 dimensions"},
		{"Fortran order", npyFile("<f4", "True", "2, 2", make([]byte, 16)), "Fortran"},
		{"unknown dtype", npyFile(">f4", "False", "1,", make([]byte, 4)), "unsupported dtype"},
		{"empty array", npyFile("<f4", "False", "0, 3", nil), "empty"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadNPYBytes("body", c.data)
			wantErr(t, err, c.want)
			if !strings.HasPrefix(err.Error(), "read body: ") {
				t.Fatalf("error %q does not start with %q", err, "read body: ")
			}
		})
	}
}

// TestReadNPYBytesAllocates checks that a small body whose header claims a
// large array costs little memory.
func TestReadNPYBytesAllocates(t *testing.T) {
	for _, data := range [][]byte{npyBig, npyHuge, npyOverflow, npyLongHeader} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		if _, err := ReadNPYBytes("body", data); err == nil {
			t.Fatal("no error")
		}
		runtime.ReadMemStats(&after)
		if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
			t.Errorf("%d bytes allocated reading a %d-byte body", got, len(data))
		}
	}
}

func slicesEqual(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// FuzzReadNPYBytes checks that ReadNPYBytes returns a sane matrix or a
// one-line error, and that it agrees with ReadNPY on the same bytes: what
// it reads, ReadNPY reads alike, and what it refuses that ReadNPY reads is
// gzipped or has bytes after the array. Run it with
//
//	go test ./dataset -run '^$' -fuzz '^FuzzReadNPYBytes$' -fuzztime 20s
func FuzzReadNPYBytes(f *testing.F) {
	f.Add(npyBytes(f, mat32.FromSlice(2, 3, []float32{0, 0.5, 1, -0.25, 0.75, 1e30})))
	f8 := binary.LittleEndian.AppendUint64(nil, math.Float64bits(0.5))
	for _, c := range [][]byte{
		npyFile("|u1", "False", "2,", []byte{3, 255}),
		npyFile("<f8", "False", "2, 1", append(f8, f8...)),
		npyFile("<f8", "False", "2, 1", append(append(f8, f8...), 7)),
		npyFile("<i4", "False", "1, 2", make([]byte, 8)),
		npyFile("<i8", "False", "1, 1", []byte{0, 0, 0, 0, 0, 0, 0, 0x80}),
		npyFile("<f4", "False", "1, 1", []byte{0, 0, 0xc0, 0x7f}),
		npyFile("<f4", "False", "", make([]byte, 4)),
		npyFile("<f4", "False", "0, 3", nil),
		npyFile("<f4", "True", "2, 2", make([]byte, 16)),
		npyHuge, npyBig, npyOverflow, npyLongHeader,
		[]byte("\x93NUMPY\x03\x00\x10\x00\x00\x00{'descr"),
		[]byte("\x1f\x8b\x08\x00"),
	} {
		f.Add(c)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ReadNPYBytes("body", data)
		if err != nil {
			checkErr(t, "body", err)
		} else {
			checkMatrix(t, s.X)
			if s.Source != "body" {
				t.Fatalf("source %q", s.Source)
			}
		}
		p := write(t, dir, "a.npy", data)
		fs, ferr := ReadNPY(p)
		switch {
		case err == nil && ferr != nil:
			t.Fatalf("ReadNPYBytes reads what ReadNPY refuses: %v", ferr)
		case err == nil:
			if fs.X.Rows != s.X.Rows || fs.X.Cols != s.X.Cols || !slicesEqual(fs.X.Data, s.X.Data) {
				t.Fatalf("ReadNPYBytes and ReadNPY differ: %d x %d, %d x %d", s.X.Rows, s.X.Cols, fs.X.Rows, fs.X.Cols)
			}
		case ferr == nil && !strings.Contains(err.Error(), "bytes after the data") && !strings.Contains(err.Error(), "gzipped"):
			t.Fatalf("ReadNPYBytes refuses what ReadNPY reads: %v", err)
		}
	})
}
