package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/harmonium-ml/harmonium/dataset"
	"github.com/harmonium-ml/harmonium/mat32"
	"github.com/harmonium-ml/harmonium/rbm"
	"github.com/harmonium-ml/harmonium/viz"
)

// epochRecord is what train reports of one epoch.
type epochRecord struct {
	Epoch           int     `json:"epoch"`
	ReconError      float64 `json:"recon_error"`
	FreeEnergy      float64 `json:"free_energy,omitempty"`
	ValidReconError float64 `json:"validation_recon_error,omitempty"`
	ValidFreeEnergy float64 `json:"validation_free_energy,omitempty"`
	PLL             float64 `json:"pseudo_log_likelihood,omitempty"`
	FreeEnergyGap   float64 `json:"free_energy_gap,omitempty"`
	SwapRate        float64 `json:"swap_rate,omitempty"` // parallel tempering's accepted swaps
	Seconds         float64 `json:"seconds"`
}

// historyMeta encodes the records for the model file's metadata, so that a
// resumed run can draw the whole curve.
func historyMeta(h []epochRecord) string {
	b, _, _ := marshalFinite(h) // numbers, null for any NaN or infinity: cannot fail
	return string(b)
}

func historyFromMeta(meta map[string]string) []epochRecord {
	var h []epochRecord
	if json.Unmarshal([]byte(meta["history"]), &h) != nil {
		return nil
	}
	return h
}

// curvePanels plots reconstruction error and free energy per epoch, for
// the training data and, when there is one, the validation set.
func curvePanels(h []epochRecord) []viz.Panel {
	var tr, va, ftr, fva, pll, gap []float64
	for _, r := range h {
		tr, ftr = append(tr, r.ReconError), append(ftr, r.FreeEnergy)
		if r.ValidReconError != 0 || r.ValidFreeEnergy != 0 {
			va, fva = append(va, r.ValidReconError), append(fva, r.ValidFreeEnergy)
		}
		if r.PLL != 0 {
			pll = append(pll, r.PLL)
		}
		if r.FreeEnergyGap != 0 {
			gap = append(gap, r.FreeEnergyGap)
		}
	}
	panels := []viz.Panel{
		{Title: "Reconstruction error", YLabel: "squared error per sample", Series: []viz.Series{{Name: "training", Y: tr}, {Name: "validation", Y: va}}},
		{Title: "Free energy", YLabel: "mean F(v)", Series: []viz.Series{{Name: "training", Y: ftr}, {Name: "validation", Y: fva}}},
	}
	if len(pll) > 0 {
		panels = append(panels, viz.Panel{Title: "Pseudo-log-likelihood", YLabel: "per feature (nats)", Series: []viz.Series{{Name: "training", Y: pll}}})
	}
	if len(gap) > 0 {
		panels = append(panels, viz.Panel{Title: "Free-energy gap", YLabel: "validation - training", Series: []viz.Series{{Name: "gap", Y: gap}}})
	}
	return panels
}

// buildReport draws the report's figures and tables.
func buildReport(m *rbm.RBM, show *dataset.Set, h []epochRecord, cfg rbm.Config, method string, all, valid *dataset.Set,
	elapsed time.Duration, shape viz.Shape, zoom int, seed uint64) *viz.Report {
	r := &viz.Report{Title: fmt.Sprintf("harmonium: %d-%d RBM trained by %s", m.Visible(), m.Hidden(), method)}
	r.Settings = [][2]string{
		{"data", all.Source}, {"data shape", all.Shape()}, {"method", method},
		{"hidden units", fmt.Sprint(m.Hidden())}, {"epochs", fmt.Sprint(cfg.Epochs)}, {"batch size", fmt.Sprint(cfg.BatchSize)},
		{"learning rate", fmt.Sprintf("%g (decay %g)", cfg.LearningRate, cfg.LRDecay)},
		{"momentum", fmt.Sprintf("%g (%g for the first %d epochs)", cfg.Momentum, min(cfg.InitialMomentum, cfg.Momentum), cfg.MomentumWarmup)},
		{"weight decay", fmt.Sprint(cfg.WeightDecay)}, {"sparsity target", fmt.Sprint(cfg.SparsityTarget)},
		{"seed", fmt.Sprint(cfg.Seed)}, {"products", mat32.Backend()},
	}
	if len(h) > 0 {
		last := h[len(h)-1]
		r.Metrics = [][2]string{
			{"training reconstruction error", fmt.Sprintf("%.4f", last.ReconError)},
			{"training free energy", fmt.Sprintf("%.3f", last.FreeEnergy)},
		}
		if valid != nil {
			r.Metrics = append(r.Metrics, [2]string{"validation reconstruction error", fmt.Sprintf("%.4f (%d samples)", last.ValidReconError, valid.X.Rows)},
				[2]string{"validation free energy", fmt.Sprintf("%.3f", last.ValidFreeEnergy)})
		}
	}
	r.Metrics = append(r.Metrics, [2]string{"time taken", fmt.Sprintf("%s (%.2f s per epoch)", fmtDuration(elapsed), elapsed.Seconds()/float64(max(len(h), 1)))})

	if curve, err := viz.Curves(curvePanels(h), "png"); err == nil {
		r.Figures = append(r.Figures, viz.Figure{Title: "Training curves", Caption: "Reconstruction error and mean free energy after each epoch.", Data: curve})
	}
	nf := min(100, m.Hidden())
	r.Figures = append(r.Figures, viz.Figure{Title: "Filters", Caption: fmt.Sprintf("Incoming weights of the first %d hidden units, each scaled to its own range.", nf),
		Data: viz.PNGBytes(viz.Filters(m.W, nf, shape, zoom))})
	n := min(32, show.X.Rows)
	orig := gather(show.X, pick(n, show.X.Rows, true, seed))
	rec := m.Reconstruct(orig, mat32.NewRNG(seed, 3))
	g := greys(m, orig, rec)
	r.Figures = append(r.Figures, viz.Figure{Title: "Reconstructions", Caption: fmt.Sprintf("%d random samples of %s and p(v|h) with h sampled from p(h|v).", n, show.Source),
		Data: viz.PNGBytes(viz.Reconstructions(g[0], g[1], shape, zoom))})
	chains := min(8, show.X.Rows)
	rng := mat32.NewRNG(seed, 4)
	v := m.InitChains(chains, gather(show.X, pick(chains, show.X.Rows, true, seed+1)), rng)
	frames, at := []*mat32.Dense{v.Clone()}, []int{0}
	for _, s := range sampleSteps {
		frames, at = append(frames, m.Gibbs(v, s-at[len(at)-1], rng)), append(at, s)
	}
	caption := fmt.Sprintf("Gibbs chains started at samples of the data, one per row, after %v steps.", sampleSteps)
	if mean := meanOf(frames[len(frames)-1].Data); m.VisUnits == rbm.Bernoulli && (mean < 0.02 || mean > 0.98) {
		caption += fmt.Sprintf(" The chains fade to a %s picture (mean %.3f): a model trained by CD-k learns to reconstruct the data near where its chains start but has not shaped the rest of its distribution. The short chains on the left show what the model keeps of each digit; for samples of the model itself, train with --pcd 1 (persistent chains).", map[bool]string{true: "blank", false: "dark"}[mean < 0.02], mean)
	}
	r.Figures = append(r.Figures, viz.Figure{Title: "Samples", Caption: caption, Data: viz.PNGBytes(viz.Samples(greys(m, frames...), at, shape, zoom))})
	return r
}

// sampleSteps are the chain lengths the report shows: short ones, where
// chains of CD-trained models still hold digits, up to long ones.
var sampleSteps = []int{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000}

func meanOf(x []float32) float64 {
	s := 0.0
	for _, v := range x {
		s += float64(v)
	}
	return s / float64(max(len(x), 1))
}
