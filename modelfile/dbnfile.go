package modelfile

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/harmonium-ml/harmonium/dbn"
	"github.com/harmonium-ml/harmonium/mat32"
	"github.com/harmonium-ml/harmonium/rbm"
)

// FormatDBN is the format tag of a deep-belief-network model file.
const FormatDBN = "harmonium.dbn/v1"

// Metadata keys and tensor names of a DBN file beyond the per-layer ones
// (layers.K.weights, layers.K.visible_units, ...).
const (
	metaLayers      = "layers"       // number of layers in the file
	metaLayersTotal = "layers_total" // layers of the finished DBN (a checkpoint may hold fewer)
	metaLayersDone  = "layers_done"  // checkpoints only: layers finished
	metaLabels      = "labels"       // size of the label group (0: none)
	metaSizes       = "sizes"        // units per level, comma-separated: 784,500,500,2000
	tLabelWeights   = "labels.weights"
	tLabelBias      = "labels.visible_bias"
	tLabelMean      = "labels.visible_mean"
)

// maxDBNLayers bounds the layers a DBN file may declare.
const maxDBNLayers = 1024

// layerPrefix returns the tensor and metadata prefix of layer i.
func layerPrefix(i int) string { return "layers." + strconv.Itoa(i) + "." }

// SaveDBN writes d to path: per layer K the tensors layers.K.weights
// [visible, hidden], layers.K.visible_bias, layers.K.hidden_bias and the
// optional ones of an RBM file (visible_mean, visible_std,
// visible_log_var, standardize_mean and standardize_std), prefixed
// likewise; with a label group, the top layer's weights and visible
// biases hold the penultimate units only and the label group's are
// labels.weights [labels, hidden] and labels.visible_bias [labels].
// Metadata: format = harmonium.dbn/v1, layers, layers_total, labels,
// sizes, layers.K.visible_units and layers.K.hidden_units, and the given
// meta (for example layers.K.learning_rate from LayerMeta).
//
// With st not nil the file is also a checkpoint: layers_done, and for the
// layer in training (when st.Layer.Epoch > 0) its rbm.State under its
// prefix as in an RBM checkpoint (the label layer's velocities and chains
// over its joint visible layer, penultimate units then labels). total is
// the number of layers the finished DBN will have (len(d.Layers) for a
// finished one).
func SaveDBN(path string, d *dbn.DBN, total int, meta map[string]string, st *dbn.State) error {
	if err := d.ValidatePartial(total); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	md := map[string]string{}
	for k, v := range meta {
		md[k] = v
	}
	md["format"] = FormatDBN
	md[metaLayers] = strconv.Itoa(len(d.Layers))
	md[metaLayersTotal] = strconv.Itoa(total)
	md[metaLabels] = strconv.Itoa(d.Labels)
	var sizes []string
	for _, s := range d.Sizes() {
		sizes = append(sizes, strconv.Itoa(s))
	}
	md[metaSizes] = strings.Join(sizes, ",")
	var ts []Tensor
	for i, m := range d.Layers {
		p := layerPrefix(i)
		md[p+"visible_units"] = m.VisUnits.String()
		md[p+"hidden_units"] = m.HidUnits.String()
		labelled := d.Labels > 0 && len(d.Layers) == total && i == total-1
		ts = append(ts, layerTensors(p, m, labelled, d.Labels)...)
		if st != nil && i == st.Done && st.Layer.Epoch > 0 {
			md[p+metaEpoch] = strconv.Itoa(st.Layer.Epoch)
			ts = append(ts, stateTensors(p, &st.Layer, m.Visible(), m.Hidden())...)
		}
	}
	if st != nil {
		md[metaLayersDone] = strconv.Itoa(st.Done)
	}
	for i, g := range d.Gen {
		ts = append(ts, Tensor{Name: genPrefix(i) + tWeights, Shape: []int{g.W.Rows, g.W.Cols}, Data: g.W.Data},
			Tensor{Name: genPrefix(i) + tVisBias, Shape: []int{len(g.VisBias)}, Data: g.VisBias})
	}
	return Write(path, ts, md)
}

// genPrefix is the prefix of the generative tensors of layer i after
// up-down fine-tuning: generative.K.weights [visible, hidden] and
// generative.K.visible_bias [visible].
func genPrefix(i int) string { return "generative." + strconv.Itoa(i) + "." }

// generative reads the generative layers of an up-down fine-tuned DBN:
// none, or weights and visible biases for every layer below the top,
// shaped as that layer, finite, and no other generative tensor.
func (c checker) generative(d *dbn.DBN) error {
	n := 0
	for name := range c.f.Tensors {
		if strings.HasPrefix(name, "generative.") {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	if n != 2*(len(d.Layers)-1) {
		return c.errorf("%d generative tensors; an up-down fine-tuned DBN of %d layers has %d (weights and visible biases of each layer below the top)", n, len(d.Layers), 2*(len(d.Layers)-1))
	}
	for i := range len(d.Layers) - 1 {
		m := d.Layers[i]
		w, err := c.floats(genPrefix(i)+tWeights, m.Visible(), m.Hidden())
		if err != nil {
			return err
		}
		b, err := c.floats(genPrefix(i)+tVisBias, m.Visible())
		if err != nil {
			return err
		}
		d.Gen = append(d.Gen, dbn.GenLayer{W: mat32.FromSlice(m.Visible(), m.Hidden(), w), VisBias: b})
	}
	return nil
}

// layerTensors returns the parameters of layer m under prefix p; with
// labelled, the last c visible units go to the label tensors.
func layerTensors(p string, m *rbm.RBM, labelled bool, c int) []Tensor {
	nv, nh := m.Visible(), m.Hidden()
	w, vb, mean := m.W.Data, m.VisBias, m.VisMean
	var ts []Tensor
	if labelled {
		nv -= c
		ts = append(ts, Tensor{Name: tLabelWeights, Shape: []int{c, nh}, Data: w[nv*nh:]},
			Tensor{Name: tLabelBias, Shape: []int{c}, Data: vb[nv:]})
		w, vb = w[:nv*nh], vb[:nv]
		if mean != nil {
			ts = append(ts, Tensor{Name: tLabelMean, Shape: []int{c}, Data: mean[nv:]})
			mean = mean[:nv]
		}
	}
	ts = append(ts, Tensor{Name: p + tWeights, Shape: []int{nv, nh}, Data: w},
		Tensor{Name: p + tVisBias, Shape: []int{nv}, Data: vb},
		Tensor{Name: p + tHidBias, Shape: []int{nh}, Data: m.HidBias})
	for _, o := range []struct {
		name string
		data []float32
	}{{tVisMean, mean}, {tVisStd, m.VisStd}, {tLogVar, m.LogVar}} {
		if o.data != nil {
			ts = append(ts, Tensor{Name: p + o.name, Shape: []int{nv}, Data: o.data})
		}
	}
	if m.Scaler != nil {
		ts = append(ts, Tensor{Name: p + tStdMean, Shape: []int{nv}, Data: m.Scaler.Mean},
			Tensor{Name: p + tStdScale, Shape: []int{nv}, Data: m.Scaler.Std})
	}
	return ts
}

// stateTensors returns the training state of a layer with nv visible and
// nh hidden units under prefix p, named as in an RBM checkpoint.
func stateTensors(p string, st *rbm.State, nv, nh int) []Tensor {
	ts := []Tensor{{Name: p + tVelW, Shape: []int{nv, nh}, Data: st.VelW.Data},
		{Name: p + tVelVis, Shape: []int{nv}, Data: st.VelVis},
		{Name: p + tVelHid, Shape: []int{nh}, Data: st.VelHid},
		{Name: p + tHidMean, Shape: []int{nh}, Data: st.HidMean}}
	if st.Chains != nil {
		ts = append(ts, Tensor{Name: p + tChains, Shape: []int{st.Chains.Rows, nv}, Data: st.Chains.Data})
	}
	if st.VelLogVar != nil {
		ts = append(ts, Tensor{Name: p + tVelLV, Shape: []int{nv}, Data: st.VelLogVar})
	}
	if st.VisOffset != nil {
		ts = append(ts, Tensor{Name: p + tVisOff, Shape: []int{nv}, Data: st.VisOffset},
			Tensor{Name: p + tHidOff, Shape: []int{nh}, Data: st.HidOffset})
	}
	for _, t := range averageTensors(st.Average, nv, nh) {
		t.Name = p + t.Name
		ts = append(ts, t)
	}
	return ts
}

// LoadDBN reads a DBN model file or checkpoint written by SaveDBN, or an
// RBM model file as a DBN of one layer. It checks the format, every
// layer as LoadRBM does (unit types, shapes, finite values), that the
// sizes chain and agree with the metadata, and the label group. total is
// the number of layers of the finished DBN; st is non-nil for a
// checkpoint. Errors are one line, "read PATH: ...".
func LoadDBN(path string) (d *dbn.DBN, meta map[string]string, total int, st *dbn.State, err error) {
	f, err := Read(path)
	if err != nil {
		return nil, nil, 0, nil, err
	}
	c := checker{path, f}
	switch format := f.Meta["format"]; format {
	case FormatDBN:
	case FormatRBM:
		m, rst, err := loadRBM(c)
		if err != nil {
			return nil, nil, 0, nil, err
		}
		if rst != nil {
			return nil, nil, 0, nil, c.errorf("an RBM checkpoint, not a DBN: finish it with harmonium train --resume")
		}
		d, err := dbn.New([]*rbm.RBM{m}, 0)
		if err != nil {
			return nil, nil, 0, nil, c.errorf("%v", err)
		}
		return d, f.Meta, 1, nil, nil
	case "":
		return nil, nil, 0, nil, c.errorf("not a harmonium model: no format in the metadata")
	case FormatNN:
		return nil, nil, 0, nil, WrongKind(path, KindNN, "a DBN")
	case FormatCF:
		return nil, nil, 0, nil, WrongKind(path, KindCF, "a DBN")
	default:
		return nil, nil, 0, nil, c.errorf("unknown model format %q (this harmonium reads %s)", format, FormatDBN)
	}
	d, total, st, err = loadDBN(c)
	if err != nil {
		return nil, nil, 0, nil, err
	}
	return d, f.Meta, total, st, nil
}

// dbnHeader is what a DBN file's metadata says about its shape.
type dbnHeader struct {
	layers, total, labels int
	done                  int // -1 for a model (not a checkpoint)
}

func (c checker) dbnHeader() (dbnHeader, error) {
	var h dbnHeader
	var ok bool
	var err error
	if h.layers, ok, err = c.metaInt(metaLayers, 1, maxDBNLayers); err != nil || !ok {
		return h, orMissing(c, err, metaLayers)
	}
	if h.total, ok, err = c.metaInt(metaLayersTotal, h.layers, maxDBNLayers); err != nil {
		return h, err
	} else if !ok {
		h.total = h.layers
	}
	if h.labels, _, err = c.metaInt(metaLabels, 0, math.MaxInt32); err != nil {
		return h, err
	}
	h.done = -1
	if done, ok, err := c.metaInt(metaLayersDone, 0, h.layers); err != nil {
		return h, err
	} else if ok {
		h.done = done
	} else if h.layers != h.total {
		return h, c.errorf("metadata %s %d is less than %s %d but the file is not a checkpoint (no %s)", metaLayers, h.layers, metaLayersTotal, h.total, metaLayersDone)
	}
	return h, nil
}

// orMissing returns err, or the error of a missing metadata key.
func orMissing(c checker, err error, key string) error {
	if err != nil {
		return err
	}
	return c.errorf("metadata %s missing", key)
}

func loadDBN(c checker) (*dbn.DBN, int, *dbn.State, error) {
	h, err := c.dbnHeader()
	if err != nil {
		return nil, 0, nil, err
	}
	d := &dbn.DBN{Labels: h.labels}
	var st *dbn.State
	if h.done >= 0 {
		st = &dbn.State{Done: h.done}
	}
	for i := range h.layers {
		labelled := h.labels > 0 && h.layers == h.total && i == h.total-1
		m, lst, err := c.layer(i, labelled, h.labels)
		if err != nil {
			return nil, 0, nil, err
		}
		if lst != nil && (st == nil || i != st.Done) {
			return nil, 0, nil, c.errorf("layer %d has a training state but is not the layer in training", i)
		}
		if lst != nil {
			st.Layer = *lst
		}
		d.Layers = append(d.Layers, m)
	}
	if err := d.ValidatePartial(h.total); err != nil {
		return nil, 0, nil, c.errorf("%v", err)
	}
	if err := c.generative(d); err != nil {
		return nil, 0, nil, err
	}
	if s, ok := c.f.Meta[metaSizes]; ok && s != sizesString(d) {
		return nil, 0, nil, c.errorf("metadata %s %q disagrees with the tensors' sizes %s", metaSizes, s, sizesString(d))
	}
	if st != nil && st.Done == h.layers && st.Done < h.total && st.Layer.Epoch > 0 {
		return nil, 0, nil, c.errorf("training state past the last layer")
	}
	return d, h.total, st, nil
}

func sizesString(d *dbn.DBN) string {
	var s []string
	for _, n := range d.Sizes() {
		s = append(s, strconv.Itoa(n))
	}
	return strings.Join(s, ",")
}

// layer reads layer i as an RBM file of its own (its tensors without the
// prefix), joining the label tensors to the top layer's when labelled.
func (c checker) layer(i int, labelled bool, labels int) (*rbm.RBM, *rbm.State, error) {
	p := layerPrefix(i)
	sub := &File{Meta: map[string]string{"format": FormatRBM}, Tensors: map[string]Tensor{}}
	for _, k := range []string{"visible_units", "hidden_units", metaEpoch} {
		if v, ok := c.f.Meta[p+k]; ok {
			sub.Meta[k] = v
		}
	}
	for name, t := range c.f.Tensors {
		if rest, ok := strings.CutPrefix(name, p); ok {
			t.Name = rest
			sub.Tensors[rest] = t
		}
	}
	sc := checker{c.path, sub}
	if labelled {
		if err := c.joinLabels(sc, labels); err != nil {
			return nil, nil, inLayer(c.path, i, err)
		}
	}
	m, st, err := loadRBM(sc)
	return m, st, inLayer(c.path, i, err)
}

// inLayer names layer i in an error of loadRBM: "read PATH: layer 1:
// tensor weights missing".
func inLayer(path string, i int, err error) error {
	if err == nil {
		return nil
	}
	prefix := "read " + path + ": "
	if rest, ok := strings.CutPrefix(err.Error(), prefix); ok {
		return fmt.Errorf("%slayer %d: %s", prefix, i, rest)
	}
	return err
}

// joinLabels appends the label tensors of c to the top layer's weights,
// visible biases and visible means in sub, after checking their shapes.
func (c checker) joinLabels(sub checker, labels int) error {
	w, err := sub.tensor(tWeights, 2)
	if err != nil {
		return err
	}
	nv, nh := w.Shape[0], w.Shape[1]
	lw, err := c.floats(tLabelWeights, labels, nh)
	if err != nil {
		return err
	}
	vb, err := sub.floats(tVisBias, nv)
	if err != nil {
		return err
	}
	lb, err := c.floats(tLabelBias, labels)
	if err != nil {
		return err
	}
	join := func(name string, a, b []float32, shape ...int) {
		sub.f.Tensors[name] = Tensor{Name: name, Shape: shape, Data: append(append(make([]float32, 0, len(a)+len(b)), a...), b...)}
	}
	join(tWeights, w.Data, lw, nv+labels, nh)
	join(tVisBias, vb, lb, nv+labels)
	if _, ok := sub.f.Tensors[tVisMean]; ok {
		vm, err := sub.floats(tVisMean, nv)
		if err != nil {
			return err
		}
		lm, err := c.floats(tLabelMean, labels)
		if err != nil {
			return err
		}
		join(tVisMean, vm, lm, nv+labels)
	}
	return nil
}

// LayerMeta returns the training settings of layer i as DBN metadata:
// layers.K.learning_rate and so on (see ConfigMeta).
func LayerMeta(i int, c rbm.Config) map[string]string {
	out := map[string]string{}
	for k, v := range ConfigMeta(c) {
		out[layerPrefix(i)+k] = v
	}
	return out
}

// DBNLayer returns the metadata of layer i of a DBN file without the
// prefix (learning_rate, epochs, ...): what ConfigMeta gave.
func DBNLayer(meta map[string]string, i int) map[string]string {
	out := map[string]string{}
	for k, v := range meta {
		if rest, ok := strings.CutPrefix(k, layerPrefix(i)); ok {
			out[rest] = v
		}
	}
	return out
}
