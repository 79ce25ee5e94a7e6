package nn

import (
	"math"

	"github.com/harmonium-ml/harmonium/mat32"
)

// The element-wise work of the layers is in the functions of this file:
// plain loops over slices, for rows of samples, so that vectorised
// versions can replace them (in mat32) one at a time. The layers spread
// them over the cores with parallel, passing functions bound once at
// construction so that no closure is allocated per minibatch.

// parallel calls f on disjoint row ranges covering [0, rows), on all
// workers when rows*cols is large enough to pay.
func parallel(rows, cols int, f func(r0, r1 int)) { mat32.ParallelRows(rows, cols, f) }

// actKind names an element-wise activation.
type actKind int

const (
	actSigmoid actKind = iota
	actTanh
	actReLU
	actLeakyReLU
)

// activate sets y = f(x) element-wise (alpha is the leaky ReLU's slope).
func activate(k actKind, alpha float32, x, y []float32) {
	y = y[:len(x)]
	switch k {
	case actSigmoid:
		for i, v := range x {
			y[i] = mat32.Sigmoid(v)
		}
	case actTanh:
		for i, v := range x {
			y[i] = float32(math.Tanh(float64(v)))
		}
	case actReLU:
		for i, v := range x {
			y[i] = max(v, 0)
		}
	case actLeakyReLU:
		for i, v := range x {
			if v > 0 {
				y[i] = v
			} else {
				y[i] = alpha * v
			}
		}
	}
}

// activateGrad sets dx = dy * f'(x) element-wise, f'(x) computed from the
// input x or the output y = f(x). At 0, ReLU's derivative is taken as 0.
func activateGrad(k actKind, alpha float32, x, y, dy, dx []float32) {
	dx = dx[:len(dy)]
	switch k {
	case actSigmoid:
		y = y[:len(dy)]
		for i, g := range dy {
			dx[i] = g * y[i] * (1 - y[i])
		}
	case actTanh:
		y = y[:len(dy)]
		for i, g := range dy {
			dx[i] = g * (1 - y[i]*y[i])
		}
	case actReLU:
		x = x[:len(dy)]
		for i, g := range dy {
			dx[i] = math.Float32frombits(math.Float32bits(g) & positive(x[i]))
		}
	case actLeakyReLU:
		x = x[:len(dy)]
		one, a := math.Float32bits(1), math.Float32bits(alpha)
		for i, g := range dy {
			m := positive(x[i])
			dx[i] = g * math.Float32frombits(one&m|a&^m)
		}
	}
}

// positive returns all ones when v > 0 and zero otherwise (for -0, +0
// and negative v), without a branch: ReLU's derivative as a bit mask, as
// the signs of activations are unpredictable.
func positive(v float32) uint32 {
	b := math.Float32bits(v)
	return uint32(int32(^b)>>31) & uint32(-int32(b&0x7fffffff)>>31)
}

// softmaxRows sets each row of y (cols values) to the softmax of the same
// row of x.
func softmaxRows(x, y []float32, cols int) {
	for lo := 0; lo < len(x); lo += cols {
		xr, yr := x[lo:lo+cols], y[lo:lo+cols]
		m := xr[0]
		for _, v := range xr {
			m = max(m, v)
		}
		var s float64
		for j, v := range xr {
			e := math.Exp(float64(v - m))
			yr[j] = float32(e)
			s += e
		}
		inv := float32(1 / s)
		for j := range yr {
			yr[j] *= inv
		}
	}
}

// softmaxGradRows sets each row of dx to y*(dy - sum(dy*y)), the gradient
// through a softmax with output y.
func softmaxGradRows(y, dy, dx []float32, cols int) {
	for lo := 0; lo < len(y); lo += cols {
		yr, gr, dr := y[lo:lo+cols], dy[lo:lo+cols], dx[lo:lo+cols]
		var s float64
		for j, v := range yr {
			s += float64(v) * float64(gr[j])
		}
		for j, v := range yr {
			dr[j] = v * (gr[j] - float32(s))
		}
	}
}

// dropMask scales mask (0 or 1 per element) by scale and sets y = x * mask.
func dropMask(x, mask, y []float32, scale float32) {
	mask, y = mask[:len(x)], y[:len(x)]
	for i, v := range x {
		m := mask[i] * scale
		mask[i] = m
		y[i] = v * m
	}
}

// mulInto sets dst = a * b element-wise.
func mulInto(dst, a, b []float32) {
	a, b = a[:len(dst)], b[:len(dst)]
	for i := range dst {
		dst[i] = a[i] * b[i]
	}
}

// convGeom is the geometry of a convolution: input shape, square kernel
// side, stride, padding and output shape.
type convGeom struct {
	in, out     Shape
	k, s, pad   int
	kVals, nPos int // values per kernel (C*k*k) and output positions (OH*OW)
}

// im2col lowers one sample x (C*H*W) into dst: one row of kVals values per
// output position (row-major over (oh, ow)), in the order (c, ki, kj), with
// zeros where the kernel overlaps the padding.
func im2col(g *convGeom, x, dst []float32) {
	H, W, k := g.in.H, g.in.W, g.k
	d := 0
	for oh := range g.out.H {
		for ow := range g.out.W {
			row := dst[d : d+g.kVals]
			d += g.kVals
			iw0 := ow*g.s - g.pad
			inside := iw0 >= 0 && iw0+k <= W
			r := 0
			for c := range g.in.C {
				for ki := range k {
					seg := row[r : r+k]
					r += k
					ih := oh*g.s - g.pad + ki
					switch {
					case ih < 0 || ih >= H:
						clear(seg)
					case inside:
						src := x[(c*H+ih)*W+iw0:]
						src = src[:len(seg)]
						for j := range seg {
							seg[j] = src[j]
						}
					default:
						line := x[(c*H+ih)*W : (c*H+ih+1)*W]
						for j := range seg {
							if iw := iw0 + j; iw >= 0 && iw < W {
								seg[j] = line[iw]
							} else {
								seg[j] = 0
							}
						}
					}
				}
			}
		}
	}
}

// col2im sets dx (one sample, C*H*W) to the sum, over output positions, of
// the rows of src (laid out as im2col's) added back where they came from.
func col2im(g *convGeom, src, dx []float32) {
	H, W, k := g.in.H, g.in.W, g.k
	clear(dx)
	d := 0
	for oh := range g.out.H {
		for ow := range g.out.W {
			row := src[d : d+g.kVals]
			d += g.kVals
			iw0 := ow*g.s - g.pad
			inside := iw0 >= 0 && iw0+k <= W
			r := 0
			for c := range g.in.C {
				for ki := range k {
					seg := row[r : r+k]
					r += k
					ih := oh*g.s - g.pad + ki
					switch {
					case ih < 0 || ih >= H:
					case inside:
						dst := dx[(c*H+ih)*W+iw0:]
						dst = dst[:len(seg)]
						for j, v := range seg {
							dst[j] += v
						}
					default:
						line := dx[(c*H+ih)*W : (c*H+ih+1)*W]
						for j, v := range seg {
							if iw := iw0 + j; iw >= 0 && iw < W {
								line[iw] += v
							}
						}
					}
				}
			}
		}
	}
}

// tile is the side of the blocks in which the layout changes below move
// values, so that both sides stay in the cache.
const tile = 32

// toChannelMajor sets y[f*P+p] = src[p*F+f] + bias[f] for one sample: a
// product laid out by output position becomes channel-major.
func toChannelMajor(src, y, bias []float32, nPos int) {
	F := len(bias)
	for p0 := 0; p0 < nPos; p0 += tile {
		p1 := min(p0+tile, nPos)
		for f, b := range bias {
			out := y[f*nPos+p0 : f*nPos+p1]
			for i := range out {
				out[i] = src[(p0+i)*F+f] + b
			}
		}
	}
}

// toPositionMajor sets dst[p*F+f] = dy[f*P+p] for one sample with F
// channels: the inverse layout change of toChannelMajor.
func toPositionMajor(dy, dst []float32, nPos, F int) {
	for p0 := 0; p0 < nPos; p0 += tile {
		p1 := min(p0+tile, nPos)
		for f := range F {
			in := dy[f*nPos+p0 : f*nPos+p1]
			for i, v := range in {
				dst[(p0+i)*F+f] = v
			}
		}
	}
}

// channelSums sets sums[f-f0] to the sum over samples and positions of
// channel f of dy (rows of F*nPos values), for f in [f0, f0+len(sums)):
// each sample's positions summed in float32, the samples in float64, in a
// fixed order.
func channelSums(dy []float32, rows, F, nPos, f0 int, sums []float32) {
	for i := range sums {
		f := f0 + i
		var s float64
		for n := range rows {
			var part float32
			for _, v := range dy[(n*F+f)*nPos : (n*F+f+1)*nPos] {
				part += v
			}
			s += float64(part)
		}
		sums[i] = float32(s)
	}
}

// maxPool sets y (one sample, C*OH*OW) to the maximum of each window of x
// and idx to the position in x of that maximum: the first in row-major
// order within the window when several are equal.
func maxPool(in, out Shape, win, stride int, x, y []float32, idx []int32) {
	H, W := in.H, in.W
	o := 0
	for c := range in.C {
		base := c * H * W
		for oh := range out.H {
			for ow := range out.W {
				i0 := base + oh*stride*W + ow*stride
				best, bv := i0, x[i0]
				for ki := range win {
					at := i0 + ki*W
					for kj, v := range x[at : at+win] {
						if v > bv {
							best, bv = at+kj, v
						}
					}
				}
				y[o], idx[o] = bv, int32(best)
				o++
			}
		}
	}
}

// maxPoolGrad sets dx (one sample) to dy routed to the positions in idx,
// adding where windows overlap.
func maxPoolGrad(dy, dx []float32, idx []int32) {
	clear(dx)
	for o, g := range dy {
		dx[idx[o]] += g
	}
}
