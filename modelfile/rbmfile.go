package modelfile

import (
	"math"
	"strconv"

	"github.com/harmonium-ml/harmonium/mat32"
	"github.com/harmonium-ml/harmonium/rbm"
)

// FormatRBM is the format tag of an RBM model file.
const FormatRBM = "harmonium.rbm/v1"

// Tensor names of an RBM model file, and the extra ones of a checkpoint.
const (
	tWeights  = "weights"      // F32 [visible, hidden]
	tVisBias  = "visible_bias" // F32 [visible]
	tHidBias  = "hidden_bias"  // F32 [hidden]
	tVelW     = "velocity_weights"
	tVelVis   = "velocity_visible_bias"
	tVelHid   = "velocity_hidden_bias"
	tHidMean  = "hidden_mean"
	tChains   = "persistent_chains"
	tVisMean  = "visible_mean" // F32 [visible], optional: the training data's mean
	tVisOff   = "visible_offset"
	tHidOff   = "hidden_offset"
	tLogVar   = "visible_log_var"  // F32 [visible], optional: log sigma^2 of Gaussian visible units
	tVisStd   = "visible_std"      // F32 [visible], optional: the training data's standard deviation
	tStdMean  = "standardize_mean" // F32 [visible], optional: the standardisation's means
	tStdScale = "standardize_std"  // F32 [visible], optional: the standardisation's divisors
	tVelLV    = "velocity_log_var" // checkpoint of a model with variances
	// Checkpoint of a run that averages its parameters (rbm.Config.Average).
	tAvgW     = "average_weights"
	tAvgVis   = "average_visible_bias"
	tAvgHid   = "average_hidden_bias"
	tAvgLV    = "average_log_var"
	metaEpoch = "epochs_done"
)

// SaveRBM writes m to path with the given metadata (training settings and the
// like); format, visible_units and hidden_units are set here. With a non-nil
// state the file is also a checkpoint that training can resume from.
func SaveRBM(path string, m *rbm.RBM, meta map[string]string, state *rbm.State) error {
	md := map[string]string{}
	for k, v := range meta {
		md[k] = v
	}
	md["format"] = FormatRBM
	md["visible_units"] = m.VisUnits.String()
	md["hidden_units"] = m.HidUnits.String()
	md["visible"] = strconv.Itoa(m.Visible())
	md["hidden"] = strconv.Itoa(m.Hidden())
	nv, nh := m.Visible(), m.Hidden()
	ts := []Tensor{
		{Name: tWeights, Shape: []int{nv, nh}, Data: m.W.Data},
		{Name: tVisBias, Shape: []int{nv}, Data: m.VisBias},
		{Name: tHidBias, Shape: []int{nh}, Data: m.HidBias},
	}
	for _, o := range []struct {
		name string
		data []float32
	}{{tVisMean, m.VisMean}, {tVisStd, m.VisStd}, {tLogVar, m.LogVar}} {
		if o.data != nil {
			ts = append(ts, Tensor{Name: o.name, Shape: []int{nv}, Data: o.data})
		}
	}
	if m.Scaler != nil {
		ts = append(ts, Tensor{Name: tStdMean, Shape: []int{nv}, Data: m.Scaler.Mean},
			Tensor{Name: tStdScale, Shape: []int{nv}, Data: m.Scaler.Std})
	}
	if state != nil {
		md[metaEpoch] = strconv.Itoa(state.Epoch)
		ts = append(ts, Tensor{Name: tVelW, Shape: []int{nv, nh}, Data: state.VelW.Data},
			Tensor{Name: tVelVis, Shape: []int{nv}, Data: state.VelVis},
			Tensor{Name: tVelHid, Shape: []int{nh}, Data: state.VelHid},
			Tensor{Name: tHidMean, Shape: []int{nh}, Data: state.HidMean})
		if state.Chains != nil {
			ts = append(ts, Tensor{Name: tChains, Shape: []int{state.Chains.Rows, nv}, Data: state.Chains.Data})
		}
		if state.VelLogVar != nil {
			ts = append(ts, Tensor{Name: tVelLV, Shape: []int{nv}, Data: state.VelLogVar})
		}
		if state.VisOffset != nil {
			ts = append(ts, Tensor{Name: tVisOff, Shape: []int{nv}, Data: state.VisOffset},
				Tensor{Name: tHidOff, Shape: []int{nh}, Data: state.HidOffset})
		}
		ts = append(ts, averageTensors(state.Average, nv, nh)...)
	}
	return Write(path, ts, md)
}

// LoadRBM reads an RBM model file, checking its format, unit types, sizes
// (the weights against the other tensors and the visible and hidden
// metadata), and that every parameter is finite. The state is non-nil when
// the file is a checkpoint (it has epochs_done). Errors are one line,
// "read PATH: ...".
func LoadRBM(path string) (*rbm.RBM, map[string]string, *rbm.State, error) {
	f, err := Read(path)
	if err != nil {
		return nil, nil, nil, err
	}
	m, st, err := loadRBM(checker{path, f})
	if err != nil {
		return nil, nil, nil, err
	}
	return m, f.Meta, st, nil
}

// loadRBM reads the RBM of c's file, and its training state when the
// file is a checkpoint.
func loadRBM(c checker) (*rbm.RBM, *rbm.State, error) {
	if err := c.rbmFormat(); err != nil {
		return nil, nil, err
	}
	m, err := c.rbmModel()
	if err != nil {
		return nil, nil, err
	}
	epoch, ok, err := c.metaInt(metaEpoch, 0, math.MaxInt32)
	if err != nil || !ok {
		return m, nil, err
	}
	st, err := c.rbmState(m, epoch)
	if err != nil {
		return nil, nil, err
	}
	return m, st, nil
}

// rbmFormat checks that the file's format tag is that of an RBM.
func (c checker) rbmFormat() error {
	switch format := c.f.Meta["format"]; format {
	case FormatRBM:
		return nil
	case "":
		return c.errorf("not a harmonium model: no format in the metadata")
	case FormatCF:
		return c.errorf("a collaborative-filtering model (softmax visible units): this command and AIS support Bernoulli RBMs only so far (use harmonium cf eval)")
	case FormatNN:
		return WrongKind(c.path, KindNN, "an RBM")
	case FormatDBN:
		return WrongKind(c.path, KindDBN, "an RBM")
	default:
		return c.errorf("unknown model format %q (this harmonium reads %s)", format, FormatRBM)
	}
}

// rbmModel reads an RBM's unit types and parameters, and validates the
// model they make.
func (c checker) rbmModel() (*rbm.RBM, error) {
	units, err := c.rbmUnits()
	if err != nil {
		return nil, err
	}
	w, err := c.rbmWeights()
	if err != nil {
		return nil, err
	}
	nv, nh := w.Shape[0], w.Shape[1]
	m := &rbm.RBM{W: mat32.FromSlice(nv, nh, w.Data), VisUnits: units[0], HidUnits: units[1]}
	if m.VisBias, err = c.floats(tVisBias, nv); err != nil {
		return nil, err
	}
	if m.HidBias, err = c.floats(tHidBias, nh); err != nil {
		return nil, err
	}
	if err := c.rbmVisibleExtras(m, nv); err != nil {
		return nil, err
	}
	if err := m.Validate(); err != nil {
		return nil, c.errorf("%v", err)
	}
	return m, nil
}

// rbmUnits returns the visible and hidden unit types of the metadata.
func (c checker) rbmUnits() ([2]rbm.Units, error) {
	units := [2]rbm.Units{}
	for i, k := range []string{"visible_units", "hidden_units"} {
		u, err := rbm.ParseUnits(c.f.Meta[k])
		if err != nil {
			return units, c.errorf("metadata %s: %v", k, err)
		}
		units[i] = u
	}
	return units, nil
}

// rbmWeights returns an RBM's weights tensor [visible, hidden], checking
// its sizes against each other and the visible and hidden metadata.
func (c checker) rbmWeights() (Tensor, error) {
	w, err := c.tensor(tWeights, 2)
	if err != nil {
		return Tensor{}, err
	}
	nv, nh := w.Shape[0], w.Shape[1]
	if nv < 1 || nh < 1 {
		return Tensor{}, c.errorf("tensor %s has shape %v: an RBM needs at least one visible and one hidden unit", tWeights, w.Shape)
	}
	for _, km := range []struct {
		key  string
		want int
	}{{"visible", nv}, {"hidden", nh}} {
		if n, ok, err := c.metaInt(km.key, 1, math.MaxInt32); err != nil {
			return Tensor{}, err
		} else if ok && n != km.want {
			return Tensor{}, c.errorf("metadata %s %d disagrees with tensor %s of shape %v", km.key, n, tWeights, w.Shape)
		}
	}
	return w, nil
}

// rbmVisibleExtras reads the optional per-visible vectors of m (data
// mean and standard deviation, log variances, standardisation).
func (c checker) rbmVisibleExtras(m *rbm.RBM, nv int) error {
	var err error
	for _, o := range []struct {
		name string
		dst  *[]float32
	}{{tVisMean, &m.VisMean}, {tVisStd, &m.VisStd}, {tLogVar, &m.LogVar}} {
		if _, ok := c.f.Tensors[o.name]; ok {
			if *o.dst, err = c.floats(o.name, nv); err != nil {
				return err
			}
		}
	}
	mean, std, ok, err := c.pair(tStdMean, nv, tStdScale, nv)
	if err != nil {
		return err
	}
	if ok {
		m.Scaler = &rbm.Scaler{Mean: mean, Std: std}
	}
	return nil
}

// pair reads the F32 vectors a [na] and b [nb], which come together; ok
// is false when the file has neither.
func (c checker) pair(a string, na int, b string, nb int) (x, y []float32, ok bool, err error) {
	_, hasA := c.f.Tensors[a]
	_, hasB := c.f.Tensors[b]
	if !hasA && !hasB {
		return nil, nil, false, nil
	}
	if x, err = c.floats(a, na); err != nil {
		return nil, nil, true, err
	}
	if y, err = c.floats(b, nb); err != nil {
		return nil, nil, true, err
	}
	return x, y, true, nil
}

// rbmState reads the training state of a checkpoint of m that has done
// epoch epochs.
func (c checker) rbmState(m *rbm.RBM, epoch int) (*rbm.State, error) {
	nv, nh := m.Visible(), m.Hidden()
	st := &rbm.State{Epoch: epoch}
	vw, err := c.floats(tVelW, nv, nh)
	if err != nil {
		return nil, err
	}
	st.VelW = mat32.FromSlice(nv, nh, vw)
	if st.VelVis, err = c.floats(tVelVis, nv); err != nil {
		return nil, err
	}
	if st.VelHid, err = c.floats(tVelHid, nh); err != nil {
		return nil, err
	}
	if st.HidMean, err = c.floats(tHidMean, nh); err != nil {
		return nil, err
	}
	if m.LogVar != nil {
		if st.VelLogVar, err = c.floats(tVelLV, nv); err != nil {
			return nil, err
		}
	}
	// A centred RBM's offsets come in pairs.
	if st.VisOffset, st.HidOffset, _, err = c.pair(tVisOff, nv, tHidOff, nh); err != nil {
		return nil, err
	}
	if st.Chains, err = c.chains(nv); err != nil {
		return nil, err
	}
	if st.Average, err = c.average(m.LogVar != nil, nv, nh); err != nil {
		return nil, err
	}
	return st, nil
}

// chains reads a checkpoint's persistent chains [chains, nv]: nil when it
// has none.
func (c checker) chains(nv int) (*mat32.Dense, error) {
	if _, ok := c.f.Tensors[tChains]; !ok {
		return nil, nil
	}
	ch, err := c.tensor(tChains, 2)
	if err != nil {
		return nil, err
	}
	if ch.Shape[0] < 1 || ch.Shape[1] != nv {
		return nil, c.errorf("tensor %s has shape %v, want [chains, %d] with at least one chain", tChains, ch.Shape, nv)
	}
	return mat32.FromSlice(ch.Shape[0], nv, ch.Data), nil
}

// averageTensors returns the running average of a checkpoint's
// parameters (none when a is nil).
func averageTensors(a *rbm.Average, nv, nh int) []Tensor {
	if a == nil {
		return nil
	}
	ts := []Tensor{{Name: tAvgW, Shape: []int{nv, nh}, Data: a.W.Data},
		{Name: tAvgVis, Shape: []int{nv}, Data: a.VisBias}, {Name: tAvgHid, Shape: []int{nh}, Data: a.HidBias}}
	if a.LogVar != nil {
		ts = append(ts, Tensor{Name: tAvgLV, Shape: []int{nv}, Data: a.LogVar})
	}
	return ts
}

// average reads a checkpoint's running average of the parameters: nil
// when it has none, an error when it has part of one.
func (c checker) average(logVar bool, nv, nh int) (*rbm.Average, error) {
	if _, ok := c.f.Tensors[tAvgW]; !ok {
		for _, name := range []string{tAvgVis, tAvgHid, tAvgLV} {
			if _, ok := c.f.Tensors[name]; ok {
				return nil, c.errorf("tensor %s without %s", name, tAvgW)
			}
		}
		return nil, nil
	}
	w, err := c.floats(tAvgW, nv, nh)
	if err != nil {
		return nil, err
	}
	a := &rbm.Average{W: mat32.FromSlice(nv, nh, w)}
	if a.VisBias, err = c.floats(tAvgVis, nv); err != nil {
		return nil, err
	}
	if a.HidBias, err = c.floats(tAvgHid, nh); err != nil {
		return nil, err
	}
	if logVar {
		if a.LogVar, err = c.floats(tAvgLV, nv); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// ConfigMeta returns the training settings as model-file metadata.
func ConfigMeta(c rbm.Config) map[string]string {
	f := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
	return map[string]string{
		"epochs": strconv.Itoa(c.Epochs), "batch_size": strconv.Itoa(c.BatchSize),
		"learning_rate": f(c.LearningRate), "lr_decay": f(c.LRDecay),
		"cd_steps": strconv.Itoa(c.Steps), "persistent": strconv.FormatBool(c.Persistent),
		"sample_visible": strconv.FormatBool(c.SampleVisible), "sample_data": strconv.FormatBool(c.SampleData),
		"centered": strconv.FormatBool(c.Centered), "offset_rate": f(c.OffsetRate),
		"momentum": f(c.Momentum), "initial_momentum": f(c.InitialMomentum), "momentum_warmup": strconv.Itoa(c.MomentumWarmup),
		"weight_decay": f(c.WeightDecay), "sparsity_target": f(c.SparsityTarget), "sparsity_cost": f(c.SparsityCost),
		"seed": strconv.FormatUint(c.Seed, 10), "learn_sigma": strconv.FormatBool(c.LearnSigma), "sigma_rate": f(c.SigmaRate),
		"tempering": strconv.Itoa(c.Tempering), "average": f(c.Average),
	}
}
