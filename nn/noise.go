package nn

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/harmonium-ml/harmonium/mat32"
)

// Corruptions of a NoiseLayer (Vincent et al. 2008).
const (
	NoiseMask       = "mask"       // each value set to 0 with probability Level
	NoiseGauss      = "gauss"      // Gaussian noise of standard deviation Level added
	NoiseSaltPepper = "saltpepper" // each value set, with probability Level, to 0 or 1 (even odds)
)

// ParseNoise reads a corruption written KIND:LEVEL, as "mask:0.3",
// "gauss:0.1" or "saltpepper:0.1", and checks it.
func ParseNoise(s string) (kind string, level float64, err error) {
	k, v, ok := strings.Cut(s, ":")
	if !ok {
		return "", 0, fmt.Errorf("noise %q: want KIND:LEVEL, e.g. mask:0.3, gauss:0.1 or saltpepper:0.1", s)
	}
	level, err = strconv.ParseFloat(v, 64)
	if err != nil {
		return "", 0, fmt.Errorf("noise %q: level %q is not a number", s, v)
	}
	if err := checkNoise(k, level); err != nil {
		return "", 0, fmt.Errorf("noise %q: %w", s, err)
	}
	return k, level, nil
}

func checkNoise(kind string, level float64) error {
	switch kind {
	case NoiseMask, NoiseSaltPepper:
		if !(level >= 0 && level <= 1) {
			return archErr("%s noise level %g outside [0, 1]", kind, level)
		}
	case NoiseGauss:
		if !(level >= 0) || math.IsInf(level, 0) {
			return archErr("gauss noise level (standard deviation) %g must be finite and >= 0", level)
		}
	default:
		return archErr("unknown noise %q (want mask, gauss or saltpepper)", kind)
	}
	return nil
}

// NoiseLayer corrupts its input during training, as the input layer of a
// denoising autoencoder; in evaluation mode the input passes unchanged. The
// noise comes from a counter-based stream (mat32.RNG), so it does not
// depend on the number of workers.
type NoiseLayer struct {
	Kind  string  // NoiseMask, NoiseGauss or NoiseSaltPepper
	Level float64 // the fraction corrupted, or the standard deviation

	rng  *mat32.RNG
	bufs map[int]*noiseBuf
	cur  *noiseBuf // nil after an evaluation-mode Forward
}

// noiseBuf holds, per value, the uniform or normal draw, then the output
// and the input gradient.
type noiseBuf struct{ u, y, dx *mat32.Dense }

// Noise returns a corruption layer of the given kind and level (see
// ParseNoise). Its stream starts at seed 0; trainers reseed it.
func Noise(kind string, level float64) *NoiseLayer {
	mustShape(LayerSpec{Kind: KindNoise, Noise: kind, Rate: level}, Flat(1))
	return &NoiseLayer{Kind: kind, Level: level, rng: mat32.NewRNG(0, 0), bufs: map[int]*noiseBuf{}}
}

// Seed restarts the layer's random stream.
func (l *NoiseLayer) Seed(seed, stream uint64) { l.rng = mat32.NewRNG(seed, stream) }

// OutputShape returns in: the shape is kept.
func (l *NoiseLayer) OutputShape(in Shape) (Shape, error) { return in, nil }

// Spec describes the layer.
func (l *NoiseLayer) Spec() LayerSpec {
	return LayerSpec{Kind: KindNoise, Noise: l.Kind, Rate: l.Level}
}

// Params returns nothing: the layer has no parameters.
func (l *NoiseLayer) Params() []Param { return nil }

// Forward returns a corrupted copy of x when train is set, else x itself.
func (l *NoiseLayer) Forward(x *mat32.Dense, train bool) *mat32.Dense {
	if !train || l.Level == 0 {
		l.cur = nil
		return x
	}
	b, ok := l.bufs[x.Rows]
	if !ok || b.y.Cols != x.Cols {
		b = &noiseBuf{u: mat32.New(x.Rows, x.Cols), y: mat32.New(x.Rows, x.Cols), dx: mat32.New(x.Rows, x.Cols)}
		l.bufs[x.Rows] = b
	}
	l.cur = b
	lv := float32(l.Level)
	switch l.Kind {
	case NoiseGauss:
		l.rng.Normal(b.u.Data)
		for i, v := range x.Data {
			b.y.Data[i] = v + lv*b.u.Data[i]
		}
	case NoiseMask:
		l.rng.Uniform(b.u.Data)
		for i, v := range x.Data {
			if b.u.Data[i] < lv {
				v = 0
			}
			b.y.Data[i] = v
		}
	case NoiseSaltPepper:
		l.rng.Uniform(b.u.Data)
		half := lv / 2
		for i, v := range x.Data {
			switch u := b.u.Data[i]; {
			case u < half:
				v = 0
			case u < lv:
				v = 1
			}
			b.y.Data[i] = v
		}
	}
	return b.y
}

// Backward returns dy where the last training Forward kept the input (all
// of it for Gaussian noise) and 0 where it replaced it.
func (l *NoiseLayer) Backward(dy *mat32.Dense) *mat32.Dense {
	if l.cur == nil || l.Kind == NoiseGauss {
		return dy
	}
	lv := float32(l.Level)
	for i, g := range dy.Data {
		if l.cur.u.Data[i] < lv {
			g = 0
		}
		l.cur.dx.Data[i] = g
	}
	return l.cur.dx
}

// AuxLosser is implemented by layers that add a term of their own to the
// loss, as the sampling layer of a variational autoencoder adds the KL
// divergence: AuxLoss returns the term's mean over the samples of the last
// Forward, and the layer's Backward adds the term's gradient to the input
// gradient. Trainers and Evaluate add it to the loss they report.
type AuxLosser interface {
	AuxLoss() float64
}

// GaussianSampleLayer is the stochastic layer of a variational autoencoder
// (Kingma & Welling 2014). Its input holds, per sample, Units means mu
// followed by Units log-variances lv of a diagonal Gaussian q(z|x); its
// output is z = mu + exp(lv/2) * eps with eps standard normal (the
// reparameterisation), or mu itself when Mean is set. It adds to the loss
// the KL divergence of q from the standard normal prior,
// -1/2 sum(1 + lv - mu^2 - exp(lv)) per sample (AuxLosser). It samples in
// training and in evaluation mode alike, as the loss is an expectation
// over z; set Mean for deterministic codes and reconstructions.
type GaussianSampleLayer struct {
	Units int
	Mean  bool // output mu without noise

	rng  *mat32.RNG
	x    *mat32.Dense
	bufs map[int]*sampleBuf
	cur  *sampleBuf
	kl   float64 // mean KL divergence of the last Forward
}

type sampleBuf struct{ eps, y, dx *mat32.Dense }

// GaussianSample returns a sampling layer with the given number of latent
// units (its input has twice as many values). Its stream starts at seed
// 0; trainers reseed it.
func GaussianSample(units int) *GaussianSampleLayer {
	mustShape(LayerSpec{Kind: KindGaussianSample, Units: units}, Flat(2*units))
	return &GaussianSampleLayer{Units: units, rng: mat32.NewRNG(0, 0), bufs: map[int]*sampleBuf{}}
}

// Seed restarts the layer's random stream.
func (l *GaussianSampleLayer) Seed(seed, stream uint64) { l.rng = mat32.NewRNG(seed, stream) }

// OutputShape returns a vector of Units values for an input of 2*Units.
func (l *GaussianSampleLayer) OutputShape(in Shape) (Shape, error) {
	if in.Size() != 2*l.Units {
		return Shape{}, archErr("gaussian sample layer of %d units takes %d inputs, given %v", l.Units, 2*l.Units, in)
	}
	return Flat(l.Units), nil
}

// Spec describes the layer.
func (l *GaussianSampleLayer) Spec() LayerSpec {
	return LayerSpec{Kind: KindGaussianSample, Units: l.Units}
}

// Params returns nothing: the layer has no parameters.
func (l *GaussianSampleLayer) Params() []Param { return nil }

// AuxLoss returns the mean KL divergence of the last Forward's q(z|x) from
// the prior.
func (l *GaussianSampleLayer) AuxLoss() float64 { return l.kl }

// Forward returns a sample z of q(z|x) per row (mu when Mean is set).
func (l *GaussianSampleLayer) Forward(x *mat32.Dense, train bool) *mat32.Dense {
	d := l.Units
	b, ok := l.bufs[x.Rows]
	if !ok {
		b = &sampleBuf{eps: mat32.New(x.Rows, d), y: mat32.New(x.Rows, d), dx: mat32.New(x.Rows, 2*d)}
		l.bufs[x.Rows] = b
	}
	l.x, l.cur = x, b
	if l.Mean {
		clear(b.eps.Data)
	} else {
		l.rng.Normal(b.eps.Data)
	}
	var kl float64
	for i := range x.Rows {
		row, eps, y := x.Row(i), b.eps.Row(i), b.y.Row(i)
		for j := range d {
			mu, lv := float64(row[j]), float64(row[d+j])
			v := math.Exp(lv)
			y[j] = float32(mu + math.Sqrt(v)*float64(eps[j]))
			kl += v + mu*mu - 1 - lv
		}
	}
	l.kl = kl / 2 / float64(max(x.Rows, 1))
	return b.y
}

// Backward returns the gradient with respect to the means and
// log-variances: that of the output through the reparameterisation plus
// that of the mean KL divergence.
func (l *GaussianSampleLayer) Backward(dy *mat32.Dense) *mat32.Dense {
	d, b := l.Units, l.cur
	inv := 1 / float64(max(dy.Rows, 1))
	for i := range dy.Rows {
		row, eps, g, dx := l.x.Row(i), b.eps.Row(i), dy.Row(i), b.dx.Row(i)
		for j := range d {
			mu, lv := float64(row[j]), float64(row[d+j])
			v := math.Exp(lv)
			dx[j] = float32(float64(g[j]) + mu*inv)
			dx[d+j] = float32(float64(g[j])*float64(eps[j])*0.5*math.Sqrt(v) + 0.5*(v-1)*inv)
		}
	}
	return b.dx
}

// Upsample2DLayer enlarges images by an integer factor, repeating each
// pixel Factor x Factor times (nearest neighbour), as the decoder of a
// convolutional autoencoder does.
type Upsample2DLayer struct {
	Factor int

	in, out Shape
	x, dy   *mat32.Dense
	bufs    map[int]*upBuf
	cur     *upBuf
	fwd     func(r0, r1 int)
	bwd     func(r0, r1 int)
}

type upBuf struct{ y, dx *mat32.Dense }

// Upsample2D returns a layer enlarging images of shape in by factor.
func Upsample2D(in Shape, factor int) *Upsample2DLayer {
	out := mustShape(LayerSpec{Kind: KindUpsample2D, Window: factor}, in)
	l := &Upsample2DLayer{Factor: factor, in: in, out: out, bufs: map[int]*upBuf{}}
	l.fwd, l.bwd = l.forwardRows, l.backwardRows
	return l
}

// InputShape returns the shape of the images the layer takes.
func (l *Upsample2DLayer) InputShape() Shape { return l.in }

// OutputShape returns the enlarged shape, for the layer's input shape.
func (l *Upsample2DLayer) OutputShape(in Shape) (Shape, error) {
	if in != l.in {
		return Shape{}, archErr("upsample layer takes %v, given %v", l.in, in)
	}
	return l.out, nil
}

// Spec describes the layer.
func (l *Upsample2DLayer) Spec() LayerSpec { return LayerSpec{Kind: KindUpsample2D, Window: l.Factor} }

// Params returns nothing: the layer has no parameters.
func (l *Upsample2DLayer) Params() []Param { return nil }

// Forward returns the enlarged images.
func (l *Upsample2DLayer) Forward(x *mat32.Dense, train bool) *mat32.Dense {
	b, ok := l.bufs[x.Rows]
	if !ok {
		b = &upBuf{y: mat32.New(x.Rows, l.out.Size()), dx: mat32.New(x.Rows, l.in.Size())}
		l.bufs[x.Rows] = b
	}
	l.x, l.cur = x, b
	parallel(x.Rows, l.out.Size(), l.fwd)
	return b.y
}

func (l *Upsample2DLayer) forwardRows(r0, r1 int) {
	k, in, out := l.Factor, l.in, l.out
	for n := r0; n < r1; n++ {
		x, y := l.x.Row(n), l.cur.y.Row(n)
		for c := range in.C {
			for i := range in.H {
				src := x[(c*in.H+i)*in.W:][:in.W]
				dst := y[(c*out.H+i*k)*out.W:][:k*out.W]
				line := dst[:out.W]
				if k == 2 {
					for j, v := range src {
						p := (*[2]float32)(line[2*j:])
						p[0], p[1] = v, v
					}
				} else {
					for j, v := range src {
						fill(line[j*k:(j+1)*k], v)
					}
				}
				// The other k-1 output lines repeat the first.
				for t := 1; t < k; t++ {
					copy(dst[t*out.W:(t+1)*out.W], line)
				}
			}
		}
	}
}

// Backward returns, for each input pixel, the sum of the gradients of the
// output pixels it was copied to.
func (l *Upsample2DLayer) Backward(dy *mat32.Dense) *mat32.Dense {
	l.dy = dy
	parallel(dy.Rows, l.out.Size(), l.bwd)
	l.dy = nil
	return l.cur.dx
}

func (l *Upsample2DLayer) backwardRows(r0, r1 int) {
	k, in, out := l.Factor, l.in, l.out
	for n := r0; n < r1; n++ {
		dy, dx := l.dy.Row(n), l.cur.dx.Row(n)
		for c := range in.C {
			for i := range in.H {
				dst := dx[(c*in.H+i)*in.W:][:in.W]
				src := dy[(c*out.H+i*k)*out.W:][:k*out.W]
				// Each input pixel gets its block's sum, taken line by
				// line, each line's k values in order.
				if k == 2 {
					l0, l1 := src[:2*in.W], src[out.W:out.W+2*in.W]
					for j := range dst {
						s := 0 + l0[2*j]
						s += l0[2*j+1]
						s += l1[2*j]
						dst[j] = s + l1[2*j+1]
					}
					continue
				}
				for j := range dst {
					var s float32
					for t := range k {
						for _, g := range src[t*out.W+j*k : t*out.W+(j+1)*k] {
							s += g
						}
					}
					dst[j] = s
				}
			}
		}
	}
}
