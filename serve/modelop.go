package serve

import (
	"fmt"
	"math"
	"net/http"

	"github.com/harmonium-ml/harmonium/mat32"
	"github.com/harmonium-ml/harmonium/rbm"
)

// instances is the body of a model request, KServe v1's shape.
type instances struct {
	Instances [][]float64 `json:"instances"`
}

// modelOp answers POST /v1/models/{name}/{op}: features (p(h|v)),
// reconstruct (p(v|h) at h = p(h|v), on the data's scale) and score (the
// free energy F(v): high values are unusual inputs).
func (s *Server) modelOp(w http.ResponseWriter, r *http.Request) error {
	m, err := s.model(r.PathValue("name"))
	if err != nil {
		return err
	}
	op := r.PathValue("op")
	if op != "features" && op != "reconstruct" && op != "score" {
		return fmt.Errorf("%w: no operation %q (want features, reconstruct or score)", ErrNotFound, op)
	}
	if m.Kind != KindRBM {
		return badRequest("model %q is a %s model; %s needs an rbm model", m.Name, m.Kind, op)
	}
	var in instances
	if err := decodeJSON(w, r, s.opt.MaxBody, &in); err != nil {
		return err
	}
	v, err := s.matrix(m.RBM, in.Instances)
	if err != nil {
		return err
	}
	var out any
	switch op {
	case "features":
		out = rows(m.RBM.Transform(v))
	case "reconstruct":
		h := m.RBM.Transform(v)
		rec := mat32.New(v.Rows, v.Cols)
		m.RBM.VisibleProbs(rec, h)
		if m.RBM.Scaler != nil {
			m.RBM.Scaler.Invert(rec)
		}
		out = rows(rec)
	case "score":
		out = m.RBM.FreeEnergies(v)
	}
	writeJSON(w, http.StatusOK, map[string]any{"predictions": out})
	return nil
}

// matrix checks instances (count, width, values) and returns them as a
// matrix the model reads, standardised when the model has a Scaler.
func (s *Server) matrix(m *rbm.RBM, inst [][]float64) (*mat32.Dense, error) {
	if len(inst) == 0 {
		return nil, badRequest(`want {"instances": [[...], ...]} with at least one instance`)
	}
	if len(inst) > s.opt.MaxBatch {
		return nil, fmt.Errorf("%w: %d instances, at most %d per request", ErrTooLarge, len(inst), s.opt.MaxBatch)
	}
	V := m.Visible()
	v := mat32.New(len(inst), V)
	for i, row := range inst {
		if len(row) != V {
			return nil, badRequest("instance %d has %d values, the model has %d visible units", i+1, len(row), V)
		}
		for j, x := range row {
			if math.IsNaN(x) || math.IsInf(x, 0) || math.Abs(x) > math.MaxFloat32 {
				return nil, badRequest("instance %d, value %d is %v, not a finite number", i+1, j+1, x)
			}
			v.Data[i*V+j] = float32(x)
		}
	}
	if m.Scaler != nil {
		m.Scaler.Apply(v)
	}
	if err := rbm.CheckData(m, v); err != nil {
		return nil, badRequest("%v", err)
	}
	return v, nil
}

// rows returns the rows of a matrix as slices of one shared backing array.
func rows(d *mat32.Dense) [][]float32 {
	out := make([][]float32, d.Rows)
	for i := range out {
		out[i] = d.Data[i*d.Cols:][:d.Cols]
	}
	return out
}
