package dataset

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/harmonium-ml/harmonium/internal/memguard"
)

// Inputs that used to panic or exhaust memory; the fuzz tests use them as
// seeds too.
var (
	// IDX dimensions whose product overflows int.
	idxOverflow = append([]byte{0, 0, 8, 3, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0x72, 0x72, 0x72, 0x72}, make([]byte, 8)...)
	// IDX header claiming 2^34 bytes (over maxValues) in a 24-byte file.
	idxHuge = idxBytes(idxImages, []int{1 << 14, 1 << 10, 1 << 10}, make([]byte, 8))
	// IDX header claiming 2.5*10^8 bytes (under maxValues, even where int
	// is 32 bits) in a 24-byte file.
	idxBig = idxBytes(idxImages, []int{250, 1000, 1000}, make([]byte, 8))
	// NPY of shape (1000000, 1000000) with a 64-byte body.
	npyHuge = npyFile("<f4", "False", "1000000, 1000000", make([]byte, 64))
	// NPY of shape (15000, 15000), under maxValues, with a 64-byte body.
	npyBig = npyFile("<f4", "False", "15000, 15000", make([]byte, 64))
	// NPY whose shape overflows rows*cols*itemsize.
	npyOverflow = npyFile("<f8", "False", fmt.Sprint(int64(1)<<62, ", 2"), make([]byte, 64))
	// NPY version 2 whose header length field claims ~2 GB, in 100 bytes.
	npyLongHeader = append([]byte("\x93NUMPY\x02\x00\xff\xff\xff\x7f"), make([]byte, 88)...)
)

func TestIDXCrashers(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		body []byte
		msg  string
	}{
		{"overflow-idx3", idxOverflow, fmt.Sprintf("implausible IDX dimensions [4008636142]: more than %d values", maxValues)},
		{"huge-idx3", idxHuge, "implausible IDX dimensions [16384 1024 1024]"},
		{"big-idx3", idxBig, "truncated: header says [250 1000 1000] (250000000 bytes), file has 8"},
		{"big-idx3.gz", gz(idxBig), "truncated: header says [250 1000 1000] (250000000 bytes), file has 8"},
		{"zero-idx3", idxBytes(idxImages, []int{0, 28, 28}, nil), "include a 0: no samples"},
		{"zero2-idx3", idxBytes(idxImages, []int{5, 0, 28}, nil), "IDX dimensions [5 0] include a 0"},
		{"header-idx3", idxBytes(idxImages, []int{5, 28}, nil), "truncated IDX header"},
		{"gzjunk-idx3.gz", []byte{0x1f, 0x8b, 1, 2, 3}, "gzip"},
	} {
		p := write(t, dir, c.name, c.body)
		_, _, _, err := ReadIDXImages(p)
		wantErr(t, err, "read "+p+": ", c.msg)
	}
	// A gzip stream whose CRC is wrong.
	z := gz(idxBytes(idxLabels, []int{3}, []byte{1, 2, 3}))
	z[len(z)-8] ^= 0xff
	p := write(t, dir, "crc-idx1.gz", z)
	_, err := ReadIDXLabels(p)
	wantErr(t, err, "read "+p+": ", "checksum")
	// An empty labels file.
	p = write(t, dir, "empty-idx1", idxBytes(idxLabels, []int{0}, nil))
	_, err = ReadIDXLabels(p)
	wantErr(t, err, "read "+p+": ", "no samples")
	// A folder where a file is expected.
	_, err = ReadIDXLabels(dir)
	wantErr(t, err, "read "+dir+": ", "is a folder")
}

func TestNPYCrashers(t *testing.T) {
	dir := t.TempDir()
	f8 := func(v float64) []byte { return binary.LittleEndian.AppendUint64(nil, math.Float64bits(v)) }
	for _, c := range []struct {
		name string
		body []byte
		msg  string
	}{
		{"huge.npy", npyHuge, fmt.Sprintf("array of shape (1000000, 1000000) has more than %d values", maxValues)},
		{"big.npy", npyBig, "truncated: shape (15000, 15000) needs 900000000 bytes of data, file has 64"},
		{"big.npy.gz", gz(npyBig), "truncated: shape (15000, 15000) needs 900000000 bytes of data, file has 64"},
		{"overflow.npy", npyOverflow, "array of shape (4611686018427387904, 2) has more than"},
		{"longheader.npy", npyLongHeader, ".npy header of 2147483647 bytes is implausibly long (the limit is 65536)"},
		{"scalar.npy", npyFile("<f4", "False", "", make([]byte, 4)), "array is a scalar (shape ())"},
		{"norows.npy", npyFile("<f4", "False", "0, 5", nil), "array of shape (0, 5) is empty: no samples"},
		{"nocols.npy", npyFile("<f4", "False", "5, 0", nil), "array of shape (5, 0) is empty"},
		{"novec.npy", npyFile("<f4", "False", "0,", nil), "array of shape (0,) is empty"},
		{"negative.npy", npyFile("<f4", "False", "-1, 3", nil), `bad shape "(-1, 3)"`},
		{"bigdim.npy", npyFile("<f4", "False", "99999999999999999999,", nil), "bad shape"},
		{"comma.npy", npyFile("<f4", "False", "2,,2", make([]byte, 16)), "bad shape"},
		{"newline.npy", npyFile("<f4", "False", "2,\nx", make([]byte, 16)), `bad shape "(2,\nx)"`},
		{"version.npy", []byte("\x93NUMPY\x04\x00\x10\x00"), "unsupported .npy format version 4.0"},
		{"v2short.npy", []byte("\x93NUMPY\x02\x00\x10\x00"), "truncated header"},
		{"header.npy", []byte("\x93NUMPY\x01\x00\x10\x00{'descr"), "truncated header"},
		{"f8big.npy", npyFile("<f8", "False", "1, 2", append(f8(1), f8(1e300)...)), "value 1e+300 at sample 1, feature 2 does not fit in float32"},
		{"f8inf.npy", npyFile("<f8", "False", "2, 1", append(f8(1), f8(math.Inf(-1))...)), "value -Inf at sample 2, feature 1 is not finite"},
		{"short.npy.gz", gz(npyFile("<f4", "False", "2, 2", make([]byte, 10))), "truncated: shape (2, 2) needs 16 bytes of data, file has 10"},
		{"dtype.npy", npyFile("<f4\n", "False", "1,", make([]byte, 4)), `unsupported dtype "<f4\n"`},
	} {
		p := write(t, dir, c.name, c.body)
		_, err := ReadNPY(p)
		wantErr(t, err, "read "+p+": ", c.msg)
	}
	// Version 2 headers and data after the array are fine.
	b := npyFile("<f4", "False", "1, 2", binary.LittleEndian.AppendUint32(make([]byte, 4), math.Float32bits(0.5)))
	v2 := append([]byte("\x93NUMPY\x02\x00"), binary.LittleEndian.AppendUint32(nil, uint32(binary.LittleEndian.Uint16(b[8:10])))...)
	v2 = append(append(v2, b[10:]...), "trailing"...)
	s, err := ReadNPY(write(t, dir, "v2.npy", v2))
	if err != nil || s.X.Rows != 1 || s.X.Cols != 2 || s.X.Data[1] != 0.5 {
		t.Fatalf("version 2 file: %v", err)
	}
}

func TestCSVLimits(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name, body, msg string
	}{
		{"header.csv", "a,b,c\n", "no data rows"},
		{"blank.csv", "\n\n  \n", "no data rows"},
		{"nothing.csv", "", "no data rows"},
		{"comma.csv", "1,2\n,\n", `line 2, column 1: "" is not a number`},
		{"commas.csv", ",\n,\n", `line 2, column 1: "" is not a number`},
		{"ragged.csv", "x,y\n1,2\n3,4,5\n", "line 3 has 3 fields, expected 2"},
		{"range.csv", "1,2\n3,1e39\n", "line 2, column 2: \"1e39\" is out of float32's range"},
		{"long.csv", "1," + strings.Repeat("7", 100) + "x\n", `line 1, column 2: "7777777777777777777777777777777777777777"... is not a number`},
		{"inf.csv", "1,2\n3,+Infinity\n", "line 2, column 2: +Infinity is not allowed"},
	} {
		p := write(t, dir, c.name, []byte(c.body))
		_, err := ReadCSV(p)
		wantErr(t, err, "read "+p+": ", c.msg)
	}
	// A byte order mark, CRLF line ends and a header.
	s, err := ReadCSV(write(t, dir, "bom.csv", []byte("\ufeffa,b\r\n1,2\r\n3,4\r\n")))
	if err != nil || s.X.Rows != 2 || s.X.Cols != 2 || s.X.At(1, 0) != 3 {
		t.Fatalf("CSV with BOM and CRLF: %v", err)
	}
	// A long line read in many pieces, and a last line with no line end.
	long := "1,2\n3," + strings.Repeat("0", 1<<20) + "5\n6,7"
	for _, b := range [][]byte{[]byte(long), gz([]byte(long))} {
		s, err := ReadCSV(write(t, dir, "longish.csv", b))
		if err != nil || s.X.Rows != 3 || s.X.At(1, 1) != 5 || s.X.At(2, 1) != 7 {
			t.Fatalf("CSV with a 1 MiB line: %v", err)
		}
	}
	// A line over the limit (a 64 MiB run of digits, gzipped to little).
	var z bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&z, gzip.BestSpeed)
	zw.Write([]byte("1,2\n"))
	zw.Write(bytes.Repeat([]byte{'1'}, maxCSVLine+1))
	zw.Close()
	p := write(t, dir, "longline.csv.gz", z.Bytes())
	_, err = ReadCSV(p)
	wantErr(t, err, "read "+p+": ", "line 2 is longer than 67108864 bytes")
	// Truncated gzip data.
	zb := gz([]byte("1,2\n3,4\n"))
	p = write(t, dir, "cut.csv.gz", zb[:len(zb)-6])
	_, err = ReadCSV(p)
	wantErr(t, err, "read "+p+": ", "truncated")
	// A folder where a file is expected.
	_, err = ReadCSV(dir)
	wantErr(t, err, "read "+dir+": ", "is a folder")
}

// Files whose headers claim close to maxValues of data they do not hold fail
// without allocating the claim, plain or gzipped.
func TestHugeClaimsDoNotAllocate(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		body []byte
		read func(string) error
	}{
		{"big-idx3", idxBig, func(p string) error { _, _, _, err := ReadIDXImages(p); return err }},
		{"big-idx3.gz", gz(idxBig), func(p string) error { _, _, _, err := ReadIDXImages(p); return err }},
		{"big.npy", npyBig, func(p string) error { _, err := ReadNPY(p); return err }},
		{"big.npy.gz", gz(npyBig), func(p string) error { _, err := ReadNPY(p); return err }},
		{"huge.npy", npyHuge, func(p string) error { _, err := ReadNPY(p); return err }},
		{"overflow.npy", npyOverflow, func(p string) error { _, err := ReadNPY(p); return err }},
		{"longheader.npy", npyLongHeader, func(p string) error { _, err := ReadNPY(p); return err }},
		{"big-labels.gz", gz(idxBytes(idxLabels, []int{maxValues}, make([]byte, 100))), func(p string) error { _, err := ReadIDXLabels(p); return err }},
	} {
		p := write(t, dir, c.name, c.body)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		err := c.read(p)
		runtime.ReadMemStats(&after)
		if err == nil {
			t.Fatalf("%s: no error", c.name)
		}
		if d := after.TotalAlloc - before.TotalAlloc; d > 8<<20 {
			t.Errorf("%s: allocated %d bytes to fail with %v", c.name, d, err)
		}
	}
}

func TestSplitClamps(t *testing.T) {
	s := &Set{X: mustCSV(t, "1\n2\n3\n4\n").X}
	for _, f := range []float64{-1, 2, math.NaN(), math.Inf(1)} {
		rest, part := s.Split(f, 1)
		if rest.X.Rows+part.X.Rows != 4 {
			t.Fatalf("Split(%g): %d + %d samples", f, rest.X.Rows, part.X.Rows)
		}
	}
}

func mustCSV(t *testing.T, body string) *Set {
	t.Helper()
	p := filepath.Join(t.TempDir(), "m.csv")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := ReadCSV(p)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestLabelsBombRefused reads a small gzipped file of millions of labels
// under a low memory limit: ReadLabels must refuse it, naming the file,
// rather than grow its slice until the program runs out of memory.
func TestLabelsBombRefused(t *testing.T) {
	t.Setenv(memguard.EnvLimit, "16M")
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(bytes.Repeat([]byte("0\n"), 3<<20))
	zw.Close()
	path := filepath.Join(t.TempDir(), "labels.csv.gz")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	labels, err := ReadLabels(path)
	if !errors.Is(err, memguard.ErrTooLarge) || !strings.Contains(err.Error(), path) {
		t.Fatalf("%d-byte file of %d labels under a 16 MB limit: %d labels, %v; want a memory error naming the file", buf.Len(), 3<<20, len(labels), err)
	}
}
