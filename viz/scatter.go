package viz

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"

	"golang.org/x/image/font"
	"golang.org/x/image/math/fixed"

	"github.com/harmonium-ml/harmonium/mat32"
)

// Palette holds the colours of classes in scatter plots, the Tableau 10
// colours (matplotlib's tab10): class k is drawn in Palette[k mod 10].
var Palette = [10]color.RGBA{
	{0x1f, 0x77, 0xb4, 0xff}, // blue
	{0xff, 0x7f, 0x0e, 0xff}, // orange
	{0x2c, 0xa0, 0x2c, 0xff}, // green
	{0xd6, 0x27, 0x28, 0xff}, // red
	{0x94, 0x67, 0xbd, 0xff}, // purple
	{0x8c, 0x56, 0x4b, 0xff}, // brown
	{0xe3, 0x77, 0xc2, 0xff}, // pink
	{0x7f, 0x7f, 0x7f, 0xff}, // grey
	{0xbc, 0xbd, 0x22, 0xff}, // olive
	{0x17, 0xbe, 0xcf, 0xff}, // cyan
}

// Unlabelled is the colour of the dots of a scatter plot without labels.
var Unlabelled = color.RGBA{0x30, 0x30, 0x30, 0xff}

// ClassColour returns the colour of class label in scatter plots: the
// palette cycles, so labels 10 apart share a colour.
func ClassColour(label int) color.RGBA {
	k := label % len(Palette)
	if k < 0 {
		k += len(Palette)
	}
	return Palette[k]
}

// Bounds of the ScatterOptions.
const (
	DefaultScatterSize = 500  // side of the plot area when ScatterOptions.Size is 0
	MaxScatterSize     = 2000 // largest side of the plot area
	DefaultDot         = 3    // dot diameter when ScatterOptions.Dot is 0
	MaxDot             = 9    // largest dot diameter
)

// ScatterOptions say how Scatter draws; the zero value draws a 500x500
// plot of 3-pixel dots with a legend and no title.
type ScatterOptions struct {
	Title    string // the caption line above the plot (none when empty)
	Size     int    // width and height of the plot area in pixels, up to MaxScatterSize (0: DefaultScatterSize)
	Dot      int    // diameter of the dots in pixels, up to MaxDot (0: DefaultDot)
	NoLegend bool   // leave out the legend of class colours, e.g. when a plot beside this one has it
}

// Layout of a scatter plot, in pixels.
const (
	scatterPad    = 8  // paper around everything
	tickLen       = 4  // tick marks outside the frame
	legendGap     = 14 // between the plot and the legend
	legendRow     = 16 // height of a legend entry
	legendSwatch  = 9  // side of a legend's colour square
	targetTicks   = 5  // about this many ticks per axis
	rangeMargin   = 0.04
	textBaseShift = 4 // baseline below the middle of a line of text
)

// Colours of the axes.
var (
	frameColour = color.RGBA{0x80, 0x80, 0x80, 0xff}
	gridColour  = color.RGBA{0xeb, 0xeb, 0xeb, 0xff}
	textColour  = color.RGBA{0, 0, 0, 0xff}
)

// Scatter draws the rows of points (n x 2: x, y) as dots coloured by
// labels (one per row; nil draws every dot in Unlabelled), on axes scaled
// to the range of the points, with tick labels, a legend of the classes
// present and opt.Title above. Rows with a non-finite coordinate are left
// out (the title says how many); it is an error when no row is finite.
// Dots are drawn in a fixed pseudo-random order, the same on every call,
// so that no class is systematically hidden under another, as it would be
// if the data were sorted by class.
func Scatter(points *mat32.Dense, labels []int, opt ScatterOptions) (*image.RGBA, error) {
	if err := checkScatter(points, labels, opt); err != nil {
		return nil, err
	}
	size, dot := cmp0(opt.Size, DefaultScatterSize), cmp0(opt.Dot, DefaultDot)
	xlo, xhi, ylo, yhi, skipped := finiteRange(points)
	if skipped == points.Rows {
		return nil, fmt.Errorf("scatter: all %d points have a non-finite coordinate (NaN or infinity)", skipped)
	}
	xlo, xhi = padRange(xlo, xhi)
	ylo, yhi = padRange(ylo, yhi)
	xticks, yticks := ticks(xlo, xhi), ticks(ylo, yhi)

	title := opt.Title
	if skipped > 0 {
		title += fmt.Sprintf(" (%d of %d points not finite, left out)", skipped, points.Rows)
	}
	var classes []int
	if labels != nil && !opt.NoLegend {
		classes = slices.Compact(slices.Sorted(slices.Values(labels)))
	}
	entries := legendEntries(classes, size)
	img, plot := scatterCanvas(title, size, yticks, entries)
	ax := scatterAxes{plot: plot, size: size, xlo: xlo, xhi: xhi, ylo: ylo, yhi: yhi}
	ax.draw(img, xticks, yticks)
	ax.drawDots(img, points, labels, dot)
	drawLegend(img, plot, entries)
	return img, nil
}

// checkScatter reports the first argument of Scatter out of range.
func checkScatter(points *mat32.Dense, labels []int, opt ScatterOptions) error {
	switch {
	case points == nil || points.Cols != 2:
		cols := 0
		if points != nil {
			cols = points.Cols
		}
		return fmt.Errorf("scatter: points must have 2 columns, got %d", cols)
	case points.Rows == 0:
		return errors.New("scatter: no points")
	case labels != nil && len(labels) != points.Rows:
		return fmt.Errorf("scatter: %d labels for %d points", len(labels), points.Rows)
	case opt.Size < 0 || opt.Size > MaxScatterSize:
		return fmt.Errorf("scatter: plot size %d outside [1, %d]", opt.Size, MaxScatterSize)
	case opt.Dot < 0 || opt.Dot > MaxDot:
		return fmt.Errorf("scatter: dot size %d outside [1, %d]", opt.Dot, MaxDot)
	}
	return nil
}

// finiteRange returns the range of the finite points and how many points
// are not finite.
func finiteRange(points *mat32.Dense) (xlo, xhi, ylo, yhi float64, skipped int) {
	xlo, xhi, ylo, yhi = math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for i := range points.Rows {
		x, y, ok := finitePoint(points, i)
		if !ok {
			skipped++
			continue
		}
		xlo, xhi, ylo, yhi = min(xlo, x), max(xhi, x), min(ylo, y), max(yhi, y)
	}
	return xlo, xhi, ylo, yhi, skipped
}

// scatterCanvas returns a blank scatter plot with its title (none when
// empty) and the area of the plot, size pixels square, in it: laid out as
// title, then y tick labels | plot | legend, then x tick labels.
func scatterCanvas(title string, size int, yticks []tick, entries []legendEntry) (*image.RGBA, image.Rectangle) {
	top := scatterPad
	if title != "" {
		top = lineHeight + scatterPad/2
	}
	ylabelW := 0
	for _, t := range yticks {
		ylabelW = max(ylabelW, TextWidth(t.label))
	}
	x0 := scatterPad + ylabelW + tickLen + 3
	y0 := top
	legendW := 0
	for _, l := range entries {
		legendW = max(legendW, legendSwatch+5+TextWidth(l.label))
	}
	w := x0 + size + 1 + scatterPad
	if legendW > 0 {
		w += legendGap + legendW
	}
	w = max(w, TextWidth(title)+8)
	h := y0 + size + 1 + tickLen + lineHeight + scatterPad/2
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), &image.Uniform{Paper}, image.Point{}, draw.Src)
	if title != "" {
		drawText(img, title, 4, 13, textColour)
	}
	return img, image.Rect(x0, y0, x0+size, y0+size)
}

// scatterAxes maps the ranges [xlo, xhi] and [ylo, yhi] onto a plot area
// size pixels square.
type scatterAxes struct {
	plot               image.Rectangle
	size               int
	xlo, xhi, ylo, yhi float64
}

// px returns the pixel column of x.
func (a scatterAxes) px(x float64) int {
	return a.plot.Min.X + int(math.Round((x-a.xlo)/(a.xhi-a.xlo)*float64(a.size-1)))
}

// py returns the pixel row of y.
func (a scatterAxes) py(y float64) int {
	return a.plot.Min.Y + a.size - 1 - int(math.Round((y-a.ylo)/(a.yhi-a.ylo)*float64(a.size-1)))
}

// draw draws the axes: grid lines, frame, ticks and their labels.
func (a scatterAxes) draw(img *image.RGBA, xticks, yticks []tick) {
	plot := a.plot
	for _, t := range xticks {
		x := a.px(t.v)
		fill(img, image.Rect(x, plot.Min.Y, x+1, plot.Max.Y), gridColour)
		fill(img, image.Rect(x, plot.Max.Y+1, x+1, plot.Max.Y+1+tickLen), frameColour)
		drawText(img, t.label, x-TextWidth(t.label)/2, plot.Max.Y+1+tickLen+12, textColour)
	}
	for _, t := range yticks {
		y := a.py(t.v)
		fill(img, image.Rect(plot.Min.X, y, plot.Max.X, y+1), gridColour)
		fill(img, image.Rect(plot.Min.X-1-tickLen, y, plot.Min.X-1, y+1), frameColour)
		drawText(img, t.label, plot.Min.X-1-tickLen-2-TextWidth(t.label), y+textBaseShift, textColour)
	}
	frame := plot.Inset(-1)
	fill(img, image.Rect(frame.Min.X, frame.Min.Y, frame.Max.X, frame.Min.Y+1), frameColour)
	fill(img, image.Rect(frame.Min.X, frame.Max.Y-1, frame.Max.X, frame.Max.Y), frameColour)
	fill(img, image.Rect(frame.Min.X, frame.Min.Y, frame.Min.X+1, frame.Max.Y), frameColour)
	fill(img, image.Rect(frame.Max.X-1, frame.Min.Y, frame.Max.X, frame.Max.Y), frameColour)
}

// drawDots draws the finite points as dots of diameter dot, coloured by
// labels (nil: Unlabelled), in a fixed shuffled order.
func (a scatterAxes) drawDots(img *image.RGBA, points *mat32.Dense, labels []int, dot int) {
	mask := dotMask(dot)
	off := (dot - 1) / 2
	for _, i := range rand.New(rand.NewPCG(1, 2)).Perm(points.Rows) {
		x, y, ok := finitePoint(points, i)
		if !ok {
			continue
		}
		c := Unlabelled
		if labels != nil {
			c = ClassColour(labels[i])
		}
		cx, cy := a.px(x)-off, a.py(y)-off
		for k, on := range mask {
			p := image.Pt(cx+k%dot, cy+k/dot)
			if on && p.In(a.plot) {
				img.SetRGBA(p.X, p.Y, c)
			}
		}
	}
}

// drawLegend draws the legend entries to the right of the plot area.
func drawLegend(img *image.RGBA, plot image.Rectangle, entries []legendEntry) {
	lx := plot.Inset(-1).Max.X + legendGap
	for k, l := range entries {
		y := plot.Min.Y + k*legendRow + legendRow/2
		if l.colour != nil {
			fill(img, image.Rect(lx, y-legendSwatch/2, lx+legendSwatch, y-legendSwatch/2+legendSwatch), *l.colour)
		}
		drawText(img, l.label, lx+legendSwatch+5, y+textBaseShift, textColour)
	}
}

// cmp0 returns v, or def when v is 0.
func cmp0(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// finitePoint returns row i of points when both its values are finite.
func finitePoint(points *mat32.Dense, i int) (x, y float64, ok bool) {
	x, y = float64(points.At(i, 0)), float64(points.At(i, 1))
	return x, y, !math.IsNaN(x) && !math.IsInf(x, 0) && !math.IsNaN(y) && !math.IsInf(y, 0)
}

// padRange widens [lo, hi] a little so that dots at the extremes stay
// inside the frame, and makes an empty range one unit wide.
func padRange(lo, hi float64) (float64, float64) {
	if hi <= lo {
		h := max(math.Abs(lo)*0.1, 1)
		return lo - h, hi + h
	}
	m := (hi - lo) * rangeMargin
	return lo - m, hi + m
}

// tick is a value on an axis and its label.
type tick struct {
	v     float64
	label string
}

// ticks returns about targetTicks round values within [lo, hi], 1, 2 or 5
// times a power of ten apart (whichever count is nearest in ratio), labelled
// with as many decimals as the step needs.
func ticks(lo, hi float64) []tick {
	raw := (hi - lo) / targetTicks
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	miss := func(step float64) float64 { return math.Abs(math.Log((hi - lo) / step / targetTicks)) }
	step := p
	for _, m := range []float64{2, 5, 10} {
		if miss(m*p) <= miss(step) {
			step = m * p
		}
	}
	decimals := max(0, -int(math.Floor(math.Log10(step))))
	large := max(math.Abs(lo), math.Abs(hi)) >= 1e6 || decimals > 6
	var out []tick
	for k := math.Ceil(lo / step); k*step <= hi && len(out) < 4*targetTicks; k++ {
		v := k * step
		if math.Abs(v) < step*1e-9 {
			v = 0 // not "-0"
		}
		label := strconv.FormatFloat(v, 'f', decimals, 64)
		if large {
			label = strconv.FormatFloat(v, 'g', 3, 64)
		}
		out = append(out, tick{v, label})
	}
	return out
}

// legendEntry is a line of the legend: a colour square (none for a note)
// and its text.
type legendEntry struct {
	colour *color.RGBA
	label  string
}

// legendEntries returns the legend of classes (sorted, distinct) for a
// plot size pixels tall: one entry per class under a heading, the last
// ones summarised as "+N more" when they do not fit.
func legendEntries(classes []int, size int) []legendEntry {
	if len(classes) == 0 {
		return nil
	}
	out := []legendEntry{{nil, "label"}}
	fit := max(1, size/legendRow-1)
	more := 0
	if len(classes) > fit {
		more = len(classes) - (fit - 1)
		classes = classes[:fit-1]
	}
	for _, c := range classes {
		col := ClassColour(c)
		out = append(out, legendEntry{&col, strconv.Itoa(c)})
	}
	if more > 0 {
		out = append(out, legendEntry{nil, fmt.Sprintf("+%d more", more)})
	}
	return out
}

// dotMask returns which pixels of a d x d square (row by row) a dot of
// diameter d covers: the whole square up to 3 pixels, a disc beyond.
func dotMask(d int) []bool {
	m := make([]bool, d*d)
	c := float64(d-1) / 2
	r2 := float64(d*d)/4 + 0.25
	for k := range m {
		dx, dy := float64(k%d)-c, float64(k/d)-c
		m[k] = dx*dx+dy*dy <= r2
	}
	return m
}

// fill paints r (clipped to img) in c.
func fill(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	draw.Draw(img, r, &image.Uniform{c}, image.Point{}, draw.Src)
}

// drawText writes text in the caption font with its baseline at (x, y).
func drawText(img *image.RGBA, text string, x, y int, c color.RGBA) {
	d := font.Drawer{Dst: img, Src: &image.Uniform{c}, Face: face, Dot: fixed.P(x, y)}
	d.DrawString(text)
}

// BesideRGBA places images left to right, top-aligned, gap pixels of
// paper apart, as Beside does but keeping their colours.
func BesideRGBA(gap int, imgs ...image.Image) *image.RGBA {
	out := image.NewRGBA(besideBounds(gap, imgs))
	placeBeside(out, gap, imgs)
	return out
}
