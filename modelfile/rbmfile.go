package modelfile

import (
	"fmt"
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
	md["visible_units"] = "bernoulli"
	md["hidden_units"] = "bernoulli"
	md["visible"] = strconv.Itoa(m.Visible())
	md["hidden"] = strconv.Itoa(m.Hidden())
	nv, nh := m.Visible(), m.Hidden()
	ts := []Tensor{
		{tWeights, []int{nv, nh}, m.W.Data},
		{tVisBias, []int{nv}, m.VisBias},
		{tHidBias, []int{nh}, m.HidBias},
	}
	if m.VisMean != nil {
		ts = append(ts, Tensor{tVisMean, []int{nv}, m.VisMean})
	}
	if state != nil {
		md[metaEpoch] = strconv.Itoa(state.Epoch)
		ts = append(ts, Tensor{tVelW, []int{nv, nh}, state.VelW.Data}, Tensor{tVelVis, []int{nv}, state.VelVis},
			Tensor{tVelHid, []int{nh}, state.VelHid}, Tensor{tHidMean, []int{nh}, state.HidMean})
		if state.Chains != nil {
			ts = append(ts, Tensor{tChains, []int{state.Chains.Rows, nv}, state.Chains.Data})
		}
		if state.VisOffset != nil {
			ts = append(ts, Tensor{tVisOff, []int{nv}, state.VisOffset}, Tensor{tHidOff, []int{nh}, state.HidOffset})
		}
	}
	return Write(path, ts, md)
}

// LoadRBM reads an RBM model file, checking its format, unit types and
// tensor shapes. The state is non-nil when the file is a checkpoint.
func LoadRBM(path string) (*rbm.RBM, map[string]string, *rbm.State, error) {
	f, err := Read(path)
	if err != nil {
		return nil, nil, nil, err
	}
	fail := func(format string, a ...any) (*rbm.RBM, map[string]string, *rbm.State, error) {
		return nil, nil, nil, fmt.Errorf("read %s: "+format, append([]any{path}, a...)...)
	}
	switch format := f.Meta["format"]; format {
	case FormatRBM:
	case "":
		return fail("not a harmonium model: no format in the metadata")
	case FormatCF:
		return fail("a collaborative-filtering model (softmax visible units): this command and AIS support Bernoulli RBMs only so far (use harmonium cf eval)")
	default:
		return fail("unknown model format %q (this harmonium reads %s)", format, FormatRBM)
	}
	for _, k := range []string{"visible_units", "hidden_units"} {
		if u := f.Meta[k]; u != "bernoulli" {
			return fail("%s %q not supported (want bernoulli)", k, u)
		}
	}
	w, ok := f.Tensors[tWeights]
	if !ok || len(w.Shape) != 2 {
		return fail("tensor %s missing or not 2-D", tWeights)
	}
	nv, nh := w.Shape[0], w.Shape[1]
	get := func(name string, shape ...int) ([]float32, error) {
		t, ok := f.Tensors[name]
		if !ok {
			return nil, fmt.Errorf("read %s: tensor %s missing", path, name)
		}
		if fmt.Sprint(t.Shape) != fmt.Sprint(shape) {
			return nil, fmt.Errorf("read %s: tensor %s has shape %v, want %v", path, name, t.Shape, shape)
		}
		return t.Data, nil
	}
	m := &rbm.RBM{W: mat32.FromSlice(nv, nh, w.Data)}
	if m.VisBias, err = get(tVisBias, nv); err != nil {
		return nil, nil, nil, err
	}
	if m.HidBias, err = get(tHidBias, nh); err != nil {
		return nil, nil, nil, err
	}
	if _, ok := f.Tensors[tVisMean]; ok {
		if m.VisMean, err = get(tVisMean, nv); err != nil {
			return nil, nil, nil, err
		}
	}
	if err := m.Validate(); err != nil {
		return fail("%v", err)
	}
	if _, ok := f.Meta[metaEpoch]; !ok {
		return m, f.Meta, nil, nil
	}
	st := &rbm.State{}
	if st.Epoch, err = strconv.Atoi(f.Meta[metaEpoch]); err != nil || st.Epoch < 0 {
		return fail("bad %s %q", metaEpoch, f.Meta[metaEpoch])
	}
	vw, err := get(tVelW, nv, nh)
	if err != nil {
		return nil, nil, nil, err
	}
	st.VelW = mat32.FromSlice(nv, nh, vw)
	if st.VelVis, err = get(tVelVis, nv); err != nil {
		return nil, nil, nil, err
	}
	if st.VelHid, err = get(tVelHid, nh); err != nil {
		return nil, nil, nil, err
	}
	if st.HidMean, err = get(tHidMean, nh); err != nil {
		return nil, nil, nil, err
	}
	if _, ok := f.Tensors[tVisOff]; ok {
		if st.VisOffset, err = get(tVisOff, nv); err != nil {
			return nil, nil, nil, err
		}
		if st.HidOffset, err = get(tHidOff, nh); err != nil {
			return nil, nil, nil, err
		}
	}
	if c, ok := f.Tensors[tChains]; ok {
		if len(c.Shape) != 2 || c.Shape[1] != nv {
			return fail("tensor %s has shape %v, want [chains, %d]", tChains, c.Shape, nv)
		}
		st.Chains = mat32.FromSlice(c.Shape[0], nv, c.Data)
	}
	return m, f.Meta, st, nil
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
		"seed": strconv.FormatUint(c.Seed, 10),
	}
}
