package main

import (
	"context"
	"fmt"
	"time"

	"github.com/harmonium-ml/harmonium/dataset"
	"github.com/harmonium-ml/harmonium/dbn"
	"github.com/harmonium-ml/harmonium/mat32"
	"github.com/harmonium-ml/harmonium/rbm"
	"github.com/harmonium-ml/harmonium/viz"
)

// dbnCurvePanels draws each layer's reconstruction error per epoch.
func dbnCurvePanels(h []dbnRecord, layers int) []viz.Panel {
	series := make([]viz.Series, layers)
	for i := range series {
		series[i].Name = fmt.Sprintf("layer %d", i)
	}
	for _, r := range h {
		if r.Layer < layers {
			series[r.Layer].Y = append(series[r.Layer].Y, r.ReconError)
		}
	}
	return []viz.Panel{{Title: "Reconstruction error per layer", YLabel: "reconstruction error", Series: series}}
}

// dbnReportSteps is how many Gibbs steps the report's dreams run.
const dbnReportSteps = 100

// buildDBNReport draws the report of a DBN training run: per-layer curves,
// the first layer's filters, up-down reconstructions of training samples,
// and with labels a row of dreams per class started at samples of it.
func buildDBNReport(ctx context.Context, d *dbn.DBN, cfg dbn.Config, set *dataset.Set, h []dbnRecord, elapsed time.Duration, seed uint64) (*viz.Report, error) {
	r := &viz.Report{Title: fmt.Sprintf("harmonium: DBN %s%s", sizesText(cfg), labelText(cfg.Labels))}
	r.Settings = [][2]string{{"data", set.Source}, {"data shape", set.Shape()}, {"seed", fmt.Sprint(seed)}, {"products", mat32.Backend()}}
	for i := range cfg.Layers {
		r.Settings = append(r.Settings, [2]string{fmt.Sprintf("layer %d", i), layerText(cfg, i)})
	}
	for i := range d.Layers {
		last := -1.0
		for _, rec := range h {
			if rec.Layer == i {
				last = rec.ReconError
			}
		}
		if last >= 0 {
			r.Metrics = append(r.Metrics, [2]string{fmt.Sprintf("layer %d reconstruction error", i), fmt.Sprintf("%.4f", last)})
		}
	}
	r.Metrics = append(r.Metrics, [2]string{"time taken", fmtDuration(elapsed)})
	if curve, err := viz.Curves(dbnCurvePanels(h, len(d.Layers)), "png"); err == nil {
		r.Figures = append(r.Figures, viz.Figure{Title: "Training curves", Caption: "Each layer's reconstruction error of its own input after each of its epochs.", Data: curve})
	}
	pics := pictureFlags{}
	shape, zoom, err := pics.resolve(d.Visible(), set, nil)
	if err != nil {
		return r, nil // no image shape: curves only
	}
	first := d.Layers[0]
	w := first.W
	if d.Labels > 0 && len(d.Layers) == 1 {
		w = w.Slice(0, w.Rows-d.Labels)
	}
	nf := min(100, w.Cols)
	r.Figures = append(r.Figures, viz.Figure{Title: "Filters", Caption: fmt.Sprintf("Incoming weights of the first %d units of layer 0, each scaled to its own range.", nf),
		Data: viz.PNGBytes(viz.Filters(w, nf, shape, zoom))})
	n := min(32, set.X.Rows)
	orig := gather(set.X, pick(n, set.X.Rows, true, seed))
	if rec, err := dbnUpDown(d, orig); err == nil {
		g := greys(first, orig, rec)
		r.Figures = append(r.Figures, viz.Figure{Title: "Reconstructions", Caption: fmt.Sprintf("%d random training samples and their means after one pass up to the top level and one down.", n),
			Data: viz.PNGBytes(viz.ReconstructionsAs(clamp01(g[0]), clamp01(g[1]), shape, zoom, "up and down"))})
	}
	if d.Labels == 0 || set.Labels == nil || first.VisUnits != rbm.Bernoulli {
		return r, nil
	}
	const per = 8
	var images [][]float32
	for y := range d.Labels {
		start, err := dreamStart(set, y, per, seed+uint64(y))
		if err != nil {
			continue
		}
		x, err := d.DreamFrom(ctx, y, start, per, dbnReportSteps, seed+uint64(y), nil)
		if err != nil {
			return nil, err
		}
		for i := range x.Rows {
			images = append(images, x.Row(i))
		}
	}
	if len(images) > 0 {
		r.Figures = append(r.Figures, viz.Figure{Title: "Dreams", Caption: fmt.Sprintf("One row per label: Gibbs chains in the top RBM with the label clamped, started at training samples of that class, after %d steps, then one pass down.", dbnReportSteps),
			Data: viz.PNGBytes(viz.Grid(images, shape, per, zoom))})
	}
	return r, nil
}
