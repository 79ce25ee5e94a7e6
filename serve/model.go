package serve

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sync"
	"time"

	"github.com/harmonium-ml/harmonium/ae"
	"github.com/harmonium-ml/harmonium/cf"
	"github.com/harmonium-ml/harmonium/dbn"
	"github.com/harmonium-ml/harmonium/modelfile"
	"github.com/harmonium-ml/harmonium/nn"
	"github.com/harmonium-ml/harmonium/rbm"
)

// Model kinds a Server serves: every kind harmonium writes.
const (
	KindCF  = "cf"  // a collaborative-filtering RBM (cf.Model): the recommender endpoints
	KindRBM = "rbm" // an RBM (rbm.RBM): features, reconstructions, free energies
	KindNN  = "nn"  // a neural-network classifier (nn.Network): classes, a layer's outputs
	KindDBN = "dbn" // a deep belief network (dbn.DBN): features, reconstructions, reconstruction errors
	KindAE  = "ae"  // an autoencoder of any kind (ae.Model): codes, reconstructions, reconstruction errors
)

// ErrUnsupportedKind is wrapped by Load's error for a model file whose
// format tag names no kind the server serves.
var ErrUnsupportedKind = errors.New("model kind not served")

// Model is a model loaded for serving, known by its name. Exactly one of
// CF, RBM, NN, DBN and AE is set, as Kind says.
//
// NN and AE keep per-layer buffers and are not safe for concurrent use:
// the server runs each such model for one request at a time (under a
// mutex of the Model's), and other code must not use them while the Model
// is served. CF, RBM and DBN are only read, and answer requests in
// parallel.
type Model struct {
	Name, Path, Kind string
	Meta             map[string]string
	LoadTime         time.Duration
	CF               *cf.Recommender // for KindCF
	RBM              *rbm.RBM        // for KindRBM
	NN               *nn.Network     // for KindNN
	DBN              *dbn.DBN        // for KindDBN
	AE               *ae.Model       // for KindAE

	mu      sync.Mutex     // held while NN or AE computes
	details map[string]any // what GET /v1/models says of an nn, dbn or ae model, worked out once
	nnSizes []int          // KindNN: the values each layer outputs per instance
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ValidName reports whether name can name a model: 1 to 64 letters, digits,
// dots, dashes and underscores, starting with a letter or digit (so never
// "..", a slash or anything a path could be built from).
func ValidName(name string) bool { return nameRE.MatchString(name) }

// Load reads the model file at path as the kind its format tag names, and
// prepares it for concurrent reads.
func Load(name, path string) (*Model, error) {
	if !ValidName(name) {
		return nil, fmt.Errorf("model name %q: want 1 to 64 letters, digits, '.', '-' or '_', starting with a letter or digit", name)
	}
	start := time.Now()
	format, err := formatOf(path)
	if err != nil {
		return nil, err
	}
	m := &Model{Name: name, Path: path}
	if err := m.load(format); err != nil {
		return nil, err
	}
	m.details = details(m)
	m.LoadTime = time.Since(start)
	return m, nil
}

// load reads the file at m.Path as a model of the given format, setting
// m's kind, metadata and model.
func (m *Model) load(format string) error {
	switch format {
	case modelfile.FormatCF:
		return m.loadCF()
	case modelfile.FormatRBM:
		rm, meta, _, err := modelfile.LoadRBM(m.Path)
		if err != nil {
			return err
		}
		m.Kind, m.Meta, m.RBM = KindRBM, meta, rm
	case modelfile.FormatNN:
		return m.loadNN()
	case modelfile.FormatDBN:
		return m.loadDBN()
	case modelfile.FormatAE:
		am, meta, _, err := modelfile.LoadAE(m.Path)
		if err != nil {
			return err
		}
		m.Kind, m.Meta, m.AE = KindAE, meta, am
	default:
		return fmt.Errorf("%s: %w: format %q (served: %s, %s, %s, %s, %s)", m.Path, ErrUnsupportedKind, format,
			modelfile.FormatCF, modelfile.FormatRBM, modelfile.FormatNN, modelfile.FormatDBN, modelfile.FormatAE)
	}
	return nil
}

// loadCF reads the file at m.Path as a recommender.
func (m *Model) loadCF() error {
	path := m.Path
	cm, meta, err := modelfile.LoadCF(path)
	if err != nil {
		return err
	}
	if m.CF, err = cf.NewRecommender(cm); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	m.Kind, m.Meta = KindCF, meta
	return nil
}

// loadNN reads the file at m.Path as a neural network whose layers'
// output sizes are all known.
func (m *Model) loadNN() error {
	path := m.Path
	net, meta, err := modelfile.LoadNN(path)
	if err != nil {
		return err
	}
	if net.InputShape().Size() == 0 || net.OutputShape().Size() == 0 {
		return fmt.Errorf("%s: the network's input or output size is unknown", path)
	}
	shape := net.InputShape()
	for i, l := range net.Layers() {
		sh, ok := l.(nn.Shaper)
		if !ok {
			return fmt.Errorf("%s: layer %d (%T) has no known output shape", path, i, l)
		}
		if shape, err = sh.OutputShape(shape); err != nil {
			return fmt.Errorf("%s: layer %d: %w", path, i, err)
		}
		m.nnSizes = append(m.nnSizes, shape.Size())
	}
	m.Kind, m.Meta, m.NN = KindNN, meta, net
	return nil
}

// loadDBN reads the file at m.Path as a finished deep belief network.
func (m *Model) loadDBN() error {
	path := m.Path
	d, meta, total, st, err := modelfile.LoadDBN(path)
	if err != nil {
		return err
	}
	if len(d.Layers) < total || (st != nil && st.Done < total) {
		return fmt.Errorf("%s is the checkpoint of an unfinished run (%d of %d layers): finish it with harmonium dbn train --resume", path, len(d.Layers), total)
	}
	if s := d.Scaler(); s != nil && len(s.Mean) != d.Visible() {
		return fmt.Errorf("%s: the standardisation has %d features, the DBN %d visible units", path, len(s.Mean), d.Visible())
	}
	m.Kind, m.Meta, m.DBN = KindDBN, meta, d
	return nil
}

// details returns the shape and settings of an nn, dbn or ae model for
// GET /v1/models, worked out at loading so that listing the models never
// touches a network another request is running.
func details(m *Model) map[string]any {
	switch m.Kind {
	case KindNN:
		return map[string]any{"inputs": m.NN.InputShape().Size(), "input_shape": m.NN.InputShape().String(),
			"classes": m.NN.OutputShape().Size(), "layers": nnLayers(m.NN)}
	case KindDBN:
		d := m.DBN
		return map[string]any{"inputs": d.Visible(), "sizes": d.Sizes(), "labels": d.Labels,
			"visible_units": d.Layers[0].VisUnits.String(), "top_units": d.Layers[len(d.Layers)-1].HidUnits.String(),
			"standardized": d.Scaler() != nil}
	case KindAE:
		return map[string]any{"ae_kind": m.AE.Kind, "inputs": m.AE.Inputs(), "code": m.AE.CodeSize(),
			"output": m.AE.Output, "params": m.AE.Params()}
	}
	return nil
}

// formatOf reads the format tag in the metadata of the safetensors file at
// path, reading only its header.
func formatOf(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("model: %w", err)
	}
	defer f.Close()
	var n uint64
	if err := binary.Read(f, binary.LittleEndian, &n); err != nil {
		return "", fmt.Errorf("read %s: not a safetensors file: %w", path, err)
	}
	if n == 0 || n > 512<<20 {
		return "", fmt.Errorf("read %s: not a safetensors file (header length %d)", path, n)
	}
	var header struct {
		Meta map[string]string `json:"__metadata__"`
	}
	if err := json.NewDecoder(io.LimitReader(f, int64(n))).Decode(&header); err != nil {
		return "", fmt.Errorf("read %s: safetensors header: %w", path, err)
	}
	if header.Meta["format"] == "" {
		return "", fmt.Errorf("read %s: no format tag in the metadata", path)
	}
	return header.Meta["format"], nil
}

// info describes a model for GET /v1/models: its kind, file, load time,
// shape and the short entries of its metadata (long ones, such as id maps
// and training histories, are only named).
func (m *Model) info() map[string]any {
	meta, omitted := map[string]string{}, []string{}
	for k, v := range m.Meta {
		if len(v) <= 256 {
			meta[k] = v
		} else {
			omitted = append(omitted, k)
		}
	}
	out := map[string]any{"name": m.Name, "kind": m.Kind, "path": m.Path, "load_seconds": m.LoadTime.Seconds(), "metadata": meta}
	if len(omitted) > 0 {
		out["metadata_omitted"] = omitted
	}
	switch m.Kind {
	case KindCF:
		cm := m.CF.Model()
		users, items := len(cm.Users), len(cm.Items)
		if cm.ItemBased {
			users, items = items, users
		}
		out["item_based"], out["users"], out["items"], out["hidden"] = cm.ItemBased, users, items, cm.Hidden
		out["levels"], out["ranking"], out["implicit"] = cm.Levels, m.CF.Ranking().String(), cm.Implicit != nil
		out["cached_users"] = m.CF.CachedUsers()
	case KindRBM:
		out["visible"], out["hidden"] = m.RBM.Visible(), m.RBM.Hidden()
		out["visible_units"], out["hidden_units"] = m.RBM.VisUnits.String(), m.RBM.HidUnits.String()
		out["standardized"] = m.RBM.Scaler != nil
	}
	for k, v := range m.details {
		out[k] = v
	}
	if ops := kindOps[m.Kind]; len(ops) > 0 {
		out["operations"] = ops
	}
	return out
}

// nnLayers names the layers of a network by index: "0 dense", "1 relu".
func nnLayers(net *nn.Network) []string {
	arch, err := net.Arch()
	names := make([]string, len(net.Layers()))
	for i, l := range net.Layers() {
		if err == nil && i < len(arch.Layers) {
			names[i] = fmt.Sprintf("%d %s", i, arch.Layers[i].Kind)
		} else {
			names[i] = fmt.Sprintf("%d %T", i, l)
		}
	}
	return names
}
