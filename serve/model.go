package serve

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"time"

	"github.com/harmonium-ml/harmonium/cf"
	"github.com/harmonium-ml/harmonium/modelfile"
	"github.com/harmonium-ml/harmonium/rbm"
)

// Model kinds a Server serves.
const (
	KindCF  = "cf"  // a collaborative-filtering RBM (cf.Model)
	KindRBM = "rbm" // an RBM (rbm.RBM): features, reconstructions, free energies
)

// ErrUnsupportedKind is wrapped by Load's error for a model file of a kind
// the server does not serve.
var ErrUnsupportedKind = errors.New("model kind not served")

// Model is a model loaded for serving, known by its name.
type Model struct {
	Name, Path, Kind string
	Meta             map[string]string
	LoadTime         time.Duration
	CF               *cf.Recommender // for KindCF
	RBM              *rbm.RBM        // for KindRBM
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
	switch format {
	case modelfile.FormatCF:
		cm, meta, err := modelfile.LoadCF(path)
		if err != nil {
			return nil, err
		}
		if m.CF, err = cf.NewRecommender(cm); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		m.Kind, m.Meta = KindCF, meta
	case modelfile.FormatRBM:
		rm, meta, _, err := modelfile.LoadRBM(path)
		if err != nil {
			return nil, err
		}
		m.Kind, m.Meta, m.RBM = KindRBM, meta, rm
	default:
		return nil, fmt.Errorf("%s: %w: format %q (served: %s, %s)", path, ErrUnsupportedKind, format, modelfile.FormatCF, modelfile.FormatRBM)
	}
	m.LoadTime = time.Since(start)
	return m, nil
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
	return out
}
