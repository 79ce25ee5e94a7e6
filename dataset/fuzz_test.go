package dataset

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/harmonium-ml/harmonium/mat32"
)

// The fuzz targets write each input to a file, gzipped when zip is set, and
// read it with the public reader. On success the result must be a sane,
// non-empty matrix of finite values; on failure the error must be one line
// starting "read PATH: ". Run one with e.g.
//
//	go test ./dataset -run '^$' -fuzz '^FuzzNPY$' -fuzztime 20s

// fuzzFile writes data (gzipped when zip is set) to a file in dir, the
// fuzz target's temporary folder, and returns its path. Each fuzzing process
// has its own folder and runs one input at a time, so the file is simply
// overwritten: a new folder for every input would cost more than the read.
func fuzzFile(t *testing.T, dir, name string, data []byte, zip bool) string {
	if zip {
		var b bytes.Buffer
		fuzzZip.Reset(&b) // reused: a new gzip.Writer costs 800 KB
		fuzzZip.Write(data)
		fuzzZip.Close()
		data = b.Bytes()
		name += ".gz"
	}
	return write(t, dir, name, data)
}

// fuzzZip compresses fuzz inputs; fuzz functions run one at a time.
var fuzzZip, _ = gzip.NewWriterLevel(nil, gzip.BestSpeed)

// checkErr checks that err is a one-line message naming path.
func checkErr(t *testing.T, path string, err error) {
	t.Helper()
	msg := err.Error()
	if !strings.HasPrefix(msg, "read "+path+": ") {
		t.Fatalf("error %q does not start with %q", msg, "read "+path+": ")
	}
	if strings.ContainsAny(msg, "\n\r") {
		t.Fatalf("error %q spans lines", msg)
	}
	if len(msg) > 1000 {
		t.Fatalf("error of %d bytes", len(msg))
	}
}

// checkMatrix checks that x is a non-empty matrix of finite values.
func checkMatrix(t *testing.T, x *mat32.Dense) {
	t.Helper()
	if x.Rows <= 0 || x.Cols <= 0 || x.Rows*x.Cols != len(x.Data) {
		t.Fatalf("matrix %d x %d with %d values", x.Rows, x.Cols, len(x.Data))
	}
	for i, v := range x.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("value %d is %g", i, v)
		}
	}
}

// embeddedPrefix returns the first n bytes of an embedded MNIST file,
// gunzipped.
func embeddedPrefix(f *testing.F, name string, n int64) []byte {
	zb, err := embedded.ReadFile("embedded/" + name)
	if err != nil {
		f.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(zb))
	if err != nil {
		f.Fatal(err)
	}
	b, err := io.ReadAll(io.LimitReader(zr, n))
	if err != nil {
		f.Fatal(err)
	}
	return b
}

func FuzzIDXImages(f *testing.F) {
	pix := make([]byte, 3*2*2)
	for i := range pix {
		pix[i] = byte(i * 20)
	}
	f.Add(idxBytes(idxImages, []int{3, 2, 2}, pix), false)
	f.Add(idxBytes(idxImages, []int{3, 2, 2}, pix), true)
	f.Add(idxBytes(idxImages, []int{1, 1, 1}, []byte{255}), false)
	// The first MNIST test image, the header rewritten to say so, and the
	// untouched (so truncated) start of the file. (Small seeds keep the
	// fuzzer's minimizing quick.)
	mnist := embeddedPrefix(f, "t10k-images-idx3-ubyte.gz", 16+784)
	f.Add(mnist, false)
	one := bytes.Clone(mnist)
	binary.BigEndian.PutUint32(one[4:], 1)
	f.Add(one, true)
	for _, c := range [][]byte{idxOverflow, idxHuge, idxBig, {0, 0, 8, 3}, {}} {
		f.Add(c, false)
		f.Add(c, true)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte, zip bool) {
		p := fuzzFile(t, dir, "images-idx3-ubyte", data, zip)
		x, h, w, err := ReadIDXImages(p)
		if err != nil {
			checkErr(t, p, err)
			return
		}
		checkMatrix(t, x)
		if h <= 0 || w <= 0 || h*w != x.Cols || 16+len(x.Data) != len(data) {
			t.Fatalf("%d x %d images of %dx%d from %d bytes", x.Rows, x.Cols, h, w, len(data))
		}
		for i, v := range x.Data {
			if v != float32(data[16+i])/255 {
				t.Fatalf("pixel %d is %g, want %d/255", i, v, data[16+i])
			}
		}
	})
}

func FuzzIDXLabels(f *testing.F) {
	f.Add(idxBytes(idxLabels, []int{3}, []byte{7, 1, 4}), false)
	f.Add(idxBytes(idxLabels, []int{3}, []byte{7, 1, 4}), true)
	// The first 16 MNIST test labels, the header rewritten to say so, and
	// the untouched (so truncated) start of the file.
	mnist := embeddedPrefix(f, "t10k-labels-idx1-ubyte.gz", 8+16)
	f.Add(mnist, true)
	sixteen := bytes.Clone(mnist)
	binary.BigEndian.PutUint32(sixteen[4:], 16)
	f.Add(sixteen, false)
	for _, c := range [][]byte{
		idxBytes(idxLabels, []int{1 << 30}, nil),
		idxBytes(idxLabels, []int{0}, nil),
		idxBytes(idxLabels, []int{2}, []byte{1, 2, 3}),
		{0, 0, 8, 1, 0xff},
	} {
		f.Add(c, false)
		f.Add(c, true)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte, zip bool) {
		p := fuzzFile(t, dir, "labels-idx1-ubyte", data, zip)
		labels, err := ReadIDXLabels(p)
		if err != nil {
			checkErr(t, p, err)
			return
		}
		if len(labels) == 0 || 8+len(labels) != len(data) {
			t.Fatalf("%d labels from %d bytes", len(labels), len(data))
		}
		for i, l := range labels {
			if l != int(data[8+i]) {
				t.Fatalf("label %d is %d, want %d", i, l, data[8+i])
			}
		}
	})
}

func FuzzNPY(f *testing.F) {
	// A file written by WriteNPY.
	p := filepath.Join(f.TempDir(), "m.npy")
	if err := WriteNPY(p, mat32.FromSlice(2, 3, []float32{0, 0.5, 1, -0.25, 0.75, 1e30})); err != nil {
		f.Fatal(err)
	}
	written, err := os.ReadFile(p)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(written, false)
	f.Add(written, true)
	f8 := binary.LittleEndian.AppendUint64(nil, math.Float64bits(0.5))
	for _, c := range [][]byte{
		npyFile("|u1", "False", "2,", []byte{3, 255}),
		npyFile("<f8", "False", "2, 1", append(f8, f8...)),
		npyFile("<i4", "False", "1, 2", make([]byte, 8)),
		npyFile("<i8", "False", "1, 1", []byte{0, 0, 0, 0, 0, 0, 0, 0x80}),
		npyFile("<f4", "False", "1, 1", []byte{0, 0, 0xc0, 0x7f}),
		npyFile("<f8", "False", "1,", binary.LittleEndian.AppendUint64(nil, math.Float64bits(1e300))),
		npyFile("<f4", "False", "", make([]byte, 4)),
		npyFile("<f4", "False", "0, 3", nil),
		npyFile("<f4", "False", "1, 1, 1", make([]byte, 4)),
		npyFile("<f4", "True", "2, 2", make([]byte, 16)),
		npyHuge, npyBig, npyOverflow, npyLongHeader,
		[]byte("\x93NUMPY\x03\x00\x10\x00\x00\x00{'descr"),
	} {
		f.Add(c, false)
		f.Add(c, true)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte, zip bool) {
		p := fuzzFile(t, dir, "a.npy", data, zip)
		s, err := ReadNPY(p)
		if err != nil {
			checkErr(t, p, err)
			return
		}
		checkMatrix(t, s.X)
		if s.Source != p {
			t.Fatalf("source %q, want %q", s.Source, p)
		}
	})
}

func FuzzCSV(f *testing.F) {
	for _, c := range []string{
		"a,b,c\n0,0.5,1\n\n1, 0.25 ,0\n",
		"0,1\n1,0\n",
		"1,2\r\n3,4",
		"\ufeffx,y\n1e-3,2E+5\n",
		"1,2,3\n4,5\n",
		"1,2\n3,x\n",
		"1,NaN\n",
		"1,2\n-Inf,3\n",
		"1e39,1\n",
		"a,b\n",
		",\n,\n",
		"",
		"0x1p-2,1_0\n",
	} {
		f.Add([]byte(c), false)
		f.Add([]byte(c), true)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte, zip bool) {
		p := fuzzFile(t, dir, "a.csv", data, zip)
		s, err := ReadCSV(p)
		if err != nil {
			checkErr(t, p, err)
			return
		}
		checkMatrix(t, s.X)
		if lines := bytes.Count(data, []byte{'\n'}) + 1; s.X.Rows > lines {
			t.Fatalf("%d rows from %d lines", s.X.Rows, lines)
		}
	})
}
