package nn

import (
	"math/big"

	"github.com/harmonium-ml/harmonium/mat32"
)

// Winograd's minimal filtering (Lavin and Gray, "Fast Algorithms for
// Convolutional Neural Networks", 2016): an m x m block of a stride-1
// convolution by an r x r kernel is A' [(G g G') * (B' d B)] A, where d is
// the a x a input tile (a = m+r-1), g the kernel and * the element-wise
// product. Over C input channels and F filters, the element-wise products
// summed over channels become a*a matrix products (tiles x C times C x F)
// with r*r*m*m / (a*a) of the direct convolution's multiplications: 2.8
// times fewer for F(2x2, 5x5), 4 for F(4x4, 3x3).
//
// The transforms come from the Toom-Cook construction with interpolation
// points 0, 1, -1, 2, -2, (1/2, -1/2) and infinity, in exact rational
// arithmetic; the rows of B' are scaled to small integers and G divided
// accordingly.

// winoPoints are the finite interpolation points, in order of use.
var winoPoints = []*big.Rat{big.NewRat(0, 1), big.NewRat(1, 1), big.NewRat(-1, 1), big.NewRat(2, 1), big.NewRat(-2, 1),
	big.NewRat(1, 2), big.NewRat(-1, 2)}

// winoMatrices returns A' (m x a), G (a x r) and B' (a x a) of F(m, r),
// row-major in float64; a = m+r-1 must be at most len(winoPoints)+1.
func winoMatrices(m, r int) (at, g, bt []float64) {
	a := m + r - 1
	// vander is the a x n matrix of the powers 0..n-1 of the points, with
	// a last row (the point at infinity) picking the highest power.
	vander := func(n int) [][]*big.Rat {
		v := make([][]*big.Rat, a)
		for i := range v {
			v[i] = make([]*big.Rat, n)
			for j := range v[i] {
				v[i][j] = new(big.Rat)
				switch {
				case i < a-1:
					pow := big.NewRat(1, 1)
					for range j {
						pow.Mul(pow, winoPoints[i])
					}
					v[i][j].Set(pow)
				case j == n-1:
					v[i][j].SetInt64(1)
				}
			}
		}
		return v
	}
	vi := invertRat(vander(a))
	vg, vh := vander(r), vander(m)
	at, g, bt = make([]float64, m*a), make([]float64, a*r), make([]float64, a*a)
	for k := range a {
		// Row k of B' is column k of V^-1; scale it so that its smallest
		// nonzero entry is 1 in size, and row k of G inversely.
		var small *big.Rat
		for j := range a {
			if e := vi[j][k]; e.Sign() != 0 {
				abs := new(big.Rat).Abs(e)
				if small == nil || abs.Cmp(small) < 0 {
					small = abs
				}
			}
		}
		for j := range a {
			bt[k*a+j], _ = new(big.Rat).Quo(vi[j][k], small).Float64()
		}
		for j := range r {
			g[k*r+j], _ = new(big.Rat).Mul(vg[k][j], small).Float64()
		}
		for i := range m {
			at[i*a+k], _ = vh[k][i].Float64()
		}
	}
	return at, g, bt
}

// invertRat returns the inverse of the invertible square matrix v.
func invertRat(v [][]*big.Rat) [][]*big.Rat {
	n := len(v)
	aug := make([][]*big.Rat, n)
	for i := range aug {
		aug[i] = make([]*big.Rat, 2*n)
		for j := range n {
			aug[i][j] = new(big.Rat).Set(v[i][j])
			aug[i][n+j] = new(big.Rat)
		}
		aug[i][n+i].SetInt64(1)
	}
	for col := range n {
		piv := col
		for aug[piv][col].Sign() == 0 {
			piv++
		}
		aug[col], aug[piv] = aug[piv], aug[col]
		inv := new(big.Rat).Inv(aug[col][col])
		for j := range aug[col] {
			aug[col][j].Mul(aug[col][j], inv)
		}
		for i := range n {
			if i == col || aug[i][col].Sign() == 0 {
				continue
			}
			f := new(big.Rat).Set(aug[i][col])
			for j := range aug[i] {
				aug[i][j].Sub(aug[i][j], new(big.Rat).Mul(f, aug[col][j]))
			}
		}
	}
	out := make([][]*big.Rat, n)
	for i := range out {
		out[i] = aug[i][n:]
	}
	return out
}

// winoTile returns the output tile side m used for r x r kernels (the
// input tiles are then 6 x 6), or 0 when the layer does not use Winograd.
func winoTile(r int) int {
	switch r {
	case 3:
		return 4
	case 5:
		return 2
	}
	return 0
}

// winoPays reports whether a stride-1 convolution by r x r kernels from C
// channels to F filters with outputs of out pixels is faster by
// Winograd's algorithm than by the lowered product: it must have enough
// work, at least 2^20 multiplications per sample done directly, and
// channels enough, for the products to outweigh the transforms. Measured
// (a forward and a backward pass, batch 100, 2 cores, AVX-512; time by
// Winograd over time lowered): 5x5, 32 to 64 on 14x14 (the CNN's second
// layer) 0.52, 16 to 32 0.58, 16 to 16 0.71 (1.25M), but 8 to 16 1.2
// (627K); 3x3 on 14x14, 32 to 64 0.75, 32 to 32 0.84 (1.8M), but 16 to 16
// 1.4 (451K); 3x3 16 to 16 on 28x28 0.54, 64 to 64 on 7x7 0.59 (1.8M).
func winoPays(r, C, F, out int) bool {
	return winoTile(r) > 0 && C >= 8 && F >= 8 && C*F*out*r*r >= 1<<20
}

// wino holds a layer's Winograd transforms and transformed weights.
type wino struct {
	m, r, a int
	// at is A' (m x a), am is A (a x m), g is G (a x r), gt is G' (r x
	// a), bt is B' (a x a), in float32.
	at, am, g, gt, bt []float32
	fwd, bwd          winoGeom
	s                 int       // samples per group
	u, uf             []float32 // transformed weights [a*a][C][F], flipped [a*a][F][C]
	wp                []float32 // the weights rearranged for a transform
	part              int       // values of a chunk's transformed weight gradient
}

// winoGeom is the tiling of one convolution: of its input (with the
// padding) into a x a tiles and of its output into m x m ones.
type winoGeom struct {
	in, out mat32.Tiling
}

func newWinoGeom(in, out Shape, m, pad int) winoGeom {
	ty, tx := (out.H+m-1)/m, (out.W+m-1)/m
	return winoGeom{
		in:  mat32.Tiling{H: in.H, W: in.W, Ch: in.C, TilesY: ty, TilesX: tx, Step: m, Pad: pad},
		out: mat32.Tiling{H: out.H, W: out.W, Ch: out.C, TilesY: ty, TilesX: tx, Step: m},
	}
}

// newWino returns the Winograd form of the stride-1 convolution g, or nil
// when it should use the lowered product.
func newWino(g convGeom) *wino {
	if g.s != 1 || !winoPays(g.k, g.in.C, g.out.C, g.nPos) {
		return nil
	}
	return makeWino(g)
}

// makeWino returns the Winograd form of the stride-1 convolution g by 3x3
// or 5x5 kernels.
func makeWino(g convGeom) *wino {
	w := winoShape(g)
	m, a := w.m, w.a
	at, gm, bt := winoMatrices(m, g.k)
	w.at, w.g, w.bt = f32(at), f32(gm), f32(bt)
	w.am, w.gt = f32(transpose64(at, m, a)), f32(transpose64(gm, a, g.k))
	cf := g.in.C * g.out.C
	w.u, w.uf, w.wp = make([]float32, w.part), make([]float32, w.part), make([]float32, g.k*g.k*cf)
	return w
}

// winoShape returns the sizes and tilings of g's Winograd form, without
// its transforms or buffers.
func winoShape(g convGeom) *wino {
	m := winoTile(g.k)
	w := &wino{m: m, r: g.k, a: m + g.k - 1,
		fwd: newWinoGeom(g.in, g.out, m, g.pad),
		// The input gradient is the convolution of the output gradient by
		// the flipped kernels with padding r-1-pad.
		bwd: newWinoGeom(g.out, g.in, m, g.k-1-g.pad),
	}
	w.s = max(1, min(8, winoRows/max(w.fwd.in.Tiles(), w.bwd.in.Tiles())))
	w.part = w.a * w.a * g.in.C * g.out.C
	return w
}

// winoValues is the number of float32 values the Winograd form of g holds
// beyond the lowered form's: the transformed weights (twice), their
// gradient for each chunk of samples and a scratch per worker.
func winoValues(g convGeom, workers int) float64 {
	w := winoShape(g)
	return float64(2+convChunks)*float64(w.part) + float64(workers)*float64(w.bufSize())
}

func f32(x []float64) []float32 {
	y := make([]float32, len(x))
	for i, v := range x {
		y[i] = float32(v)
	}
	return y
}

func transpose64(x []float64, rows, cols int) []float64 {
	y := make([]float64, len(x))
	for i := range rows {
		for j := range cols {
			y[j*rows+i] = x[i*cols+j]
		}
	}
	return y
}

// winoRows is about the fewest tiles a transformed product should have to
// run at speed: samples are grouped (wino.s at a time) to reach it.
const winoRows = 128

// bufSize is the scratch a worker needs: one sample and its output
// gradient channels-last, and for a group of samples their transformed
// input tiles (twice), the products and the transformed output gradient.
func (w *wino) bufSize() int {
	f, b := w.fwd, w.bwd
	img := f.in.H*f.in.W*f.in.Ch + f.out.H*f.out.W*f.out.Ch + b.out.H*b.out.W*b.out.Ch
	v, v2, p, d := w.tileSizes()
	return img + v + v2 + p + d
}

// tileSizes returns the sizes of a group's transformed tiles: the input's
// (forward or backward), the input's again (weight gradient), the
// products and the transformed output gradient.
func (w *wino) tileSizes() (v, v2, p, d int) {
	f, b := w.fwd, w.bwd
	aa := w.a * w.a * w.s
	v = aa * max(f.in.Tiles()*f.in.Ch, b.in.Tiles()*b.in.Ch)
	v2 = aa * f.in.Tiles() * f.in.Ch
	p = aa * max(f.out.Tiles()*f.out.Ch, b.out.Tiles()*b.out.Ch)
	d = aa * f.out.Tiles() * f.out.Ch
	return v, v2, p, d
}

// transformWeights sets u, G g G' for each kernel g, from the weights W
// (rows (c, i, j), columns f).
func (w *wino) transformWeights(W []float32, C, F int) {
	rr := w.r * w.r
	// wp[i][j][c][f] = W[c][i][j][f]
	for c := range C {
		for e := range rr {
			copy(w.wp[(e*C+c)*F:(e*C+c+1)*F], W[(c*rr+e)*F:(c*rr+e+1)*F])
		}
	}
	w.transformKernels(w.u, C*F)
}

// transformFlipped sets uf from the weights W: the transformed kernels of
// the convolution giving the input gradient, from filter f to channel c
// by kernel (c, f) rotated half a turn.
func (w *wino) transformFlipped(W []float32, C, F int) {
	rr := w.r * w.r
	// wp[i][j][f][c] = W[c][r-1-i][r-1-j][f]
	for c := range C {
		for e := range rr {
			src := W[(c*rr+rr-1-e)*F : (c*rr+rr-e)*F]
			for f, v := range src {
				w.wp[(e*F+f)*C+c] = v
			}
		}
	}
	w.transformKernels(w.uf, C*F)
}

// transformKernels sets dst to G k G' for the n kernels in wp, laid out
// [r][r][n].
func (w *wino) transformKernels(dst []float32, n int) {
	one := mat32.Tiling{H: w.r, W: w.r, Ch: n, TilesY: 1, TilesX: 1, Step: 1}
	mat32.TileTransform(w.wp, one, w.g, w.a, w.r, dst, 1)
}

// weightGrad sets gW (rows (c, i, j), columns f) from the summed
// transformed gradient du ([a*a][C][F]): G' du G, kernel element by
// kernel element.
func (w *wino) weightGrad(du, gW []float32, C, F int) {
	r, rr := w.r, w.r*w.r
	aa := mat32.Tiling{H: w.a, W: w.a, Ch: C * F, TilesY: 1, TilesX: 1, Step: 1}
	mat32.TileTransform(du, aa, w.gt, r, w.a, w.wp, 1)
	for c := range C {
		for e := range rr {
			copy(gW[(c*rr+e)*F:(c*rr+e+1)*F], w.wp[(e*C+c)*F:(e*C+c+1)*F])
		}
	}
}

// winoBuf is a worker's scratch, carved from one slice.
type winoBuf struct {
	xT, yT, dxT []float32 // channels-last sample, output (gradient), input gradient
	v, v2, p, d []float32 // a group's transformed tiles, products, transformed output gradient
}

func (w *wino) carve(buf []float32) winoBuf {
	f, b := w.fwd, w.bwd
	take := func(n int) []float32 {
		s := buf[:n:n]
		buf = buf[n:]
		return s
	}
	v, v2, p, d := w.tileSizes()
	return winoBuf{
		xT:  take(f.in.H * f.in.W * f.in.Ch),
		yT:  take(f.out.H * f.out.W * f.out.Ch),
		dxT: take(b.out.H * b.out.W * b.out.Ch),
		v:   take(v), v2: take(v2), p: take(p), d: take(d),
	}
}

// tilesIn transforms the input tiles of sample s (channels-last img) of a
// group of ns samples into v: the group's tiles follow each other, sample
// by sample, in each of the a*a matrices.
func (w *wino) tilesIn(geo winoGeom, img, v []float32, s, ns int) {
	n := geo.in.Tiles()
	mat32.TileTransform(img, geo.in, w.bt, w.a, w.a, v[s*n*geo.in.Ch:], ns*n)
}

// mul sets p to the a*a products of a group of ns samples' transformed
// tiles v (tiles x Cin each) by the transformed weights u (Cin x Cout).
func (w *wino) mul(geo winoGeom, u, v, p []float32, ns int) {
	rows, cin, cout := ns*geo.in.Tiles(), geo.in.Ch, geo.out.Ch
	for e := range w.a * w.a {
		mat32.GemmSerial(false, false, rows, cout, cin, 1, v[e*rows*cin:], cin, u[e*cin*cout:], cout, 0, p[e*rows*cout:], cout)
	}
}

// tilesOut transforms sample s's products in p (a group of ns samples)
// back into the channels-last out, plus bias when not nil.
func (w *wino) tilesOut(geo winoGeom, p, out, bias []float32, s, ns int) {
	n := geo.in.Tiles()
	mat32.TileUntransform(p[s*n*geo.out.Ch:], ns*n, w.at, w.m, w.a, out, geo.out, bias)
}

// gradTiles transforms sample s's channels-last output gradient dyT into
// d (a group of ns samples): each m x m block to a x a by A.
func (w *wino) gradTiles(dyT, d []float32, s, ns int) {
	geo := w.fwd
	n := geo.out.Tiles()
	mat32.TileTransform(dyT, geo.out, w.am, w.a, w.m, d[s*n*geo.out.Ch:], ns*n)
}

// weightGradAdd adds to du ([a*a][C][F]) the transformed weight gradient
// of a group of ns samples, from their transformed input tiles v2 and
// output gradients d, or sets du to it when beta is 0.
func (w *wino) weightGradAdd(v2, d, du []float32, beta float32, ns int) {
	geo := w.fwd
	rows, C, F := ns*geo.in.Tiles(), geo.in.Ch, geo.out.Ch
	for e := range w.a * w.a {
		mat32.GemmSerial(true, false, C, F, rows, 1, v2[e*rows*C:], C, d[e*rows*F:], F, beta, du[e*C*F:], F)
	}
}

// transposeInto sets dst (cols x rows) to the transpose of src (rows x
// cols).
func transposeInto(dst, src []float32, rows, cols int) { mat32.Transpose(dst, src, rows, cols) }
