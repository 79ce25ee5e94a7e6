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

// actKind names an element-wise activation: mat32's, whose vectorised
// kernels compute them.
type actKind = mat32.Activation

const (
	actSigmoid   = mat32.ActSigmoid
	actTanh      = mat32.ActTanh
	actReLU      = mat32.ActReLU
	actLeakyReLU = mat32.ActLeakyReLU
)

// activate sets y = f(x) element-wise (alpha is the leaky ReLU's slope).
func activate(k actKind, alpha float32, x, y []float32) { mat32.Activate(k, alpha, x, y) }

// activateGrad sets dx = dy * f'(x) element-wise, f'(x) computed from the
// input x or the output y = f(x). At 0, ReLU's derivative is taken as 0.
func activateGrad(k actKind, alpha float32, x, y, dy, dx []float32) {
	mat32.ActivateGrad(k, alpha, x, y, dy, dx)
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

// lower writes the lowered form of one sample x (C*H*W, channel-major)
// into dst: kVals rows of nPos values, row (c, ki, kj) holding for every
// output position (row-major over (oh, ow)) the input value that kernel
// element (ki, kj) of channel c meets there, 0 in the padding. A
// convolution of the sample is then W' times dst, its output channel-major.
//
// Each row is moved in whole runs: with stride 1 and an output as large as
// the input (padding (k-1)/2 of an odd kernel, as in the CNN and the
// convolutional autoencoder), a row is one contiguous copy of the channel
// shifted by (ki-pad) rows and (kj-pad) columns, with the values that
// wrapped around a line end zeroed; otherwise one copy per output row.
func lower(g *convGeom, x, dst []float32) {
	H, W, k := g.in.H, g.in.W, g.k
	same := g.s == 1 && g.out.H == H && g.out.W == W
	r := 0
	for c := range g.in.C {
		xc := x[c*H*W : (c+1)*H*W]
		for ki := range k {
			for kj := range k {
				row := dst[r*g.nPos : (r+1)*g.nPos]
				r++
				if same {
					shiftPlane(row, xc, H, W, ki-g.pad, kj-g.pad)
				} else {
					lowerRow(g, row, xc, ki, kj)
				}
			}
		}
	}
}

// shiftPlane sets dst[i*W+j] = src[(i+dy)*W+j+dx] for the H x W plane src,
// 0 where (i+dy, j+dx) falls outside it.
func shiftPlane(dst, src []float32, H, W, dy, dx int) {
	n := H * W
	dst, src = dst[:n], src[:n]
	i0, i1 := max(0, -dy), min(H, H-dy)
	if i0 >= i1 || dx >= W || -dx >= W {
		clear(dst)
		return
	}
	lo, hi := i0*W, i1*W
	if lo > 0 {
		clear(dst[:lo])
	}
	if hi < n {
		clear(dst[hi:])
	}
	// One copy of the shifted plane; values read across a line end are
	// wrong, and zeroed below, as are those of [lo, a) and [b, hi), which
	// are all such values.
	off := dy*W + dx
	a, b := max(lo, -off), min(hi, n-off)
	copy(dst[a:b], src[a+off:b+off])
	switch {
	case dx > 0:
		for p := lo + W - dx; p < hi; p += W {
			for t := p; t < p+dx; t++ {
				dst[t] = 0
			}
		}
	case dx < 0:
		for p := lo; p < hi; p += W {
			for t := p; t < p-dx; t++ {
				dst[t] = 0
			}
		}
	}
}

// clearShort zeroes a few values (a loop beats a call to clear).
func clearShort(s []float32) {
	for i := range s {
		s[i] = 0
	}
}

// lowerRow writes row (ki, kj) of channel plane xc of lower's result, one
// output row at a time (any stride and padding).
func lowerRow(g *convGeom, row, xc []float32, ki, kj int) {
	H, W, OW, s := g.in.H, g.in.W, g.out.W, g.s
	iw0 := kj - g.pad
	// Output columns whose input column is inside the image.
	a := min(max(0, (-iw0+s-1)/s), OW)
	b := min(max(a, (W-iw0+s-1)/s), OW)
	for oh := range g.out.H {
		seg := row[oh*OW : (oh+1)*OW]
		ih := oh*s + ki - g.pad
		if ih < 0 || ih >= H {
			clear(seg)
			continue
		}
		line := xc[ih*W : (ih+1)*W]
		clearShort(seg[:a])
		clearShort(seg[b:])
		if s == 1 {
			copy(seg[a:b], line[a+iw0:b+iw0])
			continue
		}
		for ow := a; ow < b; ow++ {
			seg[ow] = line[ow*s+iw0]
		}
	}
}

// raise adds the rows of src, laid out as lower's result, back to where
// lower took them from in dx (one sample, C*H*W), which it first clears:
// the gradient with respect to a sample from that of its lowered form.
func raise(g *convGeom, src, dx []float32) {
	H, W, OW, s, k := g.in.H, g.in.W, g.out.W, g.s, g.k
	clear(dx)
	r := 0
	for c := range g.in.C {
		dc := dx[c*H*W : (c+1)*H*W]
		for ki := range k {
			for kj := range k {
				row := src[r*g.nPos : (r+1)*g.nPos]
				r++
				iw0 := kj - g.pad
				a := min(max(0, (-iw0+s-1)/s), OW)
				b := min(max(a, (W-iw0+s-1)/s), OW)
				for oh := range g.out.H {
					ih := oh*s + ki - g.pad
					if ih < 0 || ih >= H {
						continue
					}
					line := dc[ih*W : (ih+1)*W]
					seg := row[oh*OW : (oh+1)*OW]
					for ow := a; ow < b; ow++ {
						line[ow*s+iw0] += seg[ow]
					}
				}
			}
		}
	}
}

// flipKernels sets wt (F*k*k x C) to the kernels of the convolution that
// takes an output gradient (F channels) back to the input (C channels)
// when the stride is 1: wt[(f, ki, kj), c] = w[(c, k-1-ki, k-1-kj), f],
// w being the layer's weights (C*k*k x F).
func flipKernels(w, wt []float32, C, F, k int) {
	kk := k * k
	for c := range C {
		for e := range kk {
			src := w[(c*kk+kk-1-e)*F:][:F]
			for f, v := range src {
				wt[(f*kk+e)*C+c] = v
			}
		}
	}
}

// sum32 returns the sum of v in float32, in four interleaved partial sums
// (elements 4i+j for j = 0..3) added at the end, so that the additions
// overlap.
func sum32(v []float32) float32 {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(v); i += 4 {
		q := (*[4]float32)(v[i:])
		s0 += q[0]
		s1 += q[1]
		s2 += q[2]
		s3 += q[3]
	}
	for ; i < len(v); i++ {
		s0 += v[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// maxPool sets y (one sample, C*OH*OW) to the maximum of each window of x
// and idx to the position in x of that maximum: the first in row-major
// order within the window when several are equal.
func maxPool(in, out Shape, win, stride int, x, y []float32, idx []int32) {
	if win == 2 && stride == 2 {
		maxPool2(in, out, x, y, idx)
		return
	}
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

// maxPool2 is maxPool for 2x2 windows moving by 2, a pair of input lines
// at a time. It compares without branches (the compiler turns these ifs
// into SETcc instructions; branches would be mispredicted, the largest of
// four activations being unpredictable): the first maximum of each line's
// pair, then the bottom pair's only if strictly larger.
func maxPool2(in, out Shape, x, y []float32, idx []int32) {
	H, W := in.H, in.W
	o := 0
	for c := range in.C {
		for oh := range out.H {
			r := (c*H + 2*oh) * W
			top, bot := x[r:r+W], x[r+W:r+2*W]
			yo, io := y[o:o+out.W], idx[o:o+out.W]
			for ow := range yo {
				j := 2 * ow
				var t1, t2, t3 int
				if top[j+1] > top[j] {
					t1 = 1
				}
				if bot[j+1] > bot[j] {
					t2 = 1
				}
				i1, i2 := j+t1, j+t2
				if bot[i2] > top[i1] {
					t3 = 1
				}
				bi := r + i1 + t3*(W+i2-i1)
				yo[ow], io[ow] = x[bi], int32(bi)
			}
			o += out.W
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
