package serve

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/harmonium-ml/harmonium/dataset"
	"github.com/harmonium-ml/harmonium/mat32"
	"github.com/harmonium-ml/harmonium/rbm"
)

// The operations of POST /v1/models/{name}/{op}.
const (
	OpFeatures    = "features"    // hidden means, codes or a layer's outputs
	OpReconstruct = "reconstruct" // the inputs as the model reconstructs them
	OpScore       = "score"       // one anomaly score per instance (higher: more unusual)
	OpClassify    = "classify"    // a classifier's class and class probabilities
)

// kindOps are the operations each kind of model answers.
var kindOps = map[string][]string{
	KindRBM: {OpFeatures, OpReconstruct, OpScore},
	KindDBN: {OpFeatures, OpReconstruct, OpScore},
	KindAE:  {OpFeatures, OpReconstruct, OpScore},
	KindNN:  {OpFeatures, OpClassify},
}

// maxAnswerValues bounds the numbers in one answer (about 40 MB of JSON),
// so that a small request cannot ask a wide layer for a huge answer.
const maxAnswerValues = 1 << 22

// instances is the JSON body of a model request, KServe v1's shape.
type instances struct {
	Instances [][]float64 `json:"instances"`
}

// classification is one instance's answer of classify.
type classification struct {
	Class         int       `json:"class"`
	Probabilities []float32 `json:"probabilities"`
}

// modelOp answers POST /v1/models/{name}/{op} for the kinds in kindOps:
//
//   - rbm: features p(h|v); reconstruct p(v|h) at h = p(h|v) on the data's
//     scale; score the free energy F(v).
//   - dbn: features the top level's means (the up pass); reconstruct the
//     mean-field pass from there down to the data, on the data's scale;
//     score the summed squared difference between an instance and its
//     reconstruction.
//   - ae: features the code (a VAE's mean code); reconstruct the output
//     means; score the summed squared reconstruction error.
//   - nn: features the outputs of layer ?layer=K (required); classify the
//     argmax class and the softmax of the logits.
func (s *Server) modelOp(w http.ResponseWriter, r *http.Request) error {
	m, err := s.model(r.PathValue("name"))
	if err != nil {
		return err
	}
	op := r.PathValue("op")
	if op != OpFeatures && op != OpReconstruct && op != OpScore && op != OpClassify {
		return fmt.Errorf("%w: no operation %q (want features, reconstruct, score or classify)", ErrNotFound, op)
	}
	if !slices.Contains(kindOps[m.Kind], op) {
		return unsupported(m, op)
	}
	layer, err := layerParam(m, op, r)
	if err != nil {
		return err
	}
	x, err := s.readInstances(w, r, m.inputs())
	if err != nil {
		return err
	}
	if width := m.answerWidth(op, layer); x.Rows*width > maxAnswerValues {
		return fmt.Errorf("%w: the answer would hold %d x %d values, at most %d: send fewer instances", ErrTooLarge, x.Rows, width, maxAnswerValues)
	}
	var out any
	switch m.Kind {
	case KindRBM:
		out, err = rbmOp(m.RBM, op, x)
	case KindDBN:
		out, err = m.dbnOp(op, x)
	case KindAE:
		out, err = m.aeOp(op, x)
	case KindNN:
		out, err = m.nnOp(op, layer, x)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"predictions": out})
	return nil
}

// unsupported returns the error for an operation m's kind does not answer,
// naming what it does answer.
func unsupported(m *Model, op string) error {
	if m.Kind == KindCF {
		return fmt.Errorf("%w: model %q is a collaborative-filtering model (kind cf): it answers GET /v1/recommend/{user}, /v1/predict/{user}/{item} and /v1/similar/{item}, not %s",
			ErrUnsupportedOp, m.Name, op)
	}
	ops := slices.Clone(kindOps[m.Kind])
	if m.Kind == KindNN {
		ops[slices.Index(ops, OpFeatures)] = "features (with ?layer=K)"
	}
	return fmt.Errorf("%w: model %q (kind %s) answers %s, not %s", ErrUnsupportedOp, m.Name, m.Kind, strings.Join(ops, ", "), op)
}

// layerParam reads ?layer=K, which the features of an nn model require
// (a layer index, 0-based) and no other operation takes. It returns -1
// when the operation takes none.
func layerParam(m *Model, op string, r *http.Request) (int, error) {
	q := r.URL.Query()
	if m.Kind != KindNN || op != OpFeatures {
		if q.Has("layer") {
			return -1, badRequest("?layer=K applies to the features of nn models; model %q is a %s model", m.Name, m.Kind)
		}
		return -1, nil
	}
	n := len(m.nnSizes)
	which := fmt.Sprintf("model %q has layers 0 to %d (%s)", m.Name, n-1, strings.Join(m.details["layers"].([]string), ", "))
	if !q.Has("layer") {
		return -1, badRequest("the features of an nn model need ?layer=K, the layer whose outputs to return: %s", which)
	}
	k, err := strconv.Atoi(q.Get("layer"))
	if err != nil || k < 0 || k >= n {
		return -1, badRequest("?layer=%.20q: %s", q.Get("layer"), which)
	}
	return k, nil
}

// inputs returns the number of values of an instance of the model.
func (m *Model) inputs() int {
	switch m.Kind {
	case KindRBM:
		return m.RBM.Visible()
	case KindDBN:
		return m.DBN.Visible()
	case KindAE:
		return m.AE.Inputs()
	case KindNN:
		return m.NN.InputShape().Size()
	}
	return 0
}

// answerWidth returns how many values the answer of op holds per instance.
func (m *Model) answerWidth(op string, layer int) int {
	switch op {
	case OpScore:
		return 1
	case OpReconstruct:
		return m.inputs()
	case OpClassify:
		return m.NN.OutputShape().Size() + 1
	}
	switch m.Kind {
	case KindRBM:
		return m.RBM.Hidden()
	case KindDBN:
		return m.DBN.Layers[len(m.DBN.Layers)-1].Hidden()
	case KindAE:
		return m.AE.CodeSize()
	case KindNN:
		return m.nnSizes[layer]
	}
	return 0
}

// readInstances reads the body of a model request: JSON {"instances":
// [[...], ...]}, or a .npy array when the Content-Type is
// application/x-npy or application/octet-stream or the body starts with
// the .npy magic bytes. It checks the size of the body and of the batch,
// the width of every instance and that every value is a finite float32.
func (s *Server) readInstances(w http.ResponseWriter, r *http.Request, width int) (*mat32.Dense, error) {
	limit := s.opt.MaxBody
	br := bufio.NewReader(http.MaxBytesReader(w, r.Body, limit))
	tooBig := func(err error) error {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return fmt.Errorf("%w: body over %d bytes", ErrTooLarge, limit)
		}
		return nil
	}
	magic, err := br.Peek(6)
	if e := tooBig(err); e != nil {
		return nil, e
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "application/x-npy" || mt == "application/octet-stream" || string(magic) == "\x93NUMPY" {
		body, err := io.ReadAll(br)
		if err != nil {
			if e := tooBig(err); e != nil {
				return nil, e
			}
			return nil, badRequest("reading the body: %v", err)
		}
		set, err := dataset.ReadNPYBytes("the .npy body", body)
		if err != nil {
			return nil, badRequest("%v", err)
		}
		x := set.X
		if x.Rows > s.opt.MaxBatch {
			return nil, fmt.Errorf("%w: %d instances, at most %d per request", ErrTooLarge, x.Rows, s.opt.MaxBatch)
		}
		if x.Cols != width {
			return nil, badRequest("the .npy body's instances have %d values, the model takes %d", x.Cols, width)
		}
		return x, nil
	}
	var in instances
	dec := json.NewDecoder(br)
	if err := dec.Decode(&in); err != nil {
		if e := tooBig(err); e != nil {
			return nil, e
		}
		return nil, badRequest("malformed JSON: %v", err)
	}
	if dec.More() {
		return nil, badRequest("malformed JSON: more than one value in the body")
	}
	if len(in.Instances) == 0 {
		return nil, badRequest(`want {"instances": [[...], ...]} with at least one instance, or a .npy body`)
	}
	if len(in.Instances) > s.opt.MaxBatch {
		return nil, fmt.Errorf("%w: %d instances, at most %d per request", ErrTooLarge, len(in.Instances), s.opt.MaxBatch)
	}
	for i, row := range in.Instances {
		if len(row) != width {
			return nil, badRequest("instance %d has %d values, the model takes %d", i+1, len(row), width)
		}
	}
	// Only now, every instance having the model's width, is the matrix
	// no larger than the values sent.
	x := mat32.New(len(in.Instances), width)
	for i, row := range in.Instances {
		for j, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > math.MaxFloat32 {
				return nil, badRequest("instance %d, value %d is %v, not a finite number", i+1, j+1, v)
			}
			x.Data[i*width+j] = float32(v)
		}
	}
	return x, nil
}

// rbmOp answers op for an RBM: the instances are standardised when the
// model has a Scaler and must suit its visible units.
func rbmOp(m *rbm.RBM, op string, v *mat32.Dense) (any, error) {
	if m.Scaler != nil {
		m.Scaler.Apply(v)
	}
	if err := rbm.CheckData(m, v); err != nil {
		return nil, badRequest("%v", err)
	}
	switch op {
	case OpFeatures:
		return finiteRows(m.Transform(v))
	case OpReconstruct:
		h := m.Transform(v)
		rec := mat32.New(v.Rows, v.Cols)
		m.VisibleProbs(rec, h)
		if m.Scaler != nil {
			m.Scaler.Invert(rec)
		}
		return finiteRows(rec)
	}
	return finite(m.FreeEnergies(v))
}

// dbnOp answers op for a DBN, which only reads its layers: the instances
// are standardised with the DBN's Scaler, when it has one, as harmonium's
// commands do, and must suit the first layer's visible units.
func (m *Model) dbnOp(op string, x *mat32.Dense) (any, error) {
	d := m.DBN
	v, sc := x, d.Scaler()
	if sc != nil {
		v = x.Clone()
		sc.Apply(v)
	}
	probe := &rbm.RBM{W: mat32.New(v.Cols, 1), VisUnits: d.Layers[0].VisUnits}
	if err := rbm.CheckData(probe, v); err != nil {
		return nil, badRequest("%v", err)
	}
	top := len(d.Layers)
	h, err := d.Transform(v, top)
	if err != nil {
		return nil, fmt.Errorf("dbn %s: %w", m.Name, err)
	}
	if op == OpFeatures {
		return finiteRows(h)
	}
	rec, err := d.Down(h, top, nil)
	if err != nil {
		return nil, fmt.Errorf("dbn %s: %w", m.Name, err)
	}
	if sc != nil {
		sc.Invert(rec)
	}
	if op == OpReconstruct {
		return finiteRows(rec)
	}
	return finite(sqErrors(x, rec))
}

// aeOp answers op for an autoencoder, one request at a time (its network
// keeps per-layer buffers).
func (m *Model) aeOp(op string, x *mat32.Dense) (any, error) {
	if err := m.AE.CheckData(x); err != nil {
		return nil, badRequest("%v", err)
	}
	m.mu.Lock()
	var out *mat32.Dense
	if op == OpFeatures {
		out = m.AE.Features(x)
	} else {
		out = m.AE.Reconstruct(x)
	}
	m.mu.Unlock()
	if op == OpScore {
		return finite(sqErrors(x, out))
	}
	return finiteRows(out)
}

// nnOp answers op for a neural network, one request at a time (it keeps
// per-layer buffers): the outputs of the given layer, or the class and
// class probabilities (the softmax of the logits).
func (m *Model) nnOp(op string, layer int, x *mat32.Dense) (any, error) {
	m.mu.Lock()
	var out *mat32.Dense
	if op == OpFeatures {
		out = m.NN.Features(x, layer)
	} else {
		out = m.NN.Outputs(x)
	}
	m.mu.Unlock()
	if op == OpFeatures {
		return finiteRows(out)
	}
	if _, err := finiteRows(out); err != nil {
		return nil, err
	}
	preds := make([]classification, out.Rows)
	probs := make([]float32, out.Rows*out.Cols)
	for i := range out.Rows {
		row, p := out.Row(i), probs[i*out.Cols:][:out.Cols]
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		var sum float64
		for _, v := range row {
			sum += math.Exp(float64(v) - float64(row[best]))
		}
		for j, v := range row {
			p[j] = float32(math.Exp(float64(v)-float64(row[best])) / sum)
		}
		preds[i] = classification{Class: best, Probabilities: p}
	}
	return preds, nil
}

// sqErrors returns, per row, the summed squared difference between x and
// rec.
func sqErrors(x, rec *mat32.Dense) []float64 {
	out := make([]float64, x.Rows)
	for i := range out {
		r := rec.Row(i)
		for j, v := range x.Row(i) {
			d := float64(v) - float64(r[j])
			out[i] += d * d
		}
	}
	return out
}

// errNotFinite is the error for an answer holding NaN or Inf: the inputs
// were too large for the model.
func errNotFinite(i int) error {
	return badRequest("the model's answer for instance %d is not finite: its values are too large for the model", i+1)
}

// finite returns scores, or an error if one is NaN or infinite.
func finite(scores []float64) (any, error) {
	for i, v := range scores {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, errNotFinite(i)
		}
	}
	return scores, nil
}

// finiteRows returns the rows of d as slices of one shared backing array,
// or an error if a value is NaN or infinite.
func finiteRows(d *mat32.Dense) (any, error) {
	for i, v := range d.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, errNotFinite(i / max(d.Cols, 1))
		}
	}
	out := make([][]float32, d.Rows)
	for i := range out {
		out[i] = d.Data[i*d.Cols:][:d.Cols]
	}
	return out, nil
}
