package fit

import "math"

// Schedule gives the learning rate of each epoch from the base rate: the
// one place where harmonium's trainers (rbm, the DBN's labelled top, nn
// and the autoencoders) take their learning-rate schedules from.
type Schedule interface {
	// Rate returns the learning rate of epoch (0-based) for base rate base.
	Rate(base float64, epoch int) float64
}

// Rate returns s's rate for epoch, or base when s is nil.
func Rate(s Schedule, base float64, epoch int) float64 {
	if s == nil {
		return base
	}
	return s.Rate(base, epoch)
}

// Constant keeps the base rate.
type Constant struct{}

// Rate returns base.
func (Constant) Rate(base float64, _ int) float64 { return base }

// StepDecay multiplies the rate by Gamma every Every epochs:
// base * Gamma^floor(epoch/Every).
type StepDecay struct {
	Every int
	Gamma float64
}

// Rate returns base * Gamma^floor(epoch/Every).
func (s StepDecay) Rate(base float64, epoch int) float64 {
	return base * math.Pow(s.Gamma, float64(epoch/max(s.Every, 1)))
}

// ExpDecay multiplies the rate by Gamma every epoch: base * Gamma^epoch.
type ExpDecay struct{ Gamma float64 }

// Rate returns base * Gamma^epoch.
func (s ExpDecay) Rate(base float64, epoch int) float64 {
	return base * math.Pow(s.Gamma, float64(epoch))
}

// InverseDecay divides the rate by 1 + Decay*epoch, as Hinton's RBM
// recipes do (Decay 9/epochs ends the run at a tenth of the base rate).
type InverseDecay struct{ Decay float64 }

// Rate returns base / (1 + Decay*epoch).
func (s InverseDecay) Rate(base float64, epoch int) float64 {
	return base / (1 + s.Decay*float64(epoch))
}

// Momentum is a momentum schedule: Initial (capped at Final) for the first
// Warmup epochs, then Final, as in Hinton's guide to training RBMs (0.5,
// then 0.9 after 5 epochs).
type Momentum struct {
	Initial, Final float64
	Warmup         int
}

// At returns the momentum of epoch (0-based).
func (m Momentum) At(epoch int) float64 {
	if epoch < m.Warmup {
		return min(m.Initial, m.Final)
	}
	return m.Final
}
