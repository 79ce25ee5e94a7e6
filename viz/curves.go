package viz

import (
	"bytes"
	"fmt"
	"image/color"
	"io"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/harmonium-ml/harmonium/internal/atomicfile"
)

// Series is one line of a panel: a value per epoch (epoch i+1 is Y[i]).
type Series struct {
	Name string
	Y    []float64
}

// Panel is one plot of a figure: series against the epoch.
type Panel struct {
	Title, YLabel string
	Series        []Series
}

// seriesStyle gives training solid lines and validation dashed ones.
var palette = []color.Color{
	color.RGBA{R: 31, G: 119, B: 180, A: 255},
	color.RGBA{R: 214, G: 39, B: 40, A: 255},
	color.RGBA{R: 44, G: 160, B: 44, A: 255},
	color.RGBA{R: 148, G: 103, B: 189, A: 255},
}

// plots builds one gonum plot per panel.
func plots(panels []Panel) ([]*plot.Plot, error) {
	var out []*plot.Plot
	for _, pn := range panels {
		p := plot.New()
		p.Title.Text = pn.Title
		p.X.Label.Text = "epoch"
		p.Y.Label.Text = pn.YLabel
		p.Legend.Top = true
		p.Add(plotter.NewGrid())
		for i, s := range pn.Series {
			if len(s.Y) == 0 {
				continue
			}
			xy := make(plotter.XYs, len(s.Y))
			for e, y := range s.Y {
				xy[e] = plotter.XY{X: float64(e + 1), Y: y}
			}
			line, points, err := plotter.NewLinePoints(xy)
			if err != nil {
				return nil, fmt.Errorf("series %s: %w", s.Name, err)
			}
			c := palette[i%len(palette)]
			line.Color, points.Color = c, c
			line.Width = vg.Points(1.5)
			points.Radius = vg.Points(2)
			if strings.Contains(strings.ToLower(s.Name), "valid") {
				line.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
			}
			p.Add(line, points)
			p.Legend.Add(s.Name, line, points)
		}
		out = append(out, p)
	}
	return out, nil
}

// Curves draws the panels stacked vertically and returns the figure as
// format "png" or "svg".
func Curves(panels []Panel, format string) ([]byte, error) {
	ps, err := plots(panels)
	if err != nil {
		return nil, err
	}
	w, h := 7*vg.Inch, vg.Length(len(ps))*3*vg.Inch
	var c interface {
		vg.CanvasSizer
		io.WriterTo
	}
	var dc draw.Canvas
	switch format {
	case "png":
		img := vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(110))}
		c, dc = img, draw.New(img)
	case "svg":
		svg := vgsvg.New(w, h)
		c, dc = svg, draw.New(svg)
	default:
		return nil, fmt.Errorf("unknown figure format %q (want png or svg)", format)
	}
	tiles := draw.Tiles{Rows: len(ps), Cols: 1, PadTop: vg.Points(6), PadBottom: vg.Points(6), PadLeft: vg.Points(6), PadRight: vg.Points(10), PadY: vg.Points(12)}
	grid := make([][]*plot.Plot, len(ps))
	for i, p := range ps {
		grid[i] = []*plot.Plot{p}
	}
	canvases := plot.Align(grid, tiles, dc)
	for i, p := range ps {
		p.Draw(canvases[i][0])
	}
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// WriteCurves writes the panels to path, as PNG or SVG by its extension,
// atomically.
func WriteCurves(path string, panels []Panel) error {
	format := strings.TrimPrefix(strings.ToLower(filepath.Ext(path)), ".")
	if format != "png" && format != "svg" {
		return fmt.Errorf("write %s: a curve file must end in .png or .svg", path)
	}
	b, err := Curves(panels, format)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return atomicfile.Write(path, func(w io.Writer) error { _, err := w.Write(b); return err })
}
