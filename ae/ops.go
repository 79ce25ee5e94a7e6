package ae

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/harmonium-ml/harmonium/mat32"
	"github.com/harmonium-ml/harmonium/nn"
)

// ErrNotVAE is returned by the operations that only a variational
// autoencoder defines (ELBO, LogLikelihood, Sample).
var ErrNotVAE = errors.New("only a variational autoencoder (vae) defines this")

// DefaultConfig returns the training recipe of every kind: Adam (PyTorch's
// betas) at learning rate 1e-3 and minibatches of 128, for the given
// number of epochs.
func DefaultConfig(epochs int, seed uint64) nn.Config {
	return nn.Config{Epochs: epochs, BatchSize: 128, LearningRate: 1e-3, Optimizer: nn.NewAdam(), Seed: seed}
}

// CheckData reports whether the rows of x suit the model: their width, and
// for Bernoulli outputs values in [0, 1].
func (m *Model) CheckData(x *mat32.Dense) error {
	if x == nil || x.Rows == 0 {
		return errors.New("no samples")
	}
	if x.Cols != m.Inputs() {
		return fmt.Errorf("the samples have %d values, the autoencoder takes %d", x.Cols, m.Inputs())
	}
	for i, v := range x.Data {
		switch {
		case math.IsNaN(float64(v)) || math.IsInf(float64(v), 0):
			return fmt.Errorf("sample %d, value %d is %v", i/x.Cols+1, i%x.Cols+1, v)
		case m.Output == Bernoulli && (v < 0 || v > 1):
			return fmt.Errorf("sample %d, value %d is %v, outside [0, 1], which Bernoulli outputs need (use Gaussian outputs, or scale the data)", i/x.Cols+1, i%x.Cols+1, v)
		}
	}
	return nil
}

// Fit trains the model to reconstruct the rows of x (validating on the rows
// of val after each epoch when val is not nil) with the model's loss; see
// nn.Trainer.Fit. To resume, pass a trainer from NewTrainer with its Epoch
// set.
func (m *Model) Fit(ctx context.Context, t *nn.Trainer, x, val *mat32.Dense, hooks nn.Hooks) ([]nn.EpochStats, error) {
	if err := m.CheckData(x); err != nil {
		return nil, fmt.Errorf("training data: %w", err)
	}
	var vd nn.Data
	if val != nil && val.Rows > 0 {
		if err := m.CheckData(val); err != nil {
			return nil, fmt.Errorf("validation data: %w", err)
		}
		vd = nn.Data{X: val, Targets: nn.Targets{Values: val}}
	}
	return t.Fit(ctx, nn.Data{X: x, Targets: nn.Targets{Values: x}}, vd, hooks)
}

// NewTrainer returns a trainer of the model with cfg, the loss set to the
// model's.
func (m *Model) NewTrainer(cfg nn.Config) (*nn.Trainer, error) {
	cfg.Loss = m.Loss()
	return nn.NewTrainer(m.Net, cfg)
}

// sampler returns the model's GaussianSample layer (nil unless a VAE).
func (m *Model) sampler() *nn.GaussianSampleLayer {
	s, _ := m.Net.Layers()[m.Code].(*nn.GaussianSampleLayer)
	return s
}

// deterministic runs f with a VAE's code fixed to its mean.
func (m *Model) deterministic(f func()) {
	if s := m.sampler(); s != nil {
		old := s.Mean
		s.Mean = true
		defer func() { s.Mean = old }()
	}
	f()
}

// Features returns the code of every row of x (a VAE's: the mean of
// q(z|x)), without corruption.
func (m *Model) Features(x *mat32.Dense) *mat32.Dense {
	var f *mat32.Dense
	m.deterministic(func() { f = m.Net.Features(x, m.Code) })
	return f
}

// Reconstruct returns the reconstruction of every row of x: the output
// means (sigmoid of the logits for Bernoulli outputs), decoding a VAE's
// mean code, without corruption.
func (m *Model) Reconstruct(x *mat32.Dense) *mat32.Dense {
	var r *mat32.Dense
	m.deterministic(func() { r = m.Net.Outputs(x) })
	m.means(r)
	return r
}

// means turns outputs into output means in place.
func (m *Model) means(out *mat32.Dense) {
	if m.Output == Bernoulli {
		mat32.SigmoidBias(out, make([]float32, out.Cols))
	}
}

// ReconError returns the mean over the rows of x of the summed squared
// difference between a sample and its reconstruction (Reconstruct), the
// measure harmonium reports for RBMs.
func (m *Model) ReconError(x *mat32.Dense) float64 {
	if x.Rows == 0 {
		return 0
	}
	r := m.Reconstruct(x)
	var sum float64
	for i, v := range x.Data {
		d := float64(v) - float64(r.Data[i])
		sum += d * d
	}
	return sum / float64(x.Rows)
}

// ELBO returns a VAE's evidence lower bound on log p(x), in nats, averaged
// over the rows of x, with one sample of z per row drawn from a stream of
// seed: the expected log-likelihood of x under the decoder minus the KL
// divergence of q(z|x) from the prior. Gaussian outputs have unit
// variance.
func (m *Model) ELBO(x *mat32.Dense, seed uint64) (float64, error) {
	s := m.sampler()
	if s == nil {
		return 0, ErrNotVAE
	}
	s.Seed(seed, 0xe1b0)
	loss, _, err := m.Net.Evaluate(nn.Data{X: x, Targets: nn.Targets{Values: x}}, m.Loss())
	if err != nil {
		return 0, err
	}
	return -loss - m.gaussConst(), nil
}

// gaussConst is the constant the squared-error loss leaves out of a
// unit-variance Gaussian's negative log-density: D/2 log(2 pi).
func (m *Model) gaussConst() float64 {
	if m.Output != Gaussian {
		return 0
	}
	return float64(m.Inputs()) / 2 * math.Log(2*math.Pi)
}

// decoder returns the layers after the code as a network of their own
// (sharing the model's layers).
func (m *Model) decoder() *nn.Network {
	return nn.New(m.Net.Layers()[m.Code+1:]...)
}

// Sample draws n samples from a VAE's generative model: codes from the
// standard normal prior, decoded to output means.
func (m *Model) Sample(n int, seed uint64) (*mat32.Dense, error) {
	s := m.sampler()
	if s == nil {
		return nil, ErrNotVAE
	}
	z := mat32.New(n, s.Units)
	mat32.NewRNG(seed, 0x5a3b).Normal(z.Data)
	return m.Decode(z), nil
}

// Decode returns the output means for the codes, the rows of z (VAE only;
// it panics if z's width is not the code size).
func (m *Model) Decode(z *mat32.Dense) *mat32.Dense {
	out := m.decoder().Outputs(z)
	m.means(out)
	return out
}

// Grid returns the output means decoded from a side x side grid of codes
// spanning the prior of a VAE with a 2-D code: the codes are the normal
// quantiles of evenly spaced probabilities in (0, 1), row by row (the
// manifold pictures of Kingma & Welling 2014).
func (m *Model) Grid(side int) (*mat32.Dense, error) {
	s := m.sampler()
	if s == nil {
		return nil, ErrNotVAE
	}
	if s.Units != 2 {
		return nil, fmt.Errorf("a manifold grid needs a 2-value code; this VAE's has %d", s.Units)
	}
	z := mat32.New(side*side, 2)
	q := func(i int) float32 { return float32(math.Sqrt2 * math.Erfinv(2*(float64(i)+0.5)/float64(side)-1)) }
	for i := range side {
		for j := range side {
			z.Set(i*side+j, 0, q(j))
			z.Set(i*side+j, 1, -q(i))
		}
	}
	return m.Decode(z), nil
}
