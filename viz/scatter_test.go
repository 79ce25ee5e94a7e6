package viz

import (
	"bytes"
	"image"
	"image/color"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/harmonium-ml/harmonium/mat32"
)

// centroid returns the mean position of the pixels of colour c in img and
// how many there are.
func centroid(img *image.RGBA, c color.RGBA) (x, y float64, n int) {
	b := img.Bounds()
	for py := b.Min.Y; py < b.Max.Y; py++ {
		for px := b.Min.X; px < b.Max.X; px++ {
			if img.RGBAAt(px, py) == c {
				x, y, n = x+float64(px), y+float64(py), n+1
			}
		}
	}
	if n > 0 {
		x, y = x/float64(n), y/float64(n)
	}
	return x, y, n
}

func TestScatterPlacesClassesByColour(t *testing.T) {
	// Class 0 around (0, 0), class 1 around (10, 10), class 2 around (10, 0).
	centres := [][2]float32{{0, 0}, {10, 10}, {10, 0}}
	pts := mat32.New(90, 2)
	labels := make([]int, 90)
	for i := range 90 {
		c := i % 3
		labels[i] = c
		pts.Set(i, 0, centres[c][0]+float32(i%5)*0.1)
		pts.Set(i, 1, centres[c][1]+float32(i%7)*0.1)
	}
	img, err := Scatter(pts, labels, ScatterOptions{Title: "three blobs", NoLegend: true})
	if err != nil {
		t.Fatal(err)
	}
	x0, y0, n0 := centroid(img, Palette[0])
	x1, y1, n1 := centroid(img, Palette[1])
	x2, y2, n2 := centroid(img, Palette[2])
	if n0 == 0 || n1 == 0 || n2 == 0 {
		t.Fatalf("dots of each class: %d %d %d pixels", n0, n1, n2)
	}
	// Image y grows downwards: class 1 is above class 0, class 2 right of it.
	if !(x1 > x0+300 && y1 < y0-300 && x2 > x0+300 && math.Abs(y2-y0) < 10 && math.Abs(x2-x1) < 10) {
		t.Errorf("centroids (%.0f,%.0f) (%.0f,%.0f) (%.0f,%.0f) do not follow the data", x0, y0, x1, y1, x2, y2)
	}
	if _, _, n := centroid(img, Unlabelled); n != 0 {
		t.Errorf("%d unlabelled pixels in a labelled plot", n)
	}

	// The same call draws the same picture; the legend widens it and shows
	// the class colours beside the plot.
	again, _ := Scatter(pts, labels, ScatterOptions{Title: "three blobs", NoLegend: true})
	if !bytes.Equal(img.Pix, again.Pix) {
		t.Error("two calls drew different pictures")
	}
	withLegend, err := Scatter(pts, labels, ScatterOptions{Title: "three blobs"})
	if err != nil {
		t.Fatal(err)
	}
	if withLegend.Bounds().Dx() <= img.Bounds().Dx() || withLegend.Bounds().Dy() != img.Bounds().Dy() {
		t.Errorf("legend: %v, without %v", withLegend.Bounds(), img.Bounds())
	}
	for c := range 3 {
		_, _, nPlot := centroid(img, Palette[c])
		_, _, nAll := centroid(withLegend, Palette[c])
		if nAll != nPlot+legendSwatch*legendSwatch {
			t.Errorf("class %d: legend swatch not drawn (%d pixels with, %d without)", c, nAll, nPlot)
		}
	}
}

func TestScatterSizesAndOptions(t *testing.T) {
	pts := mat32.FromSlice(3, 2, []float32{0, 0, 1, 2, 2, 1})
	a, err := Scatter(pts, nil, ScatterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Scatter(pts, nil, ScatterOptions{Size: 600, Dot: 5, Title: "t"})
	if err != nil {
		t.Fatal(err)
	}
	// The plot area grows with Size; a title adds one caption line.
	if b.Bounds().Dx()-a.Bounds().Dx() != 100 || b.Bounds().Dy()-a.Bounds().Dy() != 100+lineHeight+scatterPad/2-scatterPad {
		t.Errorf("sizes %v and %v", a.Bounds(), b.Bounds())
	}
	if a.Bounds().Dx() > DefaultScatterSize+120 || a.Bounds().Dy() > DefaultScatterSize+60 {
		t.Errorf("500-pixel plot makes a %v picture", a.Bounds())
	}
	_, _, na := centroid(a, Unlabelled)
	_, _, nb := centroid(b, Unlabelled)
	if na != 3*9 || nb != 3*21 {
		t.Errorf("unlabelled dots of 3 and 5 pixels cover %d and %d pixels, want 27 and 63", na, nb)
	}
	for _, c := range Palette {
		if _, _, n := centroid(a, c); n != 0 {
			t.Errorf("unlabelled plot has pixels of class colour %v", c)
		}
	}
}

func TestScatterNonFiniteAndErrors(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	pts := mat32.FromSlice(4, 2, []float32{0, 0, nan, 1, 1, inf, 1, 1})
	if _, err := Scatter(pts, []int{0, 1, 2, 3}, ScatterOptions{Title: "some bad"}); err != nil {
		t.Fatalf("two finite points of four: %v", err)
	}
	// The non-finite points are left out, the others drawn.
	img, _ := Scatter(pts, []int{0, 1, 2, 3}, ScatterOptions{NoLegend: true})
	_, _, n0 := centroid(img, Palette[0])
	_, _, n3 := centroid(img, Palette[3])
	_, _, n1 := centroid(img, Palette[1])
	if n0 != 9 || n3 != 9 || n1 != 0 {
		t.Errorf("pixels of the finite points %d, %d; of a NaN point %d", n0, n3, n1)
	}
	bad := mat32.FromSlice(3, 2, []float32{nan, 0, 0, inf, nan, nan})
	for _, c := range []struct {
		pts    *mat32.Dense
		labels []int
		opt    ScatterOptions
		want   string
	}{
		{bad, nil, ScatterOptions{}, "all 3 points"},
		{mat32.New(2, 3), nil, ScatterOptions{}, "2 columns, got 3"},
		{nil, nil, ScatterOptions{}, "2 columns, got 0"},
		{mat32.New(0, 2), nil, ScatterOptions{}, "no points"},
		{mat32.New(2, 2), []int{1}, ScatterOptions{}, "1 labels for 2 points"},
		{mat32.New(2, 2), nil, ScatterOptions{Size: MaxScatterSize + 1}, "plot size"},
		{mat32.New(2, 2), nil, ScatterOptions{Dot: -1}, "dot size"},
	} {
		if _, err := Scatter(c.pts, c.labels, c.opt); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want an error with %q, got %v", c.want, err)
		}
	}
}

func TestScatterOneValueAndManyClasses(t *testing.T) {
	// All points equal: the axes still have a range and the dot is drawn.
	pts := mat32.New(30, 2)
	labels := make([]int, 30)
	for i := range labels {
		pts.Set(i, 0, 5)
		pts.Set(i, 1, 5)
		labels[i] = i // 30 classes: colours cycle, the legend is cut short
	}
	img, err := Scatter(pts, labels, ScatterOptions{Size: 200})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, n := centroid(img, Palette[9]); n == 0 {
		t.Error("no dot or swatch in the colour of class 9")
	}
	entries := legendEntries(labels, 200)
	if len(entries)*legendRow > 200 || entries[len(entries)-1].label != "+20 more" {
		t.Errorf("legend of 30 classes in 200 pixels: %d entries, last %q", len(entries), entries[len(entries)-1].label)
	}
	if ClassColour(12) != Palette[2] || ClassColour(-1) != Palette[9] {
		t.Error("ClassColour does not cycle through the palette")
	}
}

func TestTicksAndDots(t *testing.T) {
	label := func(ts []tick) []string {
		var out []string
		for _, t := range ts {
			out = append(out, t.label)
		}
		return out
	}
	for _, c := range []struct {
		lo, hi float64
		want   []string
	}{
		{0, 1, []string{"0.0", "0.2", "0.4", "0.6", "0.8", "1.0"}},
		{-3.2, 47, []string{"0", "10", "20", "30", "40"}},
		{-4.5, 9.2, []string{"-4", "-2", "0", "2", "4", "6", "8"}},
		{-0.013, 0.012, []string{"-0.010", "-0.005", "0.000", "0.005", "0.010"}},
		{2e6, 7e6, []string{"2e+06", "3e+06", "4e+06", "5e+06", "6e+06", "7e+06"}},
	} {
		if got := label(ticks(c.lo, c.hi)); !slices.Equal(got, c.want) {
			t.Errorf("ticks(%g, %g) = %q, want %q", c.lo, c.hi, got, c.want)
		}
	}
	if m := dotMask(3); slices.Contains(m, false) {
		t.Errorf("3-pixel dot %v is not a square", m)
	}
	if m := dotMask(5); m[0] || m[4] || m[20] || m[24] || !m[1] || !m[12] {
		t.Errorf("5-pixel dot %v is not a disc", m)
	}
}

func TestBesideRGBAKeepsColours(t *testing.T) {
	red := image.NewRGBA(image.Rect(0, 0, 3, 2))
	fill(red, red.Bounds(), Palette[3])
	blue := image.NewRGBA(image.Rect(0, 0, 2, 4))
	fill(blue, blue.Bounds(), Palette[0])
	out := BesideRGBA(5, red, blue)
	if out.Bounds() != image.Rect(0, 0, 10, 4) {
		t.Fatalf("bounds %v", out.Bounds())
	}
	if out.RGBAAt(0, 0) != Palette[3] || out.RGBAAt(8, 3) != Palette[0] || out.RGBAAt(0, 3) != (color.RGBA{255, 255, 255, 255}) || out.RGBAAt(4, 0) != (color.RGBA{255, 255, 255, 255}) {
		t.Error("colours or paper misplaced")
	}
}
