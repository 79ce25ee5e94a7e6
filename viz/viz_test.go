package viz

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/harmonium-ml/harmonium/mat32"
)

func TestShapes(t *testing.T) {
	if s, err := ParseShape(" 28X28 "); err != nil || s != (Shape{28, 28}) {
		t.Fatalf("ParseShape: %v %v", s, err)
	}
	// 4611686018427387912 x 8 overflows to 64 pixels: it must not pass
	// for an 8x8 image.
	for _, bad := range []string{"28", "0x5", "ax3", "3x-1", "", "4611686018427387912x8", "4294967296x4294967296"} {
		if _, err := ParseShape(bad); err == nil {
			t.Fatalf("ParseShape(%q) accepted", bad)
		}
	}
	if s, err := ShapeFor(64, Shape{}); err != nil || s != (Shape{8, 8}) {
		t.Fatalf("ShapeFor(64) = %v, %v", s, err)
	}
	if _, err := ShapeFor(100, Shape{10, 11}); err == nil || !strings.Contains(err.Error(), "110 pixels") {
		t.Fatalf("mismatched shape: %v", err)
	}
	if _, err := ShapeFor(64, Shape{4611686018427387912, 8}); err == nil {
		t.Fatal("ShapeFor accepted a shape whose pixel count overflows to 64")
	}
	if _, err := ShapeFor(60, Shape{}); err == nil || !strings.Contains(err.Error(), "--image-shape") {
		t.Fatalf("non-square without a shape: %v", err)
	}
	if Zoom(Shape{28, 28}) != 3 || Zoom(Shape{8, 8}) != 10 || Zoom(Shape{200, 100}) != 1 {
		t.Fatal("Zoom")
	}
}

func TestGridLayout(t *testing.T) {
	// Ten 2x3 images in 4 columns at zoom 2: 3 rows of tiles 4x6 pixels,
	// one-pixel lines between and around.
	imgs := make([][]float32, 10)
	for k := range imgs {
		imgs[k] = []float32{0, 1, 0.5, 1, 0, 0}
	}
	g := Grid(imgs, Shape{2, 3}, 4, 2)
	if b := g.Bounds(); b.Dx() != 4*(6+1)+1 || b.Dy() != 3*(4+1)+1 {
		t.Fatalf("grid is %dx%d", b.Dx(), b.Dy())
	}
	if g.GrayAt(0, 0) != Gap || g.GrayAt(7, 3) != Gap {
		t.Fatal("no separating lines")
	}
	// First tile: pixel (0,0) of the image is paper, (0,1) ink, (0,2) half.
	if g.GrayAt(1, 1).Y != 255 || g.GrayAt(2, 2).Y != 255 || g.GrayAt(3, 1).Y != 0 || g.GrayAt(4, 2).Y != 0 || g.GrayAt(5, 1).Y != 128 {
		t.Fatalf("tile pixels %v %v %v", g.GrayAt(1, 1), g.GrayAt(3, 1), g.GrayAt(5, 1))
	}
	// Second image row of the first tile starts at y = 1 + 2.
	if g.GrayAt(1, 3).Y != 0 {
		t.Fatal("second image row not ink")
	}
	// Cells 10 and 11 of the last row are unused: paper.
	if g.GrayAt(1+2*7, 1+2*5).Y != 255 || g.GrayAt(1+3*7+5, 1+2*5+3).Y != 255 {
		t.Fatal("unused cells are not paper")
	}
	if GridCols(10) != 4 || GridCols(100) != 10 || GridCols(1) != 1 {
		t.Fatal("GridCols")
	}
}

func TestNormalizeCaptionBeside(t *testing.T) {
	n := Normalize([]float32{-2, 0, 2})
	if n[0] != 0 || n[1] != 0.5 || n[2] != 1 {
		t.Fatalf("Normalize = %v", n)
	}
	if c := Normalize([]float32{3, 3}); c[0] != 0.5 {
		t.Fatalf("constant Normalize = %v", c)
	}
	g := Grid([][]float32{{1, 0, 0, 1}}, Shape{2, 2}, 1, 1)
	c := Caption(g, "a long caption wider than the grid", "two")
	if c.Bounds().Dy() != g.Bounds().Dy()+2*lineHeight || c.Bounds().Dx() < TextWidth("a long caption wider than the grid") {
		t.Fatalf("caption size %v", c.Bounds())
	}
	b := Beside(10, g, c)
	if b.Bounds().Dx() != g.Bounds().Dx()+10+c.Bounds().Dx() || b.Bounds().Dy() != c.Bounds().Dy() {
		t.Fatalf("Beside size %v", b.Bounds())
	}
}

func TestFiguresAndFiles(t *testing.T) {
	m := mat32.New(4, 6) // 4 visible (2x2) x 6 hidden
	for i := range m.Data {
		m.Data[i] = float32(i)
	}
	f := Filters(m, 5, Shape{2, 2}, 3)
	if f.Bounds().Dy() != lineHeight+2*(6+1)+1 {
		t.Fatalf("filter grid height %d", f.Bounds().Dy())
	}
	orig, rec := mat32.New(3, 4), mat32.New(3, 4)
	r := Reconstructions(orig, rec, Shape{2, 2}, 1)
	if r.Bounds().Dx() < 2*(2*3+1)+24 {
		t.Fatalf("reconstructions width %d", r.Bounds().Dx())
	}
	chains := Samples([]*mat32.Dense{orig, rec, orig}, []int{0, 10, 20}, Shape{2, 2}, 1)
	if chains.Bounds().Dy() != lineHeight+3*(2+1)+1 {
		t.Fatalf("chains: %v (want one row per chain)", chains.Bounds())
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "f.png")
	if err := WritePNG(p, f); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	if img, err := png.Decode(bytes.NewReader(b)); err != nil || img.Bounds() != f.Bounds() {
		t.Fatalf("PNG round trip: %v", err)
	}
	if err := WritePNG(filepath.Join(dir, "missing", "f.png"), f); err == nil {
		t.Fatal("writing into a missing folder succeeded")
	}
}

func TestCurves(t *testing.T) {
	panels := []Panel{{Title: "t", YLabel: "y", Series: []Series{{Name: "training", Y: []float64{3, 2, 1}}, {Name: "validation", Y: []float64{3.5, 2.5, 2}}}},
		{Title: "f", YLabel: "F", Series: []Series{{Name: "training", Y: []float64{-1, -2, -3}}, {Name: "validation"}}}}
	dir := t.TempDir()
	p := filepath.Join(dir, "c.png")
	if err := WriteCurves(p, panels); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("curve PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 500 || b.Dy() < 500 {
		t.Fatalf("curve PNG of two panels is %v", b)
	}
	s := filepath.Join(dir, "c.svg")
	if err := WriteCurves(s, panels); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(s); !bytes.Contains(b, []byte("<svg")) || !bytes.Contains(b, []byte("validation")) {
		t.Fatal("SVG without the svg element or the legend")
	}
	if err := WriteCurves(filepath.Join(dir, "c.jpg"), panels); err == nil {
		t.Fatal(".jpg accepted")
	}
}

func TestReportIsSelfContained(t *testing.T) {
	p := filepath.Join(t.TempDir(), "r.html")
	r := &Report{Title: "T <x>", Settings: [][2]string{{"lr", "0.1"}}, Metrics: [][2]string{{"recon", "7.0"}},
		Figures: []Figure{{Title: "grid", Caption: "c", Data: PNGBytes(Grid([][]float32{{1}}, Shape{1, 1}, 1, 1))}}}
	if err := WriteReport(p, r); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	html := string(b)
	for _, want := range []string{"T &lt;x&gt;", "data:image/png;base64,", "<td>lr</td><td>0.1</td>"} {
		if !strings.Contains(html, want) {
			t.Fatalf("report lacks %q", want)
		}
	}
	for _, bad := range []string{"<script", "http://", "https://"} {
		if strings.Contains(html, bad) {
			t.Fatalf("report contains %q", bad)
		}
	}
}
