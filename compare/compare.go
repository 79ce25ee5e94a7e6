// Package compare measures representation learners side by side on one
// data set: RBMs, DBNs and autoencoders. For each it reports the test
// reconstruction error, the test log-likelihood where the model defines one
// (AIS for an RBM, importance sampling for a VAE), the accuracy of a
// multinomial logistic regression trained on its features, its training
// time and its number of parameters.
package compare

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/harmonium-ml/harmonium/ae"
	"github.com/harmonium-ml/harmonium/dbn"
	"github.com/harmonium-ml/harmonium/mat32"
	"github.com/harmonium-ml/harmonium/nn"
	"github.com/harmonium-ml/harmonium/rbm"
)

// Subject is one model under comparison, seen through what the comparison
// needs of it.
type Subject struct {
	Name         string  // how the user named it (its file)
	Kind         string  // rbm, dbn, ae, dae, vae, conv, deep
	Inputs       int     // values per sample it takes
	Params       int     // number of parameters
	TrainSeconds float64 // from its file's metadata; NaN if unknown
	// Features returns the representation of every row: an RBM's hidden
	// means, a DBN's top-level means, an autoencoder's code.
	Features func(x *mat32.Dense) *mat32.Dense
	// Reconstruct returns the reconstruction of every row.
	Reconstruct func(x *mat32.Dense) *mat32.Dense
	// ReconNote says how Reconstruct works, for the table's footnote.
	ReconNote string
	// LogLikelihood, when not nil, returns the mean log-likelihood of the
	// binary rows of x in nats and how it was estimated.
	LogLikelihood func(ctx context.Context, x *mat32.Dense) (ll float64, method string, err error)
}

// Options are the estimators' settings.
type Options struct {
	Seed        uint64
	AISRuns     int // AIS runs for RBMs
	AISBetas    int // AIS temperatures for RBMs
	IWAESamples int // importance samples per row for VAEs
	// LogisticEpochs is how many passes the logistic regression makes over
	// the training features (Adam, minibatches of 100).
	LogisticEpochs int
}

// DefaultOptions are AIS with 100 runs and 14,500 temperatures (Salakhutdinov
// & Murray 2008), 1,000 importance samples per row, and 30 epochs of logistic
// regression.
func DefaultOptions() Options {
	return Options{Seed: 1, AISRuns: 100, AISBetas: 14500, IWAESamples: 1000, LogisticEpochs: 30}
}

// FromRBM describes an RBM: features p(h|v), reconstructions p(v|h) with h
// sampled, and the AIS log-likelihood for binary visible and hidden units.
func FromRBM(name string, m *rbm.RBM, trainSeconds float64, o Options) Subject {
	s := Subject{Name: name, Kind: "rbm", Inputs: m.Visible(), Params: len(m.W.Data) + len(m.VisBias) + len(m.HidBias), TrainSeconds: trainSeconds,
		Features:    m.Transform,
		Reconstruct: func(x *mat32.Dense) *mat32.Dense { return m.Reconstruct(x, mat32.NewRNG(o.Seed, 0)) },
		ReconNote:   "p(v|h), h sampled from p(h|v)"}
	if m.VisUnits == rbm.Bernoulli && m.HidUnits == rbm.Bernoulli {
		s.LogLikelihood = func(ctx context.Context, x *mat32.Dense) (float64, string, error) {
			cfg, _ := m.DefaultAISBase(x)
			cfg.Runs, cfg.Betas, cfg.Seed = o.AISRuns, rbm.DefaultBetas(o.AISBetas), o.Seed
			r, err := m.AIS(ctx, cfg, nil)
			if err != nil {
				return 0, "", err
			}
			return -m.MeanFreeEnergy(x) - r.LogZ, fmt.Sprintf("AIS, %d runs x %d temperatures", o.AISRuns, o.AISBetas), nil
		}
	}
	return s
}

// FromDBN describes a DBN: features its top-level means (the label group
// takes no part), reconstructions one mean-field pass up and one down.
func FromDBN(name string, d *dbn.DBN, trainSeconds float64) Subject {
	top := len(d.Layers)
	params := 0
	for _, l := range d.Layers {
		params += len(l.W.Data) + len(l.VisBias) + len(l.HidBias)
	}
	return Subject{Name: name, Kind: "dbn", Inputs: d.Visible(), Params: params, TrainSeconds: trainSeconds,
		Features: func(x *mat32.Dense) *mat32.Dense { f, _ := d.Transform(x, top); return f },
		Reconstruct: func(x *mat32.Dense) *mat32.Dense {
			f, _ := d.Transform(x, top)
			r, _ := d.Down(f, top, nil)
			return r
		},
		ReconNote: "means up to the top level and down again"}
}

// FromAE describes an autoencoder: features its code (a VAE's mean code),
// reconstructions its output means, and for a VAE the importance-sampled
// log-likelihood.
func FromAE(name string, m *ae.Model, trainSeconds float64, o Options) Subject {
	s := Subject{Name: name, Kind: m.Kind, Inputs: m.Inputs(), Params: m.Params(), TrainSeconds: trainSeconds,
		Features: m.Features, Reconstruct: m.Reconstruct, ReconNote: "output means, no corruption"}
	if m.Kind == ae.VAE {
		s.ReconNote = "output means of the mean code"
		s.LogLikelihood = func(ctx context.Context, x *mat32.Dense) (float64, string, error) {
			ll, err := m.LogLikelihood(ctx, x, o.IWAESamples, o.Seed, nil)
			return ll, fmt.Sprintf("importance sampling, %d codes", o.IWAESamples), err
		}
	}
	return s
}

// Data are samples with their class labels.
type Data struct {
	X      *mat32.Dense
	Labels []int
}

// Row is the comparison's result for one subject. Figures a subject does
// not define are NaN.
type Row struct {
	Name, Kind      string
	Params          int
	TrainSeconds    float64
	ReconError      float64 // mean over test rows of the summed squared error
	LogLikelihood   float64 // nats per test row, on the binarised test rows
	LLMethod        string
	Accuracy        float64 // of logistic regression on the features, on the test rows
	Features        int     // features per sample
	MeasureSeconds  float64 // the time the measurements took
	Reconstructions *mat32.Dense
}

// ErrInputs is wrapped by Run's error for a subject that does not take the
// data's samples.
var ErrInputs = errors.New("model and data sizes differ")

// Check reports the first subject whose input size is not the data's.
func Check(subjects []Subject, cols int) error {
	for _, s := range subjects {
		if s.Inputs != cols {
			return fmt.Errorf("%w: %s takes %d values per sample, the data have %d", ErrInputs, s.Name, s.Inputs, cols)
		}
	}
	return nil
}

// Progress is told what is being measured.
type Progress func(subject, step string)

// Run measures every subject: reconstruction error on test, log-likelihood
// on binary (the binarised test rows), logistic regression trained on the
// features of train and scored on those of test. show selects test rows
// whose reconstructions each Row keeps (for pictures).
func Run(ctx context.Context, subjects []Subject, train, test Data, binary *mat32.Dense, show []int, o Options, progress Progress) ([]Row, error) {
	if err := Check(subjects, test.X.Cols); err != nil {
		return nil, err
	}
	if progress == nil {
		progress = func(string, string) {}
	}
	classes := 0
	for _, y := range append(append([]int(nil), train.Labels...), test.Labels...) {
		classes = max(classes, y+1)
	}
	var rows []Row
	for _, s := range subjects {
		r, err := measure(ctx, s, train, test, binary, show, classes, o, progress)
		if err != nil {
			return rows, fmt.Errorf("%s: %w", s.Name, err)
		}
		rows = append(rows, r)
	}
	return rows, nil
}

func measure(ctx context.Context, s Subject, train, test Data, binary *mat32.Dense, show []int, classes int, o Options, progress Progress) (Row, error) {
	r := Row{Name: s.Name, Kind: s.Kind, Params: s.Params, TrainSeconds: s.TrainSeconds, LogLikelihood: math.NaN(), Accuracy: math.NaN()}
	progress(s.Name, "reconstruction error")
	rec := s.Reconstruct(test.X)
	var sum float64
	for i, v := range test.X.Data {
		d := float64(v) - float64(rec.Data[i])
		sum += d * d
	}
	r.ReconError = sum / float64(max(test.X.Rows, 1))
	r.Reconstructions = mat32.New(len(show), rec.Cols)
	for i, k := range show {
		copy(r.Reconstructions.Row(i), rec.Row(k))
	}
	if s.LogLikelihood != nil && binary != nil {
		progress(s.Name, "log-likelihood")
		ll, method, err := s.LogLikelihood(ctx, binary)
		if err != nil {
			return r, fmt.Errorf("log-likelihood: %w", err)
		}
		r.LogLikelihood, r.LLMethod = ll, method
	}
	if train.Labels != nil && test.Labels != nil && classes > 1 {
		progress(s.Name, "features and logistic regression")
		ftr, fte := s.Features(train.X), s.Features(test.X)
		r.Features = ftr.Cols
		acc, err := LogisticAccuracy(ctx, Data{ftr, train.Labels}, Data{fte, test.Labels}, classes, o.LogisticEpochs, o.Seed)
		if err != nil {
			return r, fmt.Errorf("logistic regression: %w", err)
		}
		r.Accuracy = acc
	}
	return r, ctx.Err()
}

// LogisticAccuracy trains a multinomial logistic regression on the
// standardised features of train (each feature scaled by the mean and
// standard deviation of train) with Adam (learning rate 0.001, minibatches
// of 100, L2 penalty 1e-4) for the given epochs, or more on small data so
// that it takes at least 3,000 steps, and returns the fraction of test
// classified right.
func LogisticAccuracy(ctx context.Context, train, test Data, classes, epochs int, seed uint64) (float64, error) {
	mean, std := moments(train.X)
	tr, te := standardise(train.X, mean, std), standardise(test.X, mean, std)
	net := nn.New(nn.Dense(tr.Cols, classes, nn.Xavier))
	net.Init(seed)
	const batch, minSteps = 100, 3000
	epochs = max(epochs, minSteps/max(1, (tr.Rows+batch-1)/batch))
	cfg := nn.Config{Epochs: epochs, BatchSize: batch, LearningRate: 1e-3, L2: 1e-4, Seed: seed}
	if _, err := net.Fit(ctx, nn.Data{X: tr, Targets: nn.Targets{Labels: train.Labels}}, nn.Data{}, cfg, nn.Hooks{}); err != nil {
		return 0, err
	}
	_, acc, err := net.Evaluate(nn.Data{X: te, Targets: nn.Targets{Labels: test.Labels}}, nn.SoftmaxCrossEntropy{})
	return acc, err
}

// moments returns the mean and standard deviation of every column (1 for
// a constant column).
func moments(x *mat32.Dense) (mean, std []float64) {
	mean, std = make([]float64, x.Cols), make([]float64, x.Cols)
	for i := range x.Rows {
		for j, v := range x.Row(i) {
			mean[j] += float64(v)
		}
	}
	n := float64(max(x.Rows, 1))
	for j := range mean {
		mean[j] /= n
	}
	for i := range x.Rows {
		for j, v := range x.Row(i) {
			d := float64(v) - mean[j]
			std[j] += d * d
		}
	}
	for j := range std {
		std[j] = math.Sqrt(std[j] / n)
		if std[j] < 1e-8 {
			std[j] = 1
		}
	}
	return mean, std
}

func standardise(x *mat32.Dense, mean, std []float64) *mat32.Dense {
	out := mat32.New(x.Rows, x.Cols)
	for i := range x.Rows {
		src, dst := x.Row(i), out.Row(i)
		for j, v := range src {
			dst[j] = float32((float64(v) - mean[j]) / std[j])
		}
	}
	return out
}
