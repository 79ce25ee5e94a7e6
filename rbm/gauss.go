package rbm

import (
	"context"
	"fmt"
	"math"

	"github.com/harmonium-ml/harmonium/mat32"
)

// This file holds the estimators of Gaussian-Bernoulli RBMs: exact log Z by
// enumerating the hidden states, and the pieces AIS needs.

// gaussLogPartition returns log Z of a model with Gaussian visible and
// Bernoulli hidden units by enumerating the 2^Hidden hidden states and
// integrating the visible units out; fast scores blocks of states with
// float32 products, otherwise every term is computed in float64.
func (m *RBM) gaussLogPartition(fast bool) (float64, error) {
	nv, nh := m.Visible(), m.Hidden()
	if err := m.CanEnumerate(); err != nil {
		return 0, err
	}
	prec := make([]float64, nv)
	base := 0.0
	for i := range prec {
		prec[i] = m.precision(i)
		base += 0.5 * math.Log(2*math.Pi/prec[i])
	}
	// score returns log of the unnormalised marginal of a hidden state s
	// whose visible means minus the bias are x = (Wh)_i.
	score := func(s []float32, x func(i int) float64) float64 {
		t := 0.0
		for j, sj := range s {
			if sj != 0 {
				t += float64(m.HidBias[j])
			}
		}
		for i, p := range prec {
			b := float64(m.VisBias[i])
			a := b + x(i)
			t += 0.5 * (a*a - b*b) * p
		}
		return t
	}
	states := 1 << nh
	block := min(states, logZBlock)
	total := newLogSum()
	sm := mat32.New(block, nh)
	xm := mat32.New(block, nv)
	for start := 0; start < states; start += block {
		rows := min(block, states-start)
		sc, xc := sm.Slice(0, rows), xm.Slice(0, rows)
		for r := 0; r < rows; r++ {
			row := sc.Row(r)
			for j := range row {
				row[j] = float32((start + r) >> j & 1)
			}
		}
		if fast {
			mat32.Gemm(false, true, 1, sc, m.W, 0, xc)
		}
		for r := 0; r < rows; r++ {
			s := sc.Row(r)
			xr := xc.Row(r)
			total.add(score(s, func(i int) float64 {
				if fast {
					return float64(xr[i])
				}
				a := 0.0
				for j, sj := range s {
					if sj != 0 {
						a += float64(m.W.At(i, j))
					}
				}
				return a
			}))
		}
	}
	return base + total.value(), nil
}

// DefaultAISBase returns the AIS configuration's base model for m: for
// Bernoulli visible units base-rate biases from the training data's mean
// the model file keeps, for Gaussian ones independent Gaussians with the
// training data's mean and standard deviation. When the model has no such
// statistics they are fitted to data (which must be what the model sees:
// binary for Bernoulli units, standardised when the model standardises).
// The string says where the base model came from.
func (m *RBM) DefaultAISBase(data *mat32.Dense) (AISConfig, string) {
	var cfg AISConfig
	from := "the training data's statistics"
	if m.VisUnits != Gaussian {
		if m.VisMean != nil {
			cfg.BaseBias = BaseRateBiases(nil, m.VisMean)
		} else {
			cfg.BaseBias, from = BaseRateBiases(data, nil), "the evaluation data (the model file has no training mean)"
		}
		return cfg, from
	}
	mean, std := m.VisMean, m.VisStd
	if mean == nil || std == nil {
		mean = make([]float32, data.Cols)
		mat32.ColumnSums(mean, 1/float32(max(data.Rows, 1)), data)
		std, from = columnStd(data, mean), "the evaluation data (the model file has no training statistics)"
	}
	cfg.BaseMean = mean
	cfg.BaseStd = make([]float32, len(std))
	for i, s := range std {
		cfg.BaseStd[i] = max(s, minBaseStd)
	}
	return cfg, from
}

// minBaseStd keeps the base model of AIS a proper density on features that
// are constant in the training data.
const minBaseStd = 0.05

// aisGaussian is AIS for Gaussian visible and Bernoulli hidden units, from
// independent Gaussians N(BaseMean, BaseStd^2) to m through the
// distributions p_k(v,h) ~ exp(-(1-beta_k) E_base(v) - beta_k E(v,h)). At
// inverse temperature beta, v given h is Gaussian with precision
// (1-beta)/s^2 + beta/sigma^2 and the precision-weighted mean of the two
// models' means.
func (m *RBM) aisGaussian(ctx context.Context, cfg AISConfig, progress func(done, total int)) (AISResult, error) {
	nv, nh := m.Visible(), m.Hidden()
	if len(cfg.BaseMean) != nv || len(cfg.BaseStd) != nv {
		return AISResult{}, fmt.Errorf("AIS base model has %d means and %d deviations, the model %d visible units", len(cfg.BaseMean), len(cfg.BaseStd), nv)
	}
	bp := make([]float64, nv) // base precisions
	prec := make([]float64, nv)
	res := AISResult{LogWeight: make([]float64, cfg.Runs)}
	for i, s := range cfg.BaseStd {
		if !(s > 0) || math.IsInf(float64(s), 0) {
			return AISResult{}, fmt.Errorf("AIS base model: deviation %g of unit %d is not positive and finite", s, i+1)
		}
		bp[i] = 1 / (float64(s) * float64(s))
		prec[i] = m.precision(i)
		res.LogZBase += 0.5 * math.Log(2*math.Pi/bp[i])
	}
	res.LogZBase += float64(nh) * math.Ln2

	rng := mat32.NewRNG(cfg.Seed, 0xA15)
	v := mat32.New(cfg.Runs, nv)
	mean := mat32.New(cfg.Runs, nv)
	for r := 0; r < cfg.Runs; r++ {
		copy(mean.Row(r), cfg.BaseMean)
	}
	mat32.GaussianSample(v, mean, cfg.BaseStd, rng)
	w := m.upWeights()
	x := mat32.New(cfg.Runs, nh)
	h := mat32.New(cfg.Runs, nh)
	std := make([]float32, nv)
	betas := cfg.Betas
	for k := 1; k < len(betas); k++ {
		if err := aisProgress(ctx, k, len(betas)-1, progress); err != nil {
			return res, err
		}
		bk, bpr := betas[k], betas[k-1]
		// The visible terms of log p*_k(v) - log p*_{k-1}(v).
		for r := range cfg.Runs {
			d := 0.0
			for i, vi := range v.Row(r) {
				a := float64(vi) - float64(m.VisBias[i])
				c := float64(vi) - float64(cfg.BaseMean[i])
				d += 0.5 * (a*a*prec[i] - c*c*bp[i])
			}
			res.LogWeight[r] -= (bk - bpr) * d
		}
		mat32.Gemm(false, false, 1, v, w, 0, x)
		mat32.AISHidden(x, m.HidBias, float32(bk), float32(bpr), h, rng, res.LogWeight)
		// v | h at bk.
		mat32.Gemm(false, true, 1, h, m.W, 0, mean)
		for i := range std {
			p := (1-bk)*bp[i] + bk*prec[i]
			std[i] = float32(1 / math.Sqrt(p))
		}
		for r := range cfg.Runs {
			row := mean.Row(r)
			for i, a := range row {
				num := (1-bk)*bp[i]*float64(cfg.BaseMean[i]) + bk*prec[i]*(float64(m.VisBias[i])+float64(a))
				row[i] = float32(num / ((1-bk)*bp[i] + bk*prec[i]))
			}
		}
		mat32.GaussianSample(v, mean, std, rng)
	}
	if progress != nil {
		progress(len(betas)-1, len(betas)-1)
	}
	res.finish(cfg.Runs)
	return res, nil
}
