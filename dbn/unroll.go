package dbn

import (
	"fmt"
	"math"

	"github.com/harmonium-ml/harmonium/mat32"
	"github.com/harmonium-ml/harmonium/nn"
	"github.com/harmonium-ml/harmonium/rbm"
)

// Classifier unrolls the DBN's up pass into a feed-forward network that
// classifies into the given number of classes: per layer a dense layer
// with the RBM's weights and hidden biases (nn.DenseFrom) and the hidden
// units' activation (sigmoid; identity for Gaussian, ReLU for ReLU top
// units), dropout of the given rate after each when rate > 0, and a dense
// output layer of class logits (softmax cross-entropy in training) drawn
// from seed. The label group, when there is one, is left out. The network
// takes raw data: the first layer's standardisation and the variances of
// Gaussian visible units are folded into its weights and biases.
func (d *DBN) Classifier(classes int, dropout float64, seed uint64) (*nn.Network, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	if classes < 2 {
		return nil, fmt.Errorf("%w: a classifier needs at least 2 classes, got %d", ErrShape, classes)
	}
	if !(dropout >= 0 && dropout < 1) {
		return nil, fmt.Errorf("dropout rate %g is outside [0, 1)", dropout)
	}
	var layers []nn.Layer
	for i := range d.Layers {
		m := d.layerView(i)
		w, b := m.W, m.HidBias
		if i == 0 {
			w, b = inputWeights(m)
		}
		layers = append(layers, nn.DenseFrom(w, b))
		switch m.HidUnits {
		case rbm.Bernoulli:
			layers = append(layers, nn.Sigmoid())
		case rbm.ReLU:
			layers = append(layers, nn.ReLU())
		}
		if dropout > 0 {
			layers = append(layers, nn.Dropout(dropout))
		}
	}
	top := d.Layers[len(d.Layers)-1].Hidden()
	layers = append(layers, nn.Dense(top, classes, nn.Xavier))
	net := nn.New(layers...)
	net.Init(seed)
	return net, nil
}

// inputWeights returns the weights and biases that give the first layer's
// hidden inputs from raw data: W and c, with the standardisation (x -
// mean) / std and the Gaussian visible units' 1/sigma^2 folded in.
func inputWeights(m *rbm.RBM) (*mat32.Dense, []float32) {
	w := m.W.Clone()
	b := append([]float32(nil), m.HidBias...)
	for i := range w.Rows {
		a := 1.0
		if m.LogVar != nil {
			a = math.Exp(-float64(m.LogVar[i]))
		}
		shift := 0.0
		if s := m.Scaler; s != nil {
			a /= float64(s.Std[i])
			shift = float64(s.Mean[i])
		}
		row := w.Row(i)
		for j := range row {
			row[j] = float32(float64(row[j]) * a)
			b[j] -= float32(shift * float64(row[j]))
		}
	}
	return w, b
}
