package mat32

import (
	"fmt"
	"sync"
)

// Tiling describes an image cut into square tiles, for TileTransform and
// TileUntransform (the transforms of Winograd's fast convolution). The
// image holds H x W pixels of Ch values each, channels last: pixel (y, x)
// starts at (y*W+x)*Ch. Tile (ty, tx), for ty < TilesY and tx < TilesX, is
// tile number ty*TilesX+tx, and its top-left pixel is
// (ty*Step-Pad, tx*Step-Pad); tiles may reach past the image's edges.
type Tiling struct {
	H, W, Ch       int
	TilesY, TilesX int
	Step, Pad      int
}

// Tiles returns the number of tiles.
func (t Tiling) Tiles() int { return t.TilesY * t.TilesX }

// MaxTile is the largest side of a tile, before or after a transform.
const MaxTile = 8

// tileBlock is the number of channels the tile kernels transform at a time.
const tileBlock = 64

func (t Tiling) check(what string, img []float32) {
	if t.H < 1 || t.W < 1 || t.Ch < 1 || t.TilesY < 0 || t.TilesX < 0 || t.Step < 1 || t.Pad < 0 {
		panic(fmt.Sprintf("mat32: %s: bad tiling %+v", what, t))
	}
	if len(img) < t.H*t.W*t.Ch {
		panic(fmt.Sprintf("mat32: %s: image of %d values for %d x %d x %d", what, len(img), t.H, t.W, t.Ch))
	}
}

// checkTiles checks a transform matrix l (p x q) and a tile array of ld
// tiles per transformed value.
func checkTiles(what string, t Tiling, l []float32, p, q int, tiles []float32, ld, side int) {
	if p < 1 || q < 1 || p > MaxTile || q > MaxTile || len(l) < p*q {
		panic(fmt.Sprintf("mat32: %s: bad transform: %d x %d from %d values", what, p, q, len(l)))
	}
	if ld < t.Tiles() || len(tiles) < ((side*side-1)*ld+t.Tiles())*t.Ch {
		panic(fmt.Sprintf("mat32: %s: %d tile values with %d tiles per value for %d tiles of %d x %d x %d",
			what, len(tiles), ld, t.Tiles(), side, side, t.Ch))
	}
}

// TileTransform sets, for each tile of img, the p x p matrix L P L' where P
// is the tile's q x q pixels (zero outside the image) and L is the p x q
// matrix l (row-major), channel by channel: value (k, m) of channel c of
// tile n goes to dst[((k*p+m)*ld+n)*Ch+c]. ld is at least t.Tiles(), so
// that several images can share dst (each with dst sliced at its first
// tile). Every value is a sum over the nonzero entries of l in order, each
// product rounded, starting from zero: the same on every kernel path.
func TileTransform(img []float32, t Tiling, l []float32, p, q int, dst []float32, ld int) {
	t.check("TileTransform", img)
	checkTiles("TileTransform", t, l, p, q, dst, ld, p)
	if t.Tiles() == 0 {
		return
	}
	tilesFwd(img, t, l, p, q, dst, ld)
}

// TileUntransform is the way back from tiles to an image: for each tile
// of t and each k, m < p, the pixel (ty*Step-Pad+k, tx*Step-Pad+m) that
// lies inside the image is set to (L S L')[k][m] plus bias (when not nil),
// channel by channel, where L is the p x q matrix l and S the tile's q x q
// values src[((a*q+b)*ld+n)*Ch+c]. Pixels no tile covers keep their values.
func TileUntransform(src []float32, ld int, l []float32, p, q int, img []float32, t Tiling, bias []float32) {
	t.check("TileUntransform", img)
	checkTiles("TileUntransform", t, l, p, q, src, ld, q)
	if bias != nil && len(bias) < t.Ch {
		panic(fmt.Sprintf("mat32: TileUntransform: %d biases for %d channels", len(bias), t.Ch))
	}
	if t.Tiles() == 0 {
		return
	}
	tilesBack(src, ld, l, p, q, img, t, bias)
}

// blocks calls f for each tile n, top-left pixel (y0, x0), and block of
// channels [c0, c0+cb) of at most tileBlock, in the kernels' order.
func (t Tiling) blocks(f func(n, y0, x0, c0, cb int)) {
	for ty := range t.TilesY {
		for tx := range t.TilesX {
			for c0 := 0; c0 < t.Ch; c0 += tileBlock {
				f(ty*t.TilesX+tx, ty*t.Step-t.Pad, tx*t.Step-t.Pad, c0, min(tileBlock, t.Ch-c0))
			}
		}
	}
}

// tilesFwdGo is the reference of hm_tiles_fwd (TileTransform).
func tilesFwdGo(img []float32, t Tiling, l []float32, p, q int, dst []float32, ld int) {
	var pb, zb [MaxTile * MaxTile * tileBlock]float32
	t.blocks(func(n, y0, x0, c0, cb int) {
		for a := range q {
			for b := range q {
				row := pb[(a*q+b)*cb:][:cb]
				y, x := y0+a, x0+b
				if y < 0 || y >= t.H || x < 0 || x >= t.W {
					clear(row)
					continue
				}
				copy(row, img[(y*t.W+x)*t.Ch+c0:][:cb])
			}
		}
		tileMul(zb[:], pb[:], l, p, q, q, cb)
		for k := range p {
			for m := range p {
				out := dst[((k*p+m)*ld+n)*t.Ch+c0:][:cb]
				clear(out)
				for b, f := range l[m*q : m*q+q] {
					if f != 0 {
						axpy32(out, f, zb[(k*q+b)*cb:][:cb])
					}
				}
			}
		}
	})
}

// tileMul sets z (p x cols blocks of cb values) to l (p x q) times s (q x
// cols blocks): z[k][b] = sum over a of l[k][a] s[a][b], over the nonzero
// entries of l in order.
func tileMul(z, s, l []float32, p, q, cols, cb int) {
	for k := range p {
		for b := range cols {
			zr := z[(k*cols+b)*cb:][:cb]
			clear(zr)
			for a, f := range l[k*q : k*q+q] {
				if f != 0 {
					axpy32(zr, f, s[(a*cols+b)*cb:][:cb])
				}
			}
		}
	}
}

// axpy32 adds f*x to y, each product rounded to float32.
func axpy32(y []float32, f float32, x []float32) {
	x = x[:len(y)]
	for i := range y {
		y[i] += float32(f * x[i])
	}
}

// tilesBackGo is the reference of hm_tiles_back (TileUntransform).
func tilesBackGo(src []float32, ld int, l []float32, p, q int, img []float32, t Tiling, bias []float32) {
	var sb, zb [MaxTile * MaxTile * tileBlock]float32
	t.blocks(func(n, y0, x0, c0, cb int) {
		for ab := range q * q {
			copy(sb[ab*cb:][:cb], src[(ab*ld+n)*t.Ch+c0:][:cb])
		}
		tileMul(zb[:], sb[:], l, p, q, q, cb)
		for k := range p {
			for m := range p {
				y, x := y0+k, x0+m
				if y < 0 || y >= t.H || x < 0 || x >= t.W {
					continue
				}
				out := img[(y*t.W+x)*t.Ch+c0:][:cb]
				clear(out)
				for b, f := range l[m*q : m*q+q] {
					if f != 0 {
						axpy32(out, f, zb[(k*q+b)*cb:][:cb])
					}
				}
				if bias != nil {
					for c, v := range bias[c0 : c0+cb] {
						out[c] += v
					}
				}
			}
		}
	})
}

// Transpose sets dst (cols x rows) to the transpose of src (rows x cols),
// both row-major without gaps: it turns a channel-major image (C x H*W)
// channels-last and back. dst and src must not overlap.
func Transpose(dst, src []float32, rows, cols int) {
	if rows < 0 || cols < 0 || len(src) < rows*cols || len(dst) < rows*cols {
		panic(fmt.Sprintf("mat32: Transpose: %d x %d from %d values into %d", rows, cols, len(src), len(dst)))
	}
	if rows*cols == 0 {
		return
	}
	transpose(dst, rows, src, cols, rows, cols)
}

// TransposeInto sets dst (c x r) to the transpose of src (r x c), split
// between the workers by blocks of src's rows, as the products that write
// src split it (GradientStep), so that each worker reads what it wrote.
// It panics if the shapes do not agree; dst and src must not overlap.
func TransposeInto(dst, src *Dense) {
	if dst.Rows != src.Cols || dst.Cols != src.Rows {
		panic(fmt.Sprintf("mat32: TransposeInto %dx%d from %dx%d", dst.Rows, dst.Cols, src.Rows, src.Cols))
	}
	if len(src.Data) == 0 {
		return
	}
	w := min(gemmParts, src.Rows/int(blockAlign.Load()))
	if w < 2 || len(src.Data) < minParallel {
		transpose(dst.Data, dst.Cols, src.Data, src.Cols, src.Rows, src.Cols)
		return
	}
	j := transposeJobs.Get().(*transposeJob)
	j.dst, j.src = dst, src
	split(w, j, &j.sy)
	j.dst, j.src = nil, nil
	transposeJobs.Put(j)
}

// transposeJob is TransposeInto's split: part p transposes src's rows
// blockBound(rows, p, parts) onwards.
type transposeJob struct {
	dst, src *Dense
	sy       splitSync
}

var transposeJobs = sync.Pool{New: func() any { return new(transposeJob) }}

func (j *transposeJob) run(p, parts int) {
	r0, r1 := blockBound(j.src.Rows, p, parts), blockBound(j.src.Rows, p+1, parts)
	if r1 > r0 {
		transpose(j.dst.Data[r0:], j.dst.Cols, j.src.Data[r0*j.src.Cols:], j.src.Cols, r1-r0, j.src.Cols)
	}
}

// transposeGo is the reference of hm_transpose (dst's rows ldd apart,
// src's lds apart), in blocks that stay in the cache.
func transposeGo(dst []float32, ldd int, src []float32, lds, rows, cols int) {
	const blk = 16
	for i0 := 0; i0 < rows; i0 += blk {
		i1 := min(i0+blk, rows)
		for j0 := 0; j0 < cols; j0 += blk {
			j1 := min(j0+blk, cols)
			for i := i0; i < i1; i++ {
				row := src[i*lds : i*lds+cols]
				for j := j0; j < j1; j++ {
					dst[j*ldd+i] = row[j]
				}
			}
		}
	}
}
