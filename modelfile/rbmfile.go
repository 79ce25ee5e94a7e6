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

func loadRBM(c checker) (*rbm.RBM, *rbm.State, error) {
	f := c.f
	switch format := f.Meta["format"]; format {
	case FormatRBM:
	case "":
		return nil, nil, c.errorf("not a harmonium model: no format in the metadata")
	case FormatCF:
		return nil, nil, c.errorf("a collaborative-filtering model (softmax visible units): this command and AIS support Bernoulli RBMs only so far (use harmonium cf eval)")
	case FormatNN:
		return nil, nil, WrongKind(c.path, KindNN, "an RBM")
	case FormatDBN:
		return nil, nil, WrongKind(c.path, KindDBN, "an RBM")
	default:
		return nil, nil, c.errorf("unknown model format %q (this harmonium reads %s)", format, FormatRBM)
	}
	units := [2]rbm.Units{}
	for i, k := range []string{"visible_units", "hidden_units"} {
		u, err := rbm.ParseUnits(f.Meta[k])
		if err != nil {
			return nil, nil, c.errorf("metadata %s: %v", k, err)
		}
		units[i] = u
	}
	w, err := c.tensor(tWeights, 2)
	if err != nil {
		return nil, nil, err
	}
	nv, nh := w.Shape[0], w.Shape[1]
	if nv < 1 || nh < 1 {
		return nil, nil, c.errorf("tensor %s has shape %v: an RBM needs at least one visible and one hidden unit", tWeights, w.Shape)
	}
	for _, km := range []struct {
		key  string
		want int
	}{{"visible", nv}, {"hidden", nh}} {
		if n, ok, err := c.metaInt(km.key, 1, math.MaxInt32); err != nil {
			return nil, nil, err
		} else if ok && n != km.want {
			return nil, nil, c.errorf("metadata %s %d disagrees with tensor %s of shape %v", km.key, n, tWeights, w.Shape)
		}
	}
	m := &rbm.RBM{W: mat32.FromSlice(nv, nh, w.Data), VisUnits: units[0], HidUnits: units[1]}
	if m.VisBias, err = c.floats(tVisBias, nv); err != nil {
		return nil, nil, err
	}
	if m.HidBias, err = c.floats(tHidBias, nh); err != nil {
		return nil, nil, err
	}
	for _, o := range []struct {
		name string
		dst  *[]float32
	}{{tVisMean, &m.VisMean}, {tVisStd, &m.VisStd}, {tLogVar, &m.LogVar}} {
		if _, ok := f.Tensors[o.name]; ok {
			if *o.dst, err = c.floats(o.name, nv); err != nil {
				return nil, nil, err
			}
		}
	}
	_, sm := f.Tensors[tStdMean]
	_, ss := f.Tensors[tStdScale]
	if sm || ss {
		m.Scaler = &rbm.Scaler{}
		if m.Scaler.Mean, err = c.floats(tStdMean, nv); err != nil {
			return nil, nil, err
		}
		if m.Scaler.Std, err = c.floats(tStdScale, nv); err != nil {
			return nil, nil, err
		}
	}
	if err := m.Validate(); err != nil {
		return nil, nil, c.errorf("%v", err)
	}
	epoch, ok, err := c.metaInt(metaEpoch, 0, math.MaxInt32)
	if err != nil || !ok {
		return m, nil, err
	}
	st := &rbm.State{Epoch: epoch}
	vw, err := c.floats(tVelW, nv, nh)
	if err != nil {
		return nil, nil, err
	}
	st.VelW = mat32.FromSlice(nv, nh, vw)
	if st.VelVis, err = c.floats(tVelVis, nv); err != nil {
		return nil, nil, err
	}
	if st.VelHid, err = c.floats(tVelHid, nh); err != nil {
		return nil, nil, err
	}
	if st.HidMean, err = c.floats(tHidMean, nh); err != nil {
		return nil, nil, err
	}
	if m.LogVar != nil {
		if st.VelLogVar, err = c.floats(tVelLV, nv); err != nil {
			return nil, nil, err
		}
	}
	_, visOff := f.Tensors[tVisOff]
	_, hidOff := f.Tensors[tHidOff]
	if visOff || hidOff {
		// A centred RBM's offsets come in pairs.
		if st.VisOffset, err = c.floats(tVisOff, nv); err != nil {
			return nil, nil, err
		}
		if st.HidOffset, err = c.floats(tHidOff, nh); err != nil {
			return nil, nil, err
		}
	}
	if _, ok := f.Tensors[tChains]; ok {
		ch, err := c.tensor(tChains, 2)
		if err != nil {
			return nil, nil, err
		}
		if ch.Shape[0] < 1 || ch.Shape[1] != nv {
			return nil, nil, c.errorf("tensor %s has shape %v, want [chains, %d] with at least one chain", tChains, ch.Shape, nv)
		}
		st.Chains = mat32.FromSlice(ch.Shape[0], nv, ch.Data)
	}
	if st.Average, err = c.average(m.LogVar != nil, nv, nh); err != nil {
		return nil, nil, err
	}
	return m, st, nil
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
