package rbm

import (
	"errors"
	"fmt"
	"math"

	"github.com/harmonium-ml/harmonium/mat32"
)

// Units is the type of the units of one layer. It supplies the layer's
// conditional mean given its input, sampling, its terms of the energy and
// free energy, the check of data values, and its name in model files. The
// zero value is Bernoulli, so models built before unit types existed keep
// their meaning.
type Units uint8

const (
	// Bernoulli units are binary: p(u=1|x) = sigmoid(x). Data values are
	// probabilities in [0, 1].
	Bernoulli Units = iota
	// Gaussian units are real-valued with mean x and a standard deviation
	// sigma per unit: u|x ~ N(x, sigma^2). Gaussian hidden units (linear
	// units with unit-variance noise, as in the code layer of a deep
	// autoencoder) need Bernoulli visible units.
	Gaussian
	// ReLU units are noisy rectified linear units (Nair & Hinton 2010):
	// mean max(0, x), samples max(0, x + N(0, sigmoid(x))). Hidden layers
	// only. They approximate infinitely many binary units sharing weights
	// with biases shifted by -0.5, -1.5, ...; the free energy is that of
	// those units.
	ReLU
)

// ErrUnsupported is returned when an operation is not defined for a model's
// unit types (for example the pseudo-likelihood of Gaussian units).
var ErrUnsupported = errors.New("not supported for these unit types")

// String returns the name of the unit type as model files and the command
// line write it: bernoulli, gaussian or relu.
func (u Units) String() string {
	switch u {
	case Bernoulli:
		return "bernoulli"
	case Gaussian:
		return "gaussian"
	case ReLU:
		return "relu"
	}
	return fmt.Sprintf("units(%d)", uint8(u))
}

// ParseUnits returns the unit type named s.
func ParseUnits(s string) (Units, error) {
	for _, u := range []Units{Bernoulli, Gaussian, ReLU} {
		if s == u.String() {
			return u, nil
		}
	}
	return 0, fmt.Errorf("unknown unit type %q (want bernoulli, gaussian or relu)", s)
}

// checkValue reports why x cannot be the value of a visible unit of type
// u, or "" when it can.
func (u Units) checkValue(x float32) string {
	switch u {
	case Bernoulli:
		if !(x >= 0 && x <= 1) {
			return "is outside [0, 1] (Bernoulli visible units)"
		}
	default:
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return "is not a finite number"
		}
	}
	return ""
}

// activate turns the inputs x (without bias) into the layer's means in
// place, adding bias, and draws samples into s when s is not nil; std is
// the standard deviation of Gaussian units.
func (u Units) activate(x, s *mat32.Dense, bias, std []float32, rng *mat32.RNG) {
	switch u {
	case Bernoulli:
		if s == nil {
			mat32.SigmoidBias(x, bias)
		} else {
			mat32.SigmoidBiasSample(x, s, bias, rng)
		}
	case Gaussian:
		mat32.LinearBias(x, bias)
		if s != nil {
			mat32.GaussianSample(s, x, std, rng)
		}
	case ReLU:
		mat32.ReLUBiasSample(x, s, bias, rng)
	}
}

// sample draws the units' values given their means into s (s and mean may
// be the same matrix). ReLU units cannot be sampled from their means alone.
func (u Units) sample(s, mean *mat32.Dense, std []float32, rng *mat32.RNG) {
	switch u {
	case Bernoulli:
		mat32.Bernoulli(s, mean, rng)
	case Gaussian:
		mat32.GaussianSample(s, mean, std, rng)
	default:
		panic("rbm: " + u.String() + " units are sampled from their inputs")
	}
}

// reluFree returns the free-energy term of a ReLU unit with input x: the
// sum over k >= 1 of softplus(x - k + 0.5), truncated where the terms fall
// below 1e-17.
func reluFree(x float64) float64 {
	s := 0.0
	for k := 1; ; k++ {
		t := x - float64(k) + 0.5
		if t < -40 {
			return s
		}
		s += softplus(t)
	}
}

// hiddenFree returns the free-energy term -log sum_h e^{x h} of one hidden
// unit of type u with input x (bias included), as a positive number to be
// subtracted: softplus(x) for Bernoulli units.
func (u Units) hiddenFree(x float64) float64 {
	switch u {
	case ReLU:
		return reluFree(x)
	case Gaussian: // log of the integral of e^{xh - h^2/2} dh
		return 0.5*x*x + 0.5*math.Log(2*math.Pi)
	}
	return softplus(x)
}
