package dataset

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/harmonium-ml/harmonium/mat32"
)

// idxBytes builds an IDX file with the given magic, dimensions and body.
func idxBytes(magic uint32, dims []int, body []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, magic)
	for _, d := range dims {
		binary.Write(&b, binary.BigEndian, uint32(d))
	}
	b.Write(body)
	return b.Bytes()
}

func gz(b []byte) []byte {
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	w.Write(b)
	w.Close()
	return out.Bytes()
}

func write(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one mentioning %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("error %q does not mention %q", err, p)
		}
	}
	if strings.Contains(err.Error(), "\n") {
		t.Fatalf("error %q spans lines", err)
	}
}

func TestMNISTFolder(t *testing.T) {
	dir := t.TempDir()
	pix := make([]byte, 3*2*2)
	for i := range pix {
		pix[i] = byte(i * 20)
	}
	write(t, dir, "t10k-images-idx3-ubyte.gz", gz(idxBytes(idxImages, []int{3, 2, 2}, pix)))
	write(t, dir, "t10k-labels.idx1-ubyte", idxBytes(idxLabels, []int{3}, []byte{7, 1, 4}))
	s, err := Load(dir, "test")
	if err != nil {
		t.Fatal(err)
	}
	if s.X.Rows != 3 || s.X.Cols != 4 || s.Height != 2 || s.Width != 2 || s.Labels[2] != 4 {
		t.Fatalf("got %s labels %v", s.Shape(), s.Labels)
	}
	if s.X.At(1, 1) != float32(100)/255 {
		t.Fatalf("pixel scaled to %g", s.X.At(1, 1))
	}
	// Labels of a different count.
	write(t, dir, "t10k-labels.idx1-ubyte", idxBytes(idxLabels, []int{2}, []byte{7, 1}))
	_, err = Load(dir, "test")
	wantErr(t, err, "2 labels for 3 images")
	_, err = Load(dir, "train")
	wantErr(t, err, dir, "no MNIST images file")
	_, err = Load(dir, "validation")
	wantErr(t, err, "unknown split")
}

func TestIDXErrors(t *testing.T) {
	dir := t.TempDir()
	p := write(t, dir, "a-idx3", idxBytes(0x0803+0x100, []int{1, 2, 2}, make([]byte, 4)))
	_, _, _, err := ReadIDXImages(p)
	wantErr(t, err, p, "wrong IDX magic")
	p = write(t, dir, "b-idx3", idxBytes(idxImages, []int{5, 28, 28}, make([]byte, 100)))
	_, _, _, err = ReadIDXImages(p)
	wantErr(t, err, p, "truncated")
	p = write(t, dir, "c-idx3.gz", gz(idxBytes(idxImages, []int{5, 28, 28}, make([]byte, 100))))
	_, _, _, err = ReadIDXImages(p)
	wantErr(t, err, p, "truncated")
	p = write(t, dir, "d-idx3", []byte{0, 0})
	_, _, _, err = ReadIDXImages(p)
	wantErr(t, err, p, "too short")
	p = write(t, dir, "e-idx3", idxBytes(idxImages, []int{1, 1, 1}, []byte{1, 2}))
	_, _, _, err = ReadIDXImages(p)
	wantErr(t, err, p, "past")
	_, err = Load(filepath.Join(dir, "missing"), "train")
	wantErr(t, err, "missing", "no such file")
	p = write(t, dir, "x.bin", []byte("hello"))
	_, err = Load(p, "train")
	wantErr(t, err, p, "unknown data format")
}

func TestCSV(t *testing.T) {
	dir := t.TempDir()
	p := write(t, dir, "ok.csv", []byte("a,b,c\n0,0.5,1\n\n1, 0.25 ,0\n"))
	s, err := Load(p, "")
	if err != nil {
		t.Fatal(err)
	}
	if s.X.Rows != 2 || s.X.Cols != 3 || s.X.At(1, 1) != 0.25 {
		t.Fatalf("got %s %v", s.Shape(), s.X.Data)
	}
	pz := write(t, dir, "ok.csv.gz", gz([]byte("0,1\n1,0\n")))
	if s, err := Load(pz, ""); err != nil || s.X.Rows != 2 {
		t.Fatalf("gzipped CSV: %v", err)
	}
	for name, c := range map[string]struct{ body, msg string }{
		"ragged.csv": {"1,2,3\n4,5\n", "line 2 has 2 fields, expected 3"},
		"word.csv":   {"1,2\n3,x\n", `line 2, column 2: "x" is not a number`},
		"nan.csv":    {"1,NaN\n", "NaN is not allowed"},
		"inf.csv":    {"1,2\n-Inf,3\n", "line 2, column 1: -Inf is not allowed"},
		"empty.csv":  {"a,b\n", "no data rows"},
	} {
		p := write(t, dir, name, []byte(c.body))
		_, err := Load(p, "")
		wantErr(t, err, p, c.msg)
	}
}

func npyFile(descr, fortran, shape string, data []byte) []byte {
	h := "{'descr': '" + descr + "', 'fortran_order': " + fortran + ", 'shape': (" + shape + "), }"
	h += strings.Repeat(" ", 63-(10+len(h))%64) + "\n"
	b := []byte("\x93NUMPY\x01\x00")
	b = binary.LittleEndian.AppendUint16(b, uint16(len(h)))
	return append(append(b, h...), data...)
}

func TestNPY(t *testing.T) {
	dir := t.TempDir()
	m := mat32.FromSlice(2, 3, []float32{0, 0.5, 1, 0.25, 0.75, 0.125})
	p := filepath.Join(dir, "m.npy")
	if err := WriteNPY(p, m); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(p)
	if (len(raw)-len(m.Data)*4)%64 != 0 {
		t.Fatalf("data does not start on a 64-byte boundary (file of %d bytes)", len(raw))
	}
	s, err := Load(p, "")
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range m.Data {
		if s.X.Data[i] != v {
			t.Fatalf("round trip element %d = %g, want %g", i, s.X.Data[i], v)
		}
	}
	f8 := make([]byte, 16)
	binary.LittleEndian.PutUint64(f8, 0x3FE0000000000000) // 0.5
	u1 := write(t, dir, "u1.npy", npyFile("|u1", "False", "2,", []byte{3, 255}))
	if s, err := Load(u1, ""); err != nil || s.X.Rows != 1 || s.X.At(0, 1) != 255 {
		t.Fatalf("uint8 vector: %v", err)
	}
	if s, err := Load(write(t, dir, "f8.npy", npyFile("<f8", "False", "2, 1", f8)), ""); err != nil || s.X.At(0, 0) != 0.5 {
		t.Fatalf("float64 matrix: %v", err)
	}
	for name, c := range map[string]struct {
		body []byte
		msg  string
	}{
		"c16.npy":   {npyFile("<c16", "False", "1, 1", make([]byte, 16)), "unsupported dtype <c16"},
		"fort.npy":  {npyFile("<f4", "True", "2, 2", make([]byte, 16)), "Fortran-order"},
		"short.npy": {npyFile("<f4", "False", "4, 4", make([]byte, 8)), "truncated"},
		"3d.npy":    {npyFile("<f4", "False", "1, 1, 1", make([]byte, 4)), "3 dimensions"},
		"magic.npy": {[]byte("not numpy at all"), "bad magic"},
		"nan.npy":   {npyFile("<f4", "False", "1, 1", []byte{0, 0, 0xc0, 0x7f}), "not finite"},
	} {
		p := write(t, dir, name, c.body)
		_, err := Load(p, "")
		wantErr(t, err, p, c.msg)
	}
}

func TestWriteCSVRoundTrip(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f.csv")
	m := mat32.FromSlice(2, 2, []float32{0.1, 1, 0, 0.333})
	if err := WriteCSV(p, m); err != nil {
		t.Fatal(err)
	}
	s, err := ReadCSV(p)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range m.Data {
		if s.X.Data[i] != v {
			t.Fatalf("element %d = %g, want %g", i, s.X.Data[i], v)
		}
	}
}

func TestUnitIntervalScaleBinarize(t *testing.T) {
	s := &Set{X: mat32.FromSlice(2, 2, []float32{0, 16, 8, 4}), Source: "d.csv"}
	wantErr(t, s.CheckUnitInterval(), "d.csv", "value 16 at sample 1, feature 2", "outside [0, 1]")
	s.Scale()
	if s.X.At(1, 0) != 0.5 || s.CheckUnitInterval() != nil {
		t.Fatalf("scaled to %v", s.X.Data)
	}
	s.Binarize(0.4)
	if s.X.Data[0] != 0 || s.X.Data[1] != 1 || s.X.Data[2] != 1 || s.X.Data[3] != 0 {
		t.Fatalf("binarized to %v", s.X.Data)
	}
}

func TestEmbedded(t *testing.T) {
	s, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	if s.X.Rows != 10000 || s.X.Cols != 784 || len(s.Labels) != 10000 || s.Labels[0] != 7 || s.CheckUnitInterval() != nil {
		t.Fatalf("embedded set %s, first label %d", s.Shape(), s.Labels[0])
	}
}

func TestDownloadMNIST(t *testing.T) {
	real, _ := embedded.ReadFile("embedded/t10k-labels-idx1-ubyte.gz")
	served := map[string][]byte{"t10k-labels-idx1-ubyte.gz": real, "bad.gz": gz([]byte("tampered"))}
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		b, ok := served[strings.TrimPrefix(r.URL.Path, "/mnist/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	defer srv.Close()
	old := MNISTFiles
	defer func() { MNISTFiles = old }()
	MNISTFiles = []MNISTFile{old[3]} // the labels of the test set, which the server has
	dir := filepath.Join(t.TempDir(), "cache")
	var last int64
	err := DownloadMNIST(context.Background(), srv.URL+"/mnist/", dir, func(_ string, done, _ int64) { last = done })
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, old[3].Name)); !bytes.Equal(got, real) || last != int64(len(real)) {
		t.Fatalf("downloaded %d bytes, progress said %d, want %d", len(got), last, len(real))
	}
	// A second call finds the verified file and downloads nothing.
	hits = 0
	if err := DownloadMNIST(context.Background(), srv.URL+"/mnist/", dir, nil); err != nil || hits != 0 {
		t.Fatalf("second download: %v, %d requests", err, hits)
	}
	MNISTFiles = []MNISTFile{{"bad.gz", old[3].SHA256}}
	err = DownloadMNIST(context.Background(), srv.URL+"/mnist", dir, nil)
	wantErr(t, err, "bad.gz", "SHA-256")
	if _, err := os.Stat(filepath.Join(dir, "bad.gz")); err == nil {
		t.Fatal("a file that failed its checksum was kept")
	}
	MNISTFiles = []MNISTFile{{"absent.gz", old[3].SHA256}}
	wantErr(t, DownloadMNIST(context.Background(), srv.URL+"/mnist/", dir, nil), "absent.gz", "404")
}

// The real MNIST from ../shared, when present, reads as 60,000 + 10,000.
func TestSharedMNIST(t *testing.T) {
	dir := filepath.Join("..", "..", "shared", "data", "mnist")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("MNIST not found at %s: skipping the real-data check", dir)
	}
	train, err := LoadMNIST(dir, "train")
	if err != nil {
		t.Fatal(err)
	}
	if train.X.Rows != 60000 || len(train.Labels) != 60000 {
		t.Fatalf("train set %s", train.Shape())
	}
	for _, f := range MNISTFiles {
		b, err := os.ReadFile(filepath.Join(dir, f.Name))
		if err != nil || contentSHA256(b) != f.SHA256 {
			t.Fatalf("%s: checksum of the shared copy does not match MNISTFiles", f.Name)
		}
	}
}

func TestWriteLabelsRoundTrip(t *testing.T) {
	dir := t.TempDir()
	labels := []int{7, 2, 1, 0, 4, 1, 4, 9, 5, 9}
	npy, csv := filepath.Join(dir, "y.npy"), filepath.Join(dir, "y.csv")
	if err := WriteLabels(npy, labels); err != nil {
		t.Fatal(err)
	}
	if err := WriteLabels(csv, labels); err != nil {
		t.Fatal(err)
	}
	a, err := ReadNPY(npy) // a 1-D array reads as one sample
	if err != nil || a.X.Rows != 1 || a.X.Cols != len(labels) {
		t.Fatalf("labels .npy: %v %+v", err, a)
	}
	b, err := ReadCSV(csv)
	if err != nil || b.X.Rows != len(labels) || b.X.Cols != 1 {
		t.Fatalf("labels .csv: %v %+v", err, b)
	}
	for i, l := range labels {
		if a.X.Data[i] != float32(l) || b.X.Data[i] != float32(l) {
			t.Fatalf("label %d: %g and %g, want %d", i, a.X.Data[i], b.X.Data[i], l)
		}
	}
	raw, _ := os.ReadFile(npy)
	if !strings.Contains(string(raw[:64]), "'<i8'") || (len(raw)-8*len(labels))%64 != 0 {
		t.Fatalf("labels .npy header: %q", raw[:64])
	}
}
