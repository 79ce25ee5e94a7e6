package modelfile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/harmonium-ml/harmonium/internal/memguard"
	"github.com/harmonium-ml/harmonium/nn"
)

// FormatNN is the format tag of a neural-network model file.
const FormatNN = "harmonium.nn/v1"

// metaArch is the metadata key of a network's architecture (nn.Arch as JSON).
const metaArch = "architecture"

// maxArchJSON bounds the architecture's JSON a reader decodes (4096 layers
// of a few hundred bytes each), so that decoding allocates little.
const maxArchJSON = 1 << 20

// nnTensor returns the name of parameter name of layer i: "layers.0.weights".
func nnTensor(i int, name string) string { return fmt.Sprintf("layers.%d.%s", i, name) }

// SaveNN writes net to path with the given metadata: one F32 tensor per
// parameter, named layers.K.weights and layers.K.bias (K the layer's index;
// shapes as nn.Param.Shape: dense [in, out], conv2d [channels, kernel,
// kernel, filters]), and the metadata format = harmonium.nn/v1 and
// architecture, the nn.Arch as JSON. Every layer must be an nn.Specifier.
func SaveNN(path string, net *nn.Network, meta map[string]string) error {
	return saveNet(path, net, meta, FormatNN)
}

// saveNet writes net as SaveNN does, with the given format tag.
func saveNet(path string, net *nn.Network, meta map[string]string, format string) error {
	return saveNetWith(path, net, meta, format, nil)
}

// saveNetWith writes net as saveNet does, and the extra tensors.
func saveNetWith(path string, net *nn.Network, meta map[string]string, format string, extra []Tensor) error {
	arch, err := net.Arch()
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	aj, err := json.Marshal(arch)
	if err != nil {
		return fmt.Errorf("write %s: architecture: %w", path, err)
	}
	md := map[string]string{}
	for k, v := range meta {
		md[k] = v
	}
	md["format"] = format
	md[metaArch] = string(aj)
	var ts []Tensor
	for i, l := range net.Layers() {
		for _, p := range l.Params() {
			ts = append(ts, Tensor{Name: nnTensor(i, p.Name), Shape: p.Shape, Data: p.Value.Data})
		}
	}
	return Write(path, append(ts, extra...), md)
}

// LoadNN reads a neural-network model file written by SaveNN. It checks the
// format, decodes the architecture and checks it (every size within nn's
// limits) before allocating anything for it, and requires exactly the
// tensors the architecture has, each of its shape and finite. Errors are
// one line, "read PATH: ...", naming the tensor or setting at fault.
func LoadNN(path string) (*nn.Network, map[string]string, error) {
	f, err := Read(path)
	if err != nil {
		return nil, nil, err
	}
	net, err := loadNN(checker{path, f})
	if err != nil {
		return nil, nil, err
	}
	return net, f.Meta, nil
}

func loadNN(c checker) (*nn.Network, error) {
	if err := c.format(FormatNN, "a neural network"); err != nil {
		return nil, err
	}
	return loadNet(c, nil)
}

// format checks that the file's format tag is want, the format of what
// (for the message).
func (c checker) format(want, what string) error {
	switch format := c.f.Meta["format"]; format {
	case want:
		return nil
	case "":
		return c.errorf("not a harmonium model: no format in the metadata")
	case FormatRBM, FormatCF, FormatNN, FormatDBN, FormatAE:
		return c.errorf("a %s model, not %s (%s)", format, what, want)
	default:
		return c.errorf("unknown model format %q (this harmonium reads %s)", abbrev(format), want)
	}
}

// loadNet reads the network of a file written by saveNet; extra, if not
// nil, accepts tensors besides the network's, which the caller reads.
func loadNet(c checker, extra func(name string) bool) (*nn.Network, error) {
	arch, err := c.arch()
	if err != nil {
		return nil, err
	}
	infos, err := arch.Params()
	if err != nil {
		return nil, c.errorf("architecture: %v", err)
	}
	if err := c.runnable(arch); err != nil {
		return nil, err
	}
	vals := make([][]float32, len(infos))
	want := map[string]bool{}
	for k, p := range infos {
		name := nnTensor(p.Layer, p.Name)
		want[name] = true
		if vals[k], err = c.floats(name, p.Shape...); err != nil {
			return nil, err
		}
	}
	for _, name := range slices.Sorted(maps.Keys(c.f.Tensors)) { // the same error every time
		if !want[name] && (extra == nil || !extra(name)) {
			return nil, c.errorf("tensor %s is not a parameter of the architecture", name)
		}
	}
	net, err := nn.Build(arch)
	if err != nil {
		return nil, c.errorf("architecture: %v", err)
	}
	k := 0
	for _, l := range net.Layers() {
		for _, p := range l.Params() {
			copy(p.Value.Data, vals[k])
			k++
		}
	}
	return net, nil
}

// runnable refuses an architecture that running needs more memory for
// than the machine has. Each layer's output may have up to nn.MaxValues
// values per sample, and the network runs on chunks of 100 samples: a file
// of a few hundred bytes whose layers enlarge their input (upsample2d,
// then maxpool2d back) would otherwise make the first forward pass
// allocate hundreds of gigabytes and crash. The estimate is the one
// training checks (arch.MemoryBytes), so any network that could be
// trained here loads.
func (c checker) runnable(a nn.Arch) error {
	need, err := a.MemoryBytes(1)
	if err != nil {
		return c.errorf("architecture: %v", err)
	}
	if err := memguard.Check("running its network", need); err != nil {
		return c.errorf("%w", err)
	}
	return nil
}

// arch decodes the architecture metadata, refusing unknown fields.
func (c checker) arch() (nn.Arch, error) {
	s, ok := c.f.Meta[metaArch]
	if !ok {
		return nn.Arch{}, c.errorf("metadata %s missing", metaArch)
	}
	if len(s) > maxArchJSON {
		return nn.Arch{}, c.errorf("metadata %s has %d bytes, more than %d", metaArch, len(s), maxArchJSON)
	}
	var a nn.Arch
	d := json.NewDecoder(bytes.NewReader([]byte(s)))
	d.DisallowUnknownFields()
	if err := d.Decode(&a); err != nil {
		return nn.Arch{}, c.errorf("metadata %s is not a network architecture: %s", metaArch, oneLine(err))
	}
	if d.More() {
		return nn.Arch{}, c.errorf("metadata %s has data after the architecture", metaArch)
	}
	return a, nil
}
