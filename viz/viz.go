// Package viz draws what a model learned: grids of images (digits,
// reconstructions, filters, samples) as PNG, and training curves with
// gonum/plot. Grey levels are ink on paper: 0 is white paper, 1 black ink.
package viz

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
	"math/big"
	"strconv"
	"strings"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/harmonium-ml/harmonium/internal/atomicfile"
)

// Shape is the height and width of the images in a row of data.
type Shape struct{ H, W int }

// String formats s as "HxW".
func (s Shape) String() string { return fmt.Sprintf("%dx%d", s.H, s.W) }

// Size is the number of pixels, H*W.
func (s Shape) Size() int { return s.H * s.W }

// ParseShape reads "HxW", for example "28x28". H*W must fit in an int.
func ParseShape(text string) (Shape, error) {
	h, w, ok := strings.Cut(strings.ToLower(strings.TrimSpace(text)), "x")
	hi, err1 := strconv.Atoi(h)
	wi, err2 := strconv.Atoi(w)
	if !ok || err1 != nil || err2 != nil || hi <= 0 || wi <= 0 {
		return Shape{}, fmt.Errorf("image shape %q is not HxW with positive sizes (for example 28x28)", text)
	}
	if hi > math.MaxInt/wi {
		return Shape{}, fmt.Errorf("image shape %q is too large: %s pixels", text, big.NewInt(0).Mul(big.NewInt(int64(hi)), big.NewInt(int64(wi))))
	}
	return Shape{hi, wi}, nil
}

// ShapeFor returns the image shape of rows of n values: s when it is set
// (an error when s.Size() != n), otherwise the square root of n when n is a
// perfect square.
func ShapeFor(n int, s Shape) (Shape, error) {
	if s.H > 0 {
		if s.W <= 0 || s.H > math.MaxInt/s.W {
			return Shape{}, fmt.Errorf("image shape %s has more pixels than there are %d visible units", s, n)
		}
		if s.Size() != n {
			return Shape{}, fmt.Errorf("image shape %s has %d pixels, but there are %d visible units", s, s.Size(), n)
		}
		return s, nil
	}
	r := int(math.Round(math.Sqrt(float64(n))))
	if r*r != n {
		return Shape{}, fmt.Errorf("cannot tell the image shape of %d visible units; pass --image-shape HxW", n)
	}
	return Shape{r, r}, nil
}

// Zoom returns a nearest-neighbour magnification that makes images of
// shape s about 84 pixels tall: 3 for MNIST's 28x28, 10 for 8x8 digits.
func Zoom(s Shape) int { return max(1, 84/max(s.H, s.W)) }

// Colours of the grids.
var (
	Paper = color.Gray{Y: 255}
	Gap   = color.Gray{Y: 200} // lines between tiles
)

// ink maps a value in [0, 1] (clamped) to a grey: 0 white, 1 black.
func ink(v float32) color.Gray {
	v = min(max(v, 0), 1)
	return color.Gray{Y: uint8(math.Round(float64(255 * (1 - v))))}
}

// GridCols returns the number of columns of a square-ish grid of n tiles.
func GridCols(n int) int { return max(1, int(math.Ceil(math.Sqrt(float64(n))))) }

// MaxPixels bounds the pictures harmonium draws: 2^28 pixels (256 MB of
// grey levels), far beyond what a viewer shows, well within memory.
const MaxPixels = 1 << 28

// ErrTooLarge is wrapped by the errors of CheckGrid.
var ErrTooLarge = errors.New("picture too large")

// GridSize returns the width and height in pixels of Grid's picture of n
// tiles, computed without overflow.
func GridSize(n int, s Shape, cols, zoom int) (w, h float64) {
	cols = max(1, min(cols, n))
	rows := (n + cols - 1) / cols
	return float64(cols)*(float64(s.W)*float64(zoom)+1) + 1, float64(rows)*(float64(s.H)*float64(zoom)+1) + 1
}

// CheckGrid reports an error wrapping ErrTooLarge when Grid's picture of n
// tiles (times copies, for pictures made of several grids) would exceed
// MaxPixels.
func CheckGrid(n int, s Shape, cols, zoom, copies int) error {
	w, h := GridSize(n, s, cols, zoom)
	if px := w * h * float64(copies); px > MaxPixels {
		return fmt.Errorf("%w: %d tiles of %s at zoom %d make %.0f x %.0f pixels (x%d), more than %d million; lower the zoom or the number of images",
			ErrTooLarge, n, s, zoom, w, h, copies, MaxPixels/1000000)
	}
	return nil
}

// Grid draws images (each a row of s.Size() values in [0, 1]) in cols
// columns, each pixel zoom x zoom, with a one-pixel grey line between tiles
// and around the grid.
func Grid(images [][]float32, s Shape, cols, zoom int) *image.Gray {
	n := len(images)
	cols = max(1, min(cols, n))
	rows := (n + cols - 1) / cols
	th, tw := s.H*zoom, s.W*zoom
	img := image.NewGray(image.Rect(0, 0, cols*(tw+1)+1, rows*(th+1)+1))
	draw.Draw(img, img.Bounds(), &image.Uniform{Gap}, image.Point{}, draw.Src)
	for k, im := range images {
		x0, y0 := 1+(k%cols)*(tw+1), 1+(k/cols)*(th+1)
		for y := 0; y < th; y++ {
			row := img.Pix[(y0+y)*img.Stride+x0 : (y0+y)*img.Stride+x0+tw]
			src := im[(y/zoom)*s.W : (y/zoom+1)*s.W]
			for x := range row {
				row[x] = ink(src[x/zoom]).Y
			}
		}
	}
	// Unused cells of the last row are paper.
	for k := n; k < rows*cols; k++ {
		x0, y0 := 1+(k%cols)*(tw+1), 1+(k/cols)*(th+1)
		draw.Draw(img, image.Rect(x0, y0, x0+tw, y0+th), &image.Uniform{Paper}, image.Point{}, draw.Src)
	}
	return img
}

// Normalize returns v scaled linearly from its own [min, max] to [0, 1]
// (all 0.5 when v is constant).
func Normalize(v []float32) []float32 {
	lo, hi := v[0], v[0]
	for _, x := range v {
		lo, hi = min(lo, x), max(hi, x)
	}
	out := make([]float32, len(v))
	for i, x := range v {
		if hi > lo {
			out[i] = (x - lo) / (hi - lo)
		} else {
			out[i] = 0.5
		}
	}
	return out
}

// face is the font of captions.
var face = basicfont.Face7x13

// lineHeight is the height of one caption line with its margins.
const lineHeight = 18

// TextWidth is the width in pixels of text in the caption font.
func TextWidth(text string) int { return font.MeasureString(face, text).Ceil() }

// Caption returns img with lines of text above it on paper, the width
// growing if a line is wider than img.
func Caption(img image.Image, lines ...string) *image.Gray {
	b := img.Bounds()
	w := b.Dx()
	for _, l := range lines {
		w = max(w, TextWidth(l)+8)
	}
	top := lineHeight * len(lines)
	out := image.NewGray(image.Rect(0, 0, w, top+b.Dy()))
	draw.Draw(out, out.Bounds(), &image.Uniform{Paper}, image.Point{}, draw.Src)
	d := font.Drawer{Dst: out, Src: image.Black, Face: face}
	for i, l := range lines {
		d.Dot = fixed.P(4, lineHeight*i+13)
		d.DrawString(l)
	}
	draw.Draw(out, image.Rect(0, top, b.Dx(), top+b.Dy()), img, b.Min, draw.Src)
	return out
}

// Beside places images left to right, top-aligned, gap pixels of paper apart.
func Beside(gap int, imgs ...image.Image) *image.Gray {
	out := image.NewGray(besideBounds(gap, imgs))
	placeBeside(out, gap, imgs)
	return out
}

// besideBounds returns the bounds of imgs placed side by side gap apart.
func besideBounds(gap int, imgs []image.Image) image.Rectangle {
	w, h := 0, 0
	for i, im := range imgs {
		if i > 0 {
			w += gap
		}
		w += im.Bounds().Dx()
		h = max(h, im.Bounds().Dy())
	}
	return image.Rect(0, 0, w, h)
}

// placeBeside fills out with paper and draws imgs on it left to right,
// top-aligned, gap pixels apart.
func placeBeside(out draw.Image, gap int, imgs []image.Image) {
	draw.Draw(out, out.Bounds(), &image.Uniform{Paper}, image.Point{}, draw.Src)
	x := 0
	for _, im := range imgs {
		b := im.Bounds()
		draw.Draw(out, image.Rect(x, 0, x+b.Dx(), b.Dy()), im, b.Min, draw.Src)
		x += b.Dx() + gap
	}
}

// PNGBytes returns img encoded as PNG.
func PNGBytes(img image.Image) []byte {
	var b bytes.Buffer
	png.Encode(&b, img) // writing to a bytes.Buffer cannot fail
	return b.Bytes()
}

// WritePNG writes img to path as PNG, atomically.
func WritePNG(path string, img image.Image) error {
	return atomicfile.Write(path, func(w io.Writer) error { return png.Encode(w, img) })
}
