package modelfile

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/harmonium-ml/harmonium/ae"
	"github.com/harmonium-ml/harmonium/nn"
)

// FormatAE is the format tag of an autoencoder model file.
const FormatAE = "harmonium.ae/v1"

// Metadata keys of an autoencoder beside its network's.
const (
	metaAEKind   = "ae_kind"       // ae, dae, vae, conv or deep
	metaAECode   = "ae_code_layer" // index of the code layer
	metaAEOutput = "ae_output"     // bernoulli or gaussian
	metaEpochs   = "epochs_done"   // a checkpoint's finished epochs
	metaSteps    = "optimizer_steps"
	optPrefix    = "optimizer." // a checkpoint's optimiser state: optimizer.SLOT.K for parameter K
)

// TrainState is what a checkpoint holds beside the model: the epochs
// finished and the optimiser's state (nn.Stateful).
type TrainState struct {
	Epoch int
	Slots map[string][][]float32 // per slot, one slice per parameter of the network
	Steps *int                   // the optimiser's step counter, if it has one
}

// SaveAE writes the autoencoder m to path: its network as SaveNN writes
// one (tensors layers.K.weights and layers.K.bias, the architecture as
// JSON), the format tag harmonium.ae/v1, and the metadata ae_kind,
// ae_code_layer and ae_output, besides meta.
func SaveAE(path string, m *ae.Model, meta map[string]string) error {
	return SaveAECheckpoint(path, m, meta, nil)
}

// SaveAECheckpoint writes m as SaveAE does and, when st is not nil, the
// training state: tensors optimizer.SLOT.K (the slot's state of parameter
// K, shaped as the parameter) and the metadata epochs_done and
// optimizer_steps.
func SaveAECheckpoint(path string, m *ae.Model, meta map[string]string, st *TrainState) error {
	md := map[string]string{}
	for k, v := range meta {
		md[k] = v
	}
	md[metaAEKind] = m.Kind
	md[metaAECode] = strconv.Itoa(m.Code)
	md[metaAEOutput] = m.Output
	var extra []Tensor
	if st != nil {
		md[metaEpochs] = strconv.Itoa(st.Epoch)
		if st.Steps != nil {
			md[metaSteps] = strconv.Itoa(*st.Steps)
		}
		params := m.Net.Params()
		for _, slot := range slices.Sorted(maps.Keys(st.Slots)) {
			for k, v := range st.Slots[slot] {
				extra = append(extra, Tensor{Name: fmt.Sprintf("%s%s.%d", optPrefix, slot, k), Shape: params[k].Shape, Data: v})
			}
		}
	}
	return saveNetWith(path, m.Net, md, FormatAE, extra)
}

// LoadAE reads an autoencoder written by SaveAE or SaveAECheckpoint,
// checking the network as LoadNN does and that its parts make an
// autoencoder (ae.Model.Check). The training state is nil unless the file
// is a checkpoint. Errors are one line, "read PATH: ...".
func LoadAE(path string) (*ae.Model, map[string]string, *TrainState, error) {
	f, err := Read(path)
	if err != nil {
		return nil, nil, nil, err
	}
	c := checker{path, f}
	m, err := loadAE(c)
	if err != nil {
		return nil, nil, nil, err
	}
	st, err := c.trainState(m.Net.Params())
	if err != nil {
		return nil, nil, nil, err
	}
	return m, f.Meta, st, nil
}

// trainState reads a checkpoint's training state (nil when the file has
// none): every optimizer.SLOT.K tensor must belong to a parameter K, with
// its shape, and each slot must cover every parameter.
func (c checker) trainState(params []nn.Param) (*TrainState, error) {
	epoch, ok, err := c.metaInt(metaEpochs, 0, 1<<30)
	if err != nil || !ok {
		return nil, err
	}
	st := &TrainState{Epoch: epoch, Slots: map[string][][]float32{}}
	if steps, ok, err := c.metaInt(metaSteps, 0, 1<<50); err != nil {
		return nil, err
	} else if ok {
		st.Steps = &steps
	}
	for _, name := range slices.Sorted(maps.Keys(c.f.Tensors)) { // the same error every time
		rest, ok := strings.CutPrefix(name, optPrefix)
		if !ok {
			continue
		}
		slot, idx, _ := strings.Cut(rest, ".")
		k, err := strconv.Atoi(idx)
		if err != nil || k < 0 || k >= len(params) || slot == "" || len(slot) > 32 {
			return nil, c.errorf("tensor %s is not the optimiser state of a parameter", abbrev(name))
		}
		if st.Slots[slot] == nil {
			st.Slots[slot] = make([][]float32, len(params))
		}
		if st.Slots[slot][k], err = c.floats(name, params[k].Shape...); err != nil {
			return nil, err
		}
	}
	for slot, vs := range st.Slots {
		for k, v := range vs {
			if v == nil {
				return nil, c.errorf("optimiser state %s lacks parameter %d", slot, k)
			}
		}
	}
	return st, nil
}

func loadAE(c checker) (*ae.Model, error) {
	if err := c.format(FormatAE, "an autoencoder"); err != nil {
		return nil, err
	}
	kind, output := c.f.Meta[metaAEKind], c.f.Meta[metaAEOutput]
	code, ok, err := c.metaInt(metaAECode, 0, 1<<20)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, c.errorf("metadata %s missing", metaAECode)
	}
	if len(kind) > 16 || len(output) > 16 {
		return nil, c.errorf("metadata %s or %s is not a known kind", metaAEKind, metaAEOutput)
	}
	net, err := loadNet(c, func(name string) bool { return strings.HasPrefix(name, optPrefix) })
	if err != nil {
		return nil, err
	}
	m := &ae.Model{Kind: kind, Net: net, Code: code, Output: output}
	if err := m.Check(); err != nil {
		return nil, c.errorf("%v", err)
	}
	return m, nil
}
