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

// Autoencoder unrolls the DBN into a deep autoencoder (Hinton &
// Salakhutdinov 2006): an encoder of one dense layer per RBM, with its
// weights and hidden biases and its hidden units' activation (sigmoid;
// identity for Gaussian code units, ReLU for ReLU), and a decoder of the
// same RBMs in reverse, with the transposed weights and the visible biases,
// sigmoid between layers and logits at the output (binary cross-entropy in
// training). Encoder and decoder weights are separate copies, fine-tuned
// apart. It returns the network and the index of the layer whose output is
// the code. The first layer must have Bernoulli visible units; a label
// group is left out.
func (d *DBN) Autoencoder() (net *nn.Network, code int, err error) {
	if err := d.Validate(); err != nil {
		return nil, 0, err
	}
	if u := d.Layers[0].VisUnits; u != rbm.Bernoulli {
		return nil, 0, fmt.Errorf("%w: a deep autoencoder reconstructs data in [0, 1] through Bernoulli visible units; this DBN's are %v", ErrShape, u)
	}
	var layers []nn.Layer
	for i := range d.Layers {
		m := d.layerView(i)
		layers = append(layers, nn.DenseFrom(m.W, m.HidBias))
		switch m.HidUnits {
		case rbm.Bernoulli:
			layers = append(layers, nn.Sigmoid())
		case rbm.ReLU:
			layers = append(layers, nn.ReLU())
		}
	}
	code = len(layers) - 1
	for i := len(d.Layers) - 1; i >= 0; i-- {
		m := d.layerView(i)
		layers = append(layers, nn.DenseFrom(transpose(m.W), m.VisBias))
		if i > 0 {
			layers = append(layers, nn.Sigmoid())
		}
	}
	return nn.New(layers...), code, nil
}

// transpose returns a copy of w transposed.
func transpose(w *mat32.Dense) *mat32.Dense {
	t := mat32.New(w.Cols, w.Rows)
	for i := range w.Rows {
		for j, v := range w.Row(i) {
			t.Data[j*w.Rows+i] = v
		}
	}
	return t
}
