package rbm

import (
	"fmt"
	"math"

	"github.com/harmonium-ml/harmonium/mat32"
)

// Average is the running average of a model's parameters over the updates
// of training (Config.Average): weights, biases and, for a model with
// variances, log variances.
type Average struct {
	W                        *mat32.Dense
	VisBias, HidBias, LogVar []float32
}

// newAverage starts an average at m's parameters.
func newAverage(m *RBM) *Average {
	return &Average{W: m.W.Clone(), VisBias: clone32(m.VisBias), HidBias: clone32(m.HidBias), LogVar: clone32(m.LogVar)}
}

// params lists the parameter vectors of a model and of an average in the
// same order.
func (a *Average) params() [4][]float32 {
	return [4][]float32{a.W.Data, a.VisBias, a.HidBias, a.LogVar}
}

func modelParams(m *RBM) [4][]float32 { return [4][]float32{m.W.Data, m.VisBias, m.HidBias, m.LogVar} }

// updateAverage folds the model's parameters after an update into the
// running average: avg = d*avg + (1-d)*params, with d = Config.Average.
func (t *Trainer) updateAverage() {
	d := float32(t.Config.Average)
	if d == 0 {
		return
	}
	if t.State.Average == nil {
		t.State.Average = newAverage(t.Model)
		return
	}
	if t.blendRange == nil {
		// Made once: a closure per update would allocate.
		t.blendRange = func(i0, i1 int) { blend(t.blendDst[i0:i1], t.blendSrc[i0:i1], float32(t.Config.Average)) }
	}
	src := modelParams(t.Model)
	for k, dst := range t.State.Average.params() {
		t.blendDst, t.blendSrc = dst, src[k]
		mat32.ParallelRows(len(dst), 1, t.blendRange)
	}
	t.blendDst, t.blendSrc = nil, nil
}

// blend sets dst = d*dst + (1-d)*src.
func blend(dst, src []float32, d float32) {
	e := 1 - d
	src = src[:len(dst)]
	for i, x := range dst {
		dst[i] = d*x + e*src[i]
	}
}

// swapAverage exchanges the model's parameters with the average's (their
// storage, so that every view of the model's weights follows).
func (t *Trainer) swapAverage() {
	a, m := t.State.Average, t.Model
	m.W.Data, a.W.Data = a.W.Data, m.W.Data
	m.VisBias, a.VisBias = a.VisBias, m.VisBias
	m.HidBias, a.HidBias = a.HidBias, m.HidBias
	m.LogVar, a.LogVar = a.LogVar, m.LogVar
	t.averaged = !t.averaged
}

// Method names the training algorithm for people: "CD-k", "PCD-k" or
// "PT-k (K temperatures)", with the horizon of the parameter averaging
// when there is one.
func (c Config) Method() string {
	m := fmt.Sprintf("CD-%d", c.Steps)
	switch {
	case c.Tempering > 1:
		m = fmt.Sprintf("PT-%d (%d temperatures)", c.Steps, c.Tempering)
	case c.Persistent:
		m = fmt.Sprintf("PCD-%d", c.Steps)
	}
	if c.Average > 0 {
		m += fmt.Sprintf(" averaged over about %.0f updates", math.Round(1/(1-c.Average)))
	}
	return m
}
