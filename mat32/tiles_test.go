package mat32

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// tileCase is a shape for the tile kernels' tests.
type tileCase struct {
	t    Tiling
	p, q int
	ld   int
}

func tileCases() []tileCase {
	var cs []tileCase
	for _, ch := range []int{1, 5, 16, 17, 64, 70, 130} {
		cs = append(cs,
			// Winograd F(2x2, 5x5) input on a 14x14 image with padding 2.
			tileCase{Tiling{H: 14, W: 14, Ch: ch, TilesY: 7, TilesX: 7, Step: 2, Pad: 2}, 6, 6, 49},
			// F(4x4, 3x3) input on 9x7 with tiles past the edges, ld > tiles.
			tileCase{Tiling{H: 9, W: 7, Ch: ch, TilesY: 3, TilesX: 2, Step: 4, Pad: 1}, 6, 6, 10},
			// An output gradient's 2x2 tiles to 6x6.
			tileCase{Tiling{H: 5, W: 3, Ch: ch, TilesY: 3, TilesX: 2, Step: 2}, 6, 2, 7},
			// A weight transform: one 5x5 tile.
			tileCase{Tiling{H: 5, W: 5, Ch: ch, TilesY: 1, TilesX: 1, Step: 1}, 6, 5, 1},
			// A shrinking transform, 6x6 to 2x2, and 8x8 at the limit.
			tileCase{Tiling{H: 4, W: 6, Ch: ch, TilesY: 2, TilesX: 3, Step: 2}, 2, 6, 6},
			tileCase{Tiling{H: 3, W: 3, Ch: ch, TilesY: 1, TilesX: 1, Step: 1, Pad: 3}, 8, 8, 1},
			// Tiles apart (step > tile), more of them in a row than a strip.
			tileCase{Tiling{H: 9, W: 30, Ch: ch, TilesY: 2, TilesX: 6, Step: 5, Pad: 1}, 3, 2, 12},
		)
	}
	return cs
}

// tileMatrix is a random p x q matrix with some zeros and small integers.
func tileMatrix(r *rand.Rand, p, q int) []float32 {
	l := make([]float32, p*q)
	for i := range l {
		switch r.IntN(4) {
		case 0:
		case 1:
			l[i] = float32(r.IntN(9) - 4)
		default:
			l[i] = float32(r.NormFloat64())
		}
	}
	return l
}

// Every path of TileTransform and TileUntransform equals the Go reference
// bit for bit, including NaN, infinities and signed zeros, and writes
// nothing it should not.
func TestTilePathsMatchGoReference(t *testing.T) {
	r := rand.New(rand.NewPCG(51, 52))
	for i, c := range tileCases() {
		l := tileMatrix(r, c.p, c.q)
		img := kernelInput(r, c.t.H*c.t.W*c.t.Ch)
		n := ((c.p*c.p-1)*c.ld + c.t.Tiles()) * c.t.Ch
		want := kernelInput(r, n)
		before := append([]float32(nil), want...)
		tilesFwdGo(img, c.t, l, c.p, c.q, want, c.ld)
		// The untransform takes q x q tiles back to p x p pixels.
		src := kernelInput(r, ((c.q*c.q-1)*c.ld+c.t.Tiles())*c.t.Ch)
		bias := kernelInput(r, c.t.Ch)
		wantImg := kernelInput(r, len(img))
		imgBefore := append([]float32(nil), wantImg...)
		tilesBackGo(src, c.ld, l, c.p, c.q, wantImg, c.t, bias)
		wantNoBias := append([]float32(nil), imgBefore...)
		tilesBackGo(src, c.ld, l, c.p, c.q, wantNoBias, c.t, nil)
		forPaths(t, func(t *testing.T) {
			what := fmt.Sprintf("case %d %+v %dx%d", i, c.t, c.p, c.q)
			got := append([]float32(nil), before...)
			TileTransform(img, c.t, l, c.p, c.q, got, c.ld)
			sameSlices(t, what+" transform", got, want)
			gotImg := append([]float32(nil), imgBefore...)
			TileUntransform(src, c.ld, l, c.p, c.q, gotImg, c.t, bias)
			sameSlices(t, what+" untransform", gotImg, wantImg)
			gotImg = append(gotImg[:0], imgBefore...)
			TileUntransform(src, c.ld, l, c.p, c.q, gotImg, c.t, nil)
			sameSlices(t, what+" untransform without bias", gotImg, wantNoBias)
		})
	}
}

// The reference computes what TileTransform's and TileUntransform's
// documentation says, checked against float64 sums on finite values, and
// leaves alone the values it does not own.
func TestTileDefinitions(t *testing.T) {
	r := rand.New(rand.NewPCG(53, 54))
	for i, c := range tileCases() {
		tt, p, q := c.t, c.p, c.q
		l := tileMatrix(r, p, q)
		img := make([]float32, tt.H*tt.W*tt.Ch)
		for j := range img {
			img[j] = float32(r.NormFloat64())
		}
		const marker = 12345
		dst := make([]float32, ((p*p-1)*c.ld+tt.Tiles())*tt.Ch)
		for j := range dst {
			dst[j] = marker
		}
		TileTransform(img, tt, l, p, q, dst, c.ld)
		owned := make([]bool, len(dst))
		pix := func(y, x, ch int) float64 {
			if y < 0 || y >= tt.H || x < 0 || x >= tt.W {
				return 0
			}
			return float64(img[(y*tt.W+x)*tt.Ch+ch])
		}
		for ty := range tt.TilesY {
			for tx := range tt.TilesX {
				n := ty*tt.TilesX + tx
				for ch := range tt.Ch {
					for k := range p {
						for m := range p {
							var s float64
							for a := range q {
								for b := range q {
									s += float64(l[k*q+a]) * float64(l[m*q+b]) * pix(ty*tt.Step-tt.Pad+a, tx*tt.Step-tt.Pad+b, ch)
								}
							}
							j := ((k*p+m)*c.ld+n)*tt.Ch + ch
							owned[j] = true
							if math.Abs(float64(dst[j])-s) > 1e-4*(1+math.Abs(s)) {
								t.Fatalf("case %d: tile %d channel %d value (%d, %d) = %g, want %g", i, n, ch, k, m, dst[j], s)
							}
						}
					}
				}
			}
		}
		for j, v := range dst {
			if !owned[j] && v != marker {
				t.Fatalf("case %d: TileTransform wrote value %d, outside its tiles", i, j)
			}
		}

		// Back: p x p pixels from q x q tiles; where tiles overlap, the
		// last one's values stay.
		src := make([]float32, ((q*q-1)*c.ld+tt.Tiles())*tt.Ch)
		for j := range src {
			src[j] = float32(r.NormFloat64())
		}
		bias := make([]float32, tt.Ch)
		for j := range bias {
			bias[j] = float32(j) - 2
		}
		out := make([]float32, len(img))
		want := make([]float64, len(img))
		for j := range out {
			out[j], want[j] = marker, marker
		}
		TileUntransform(src, c.ld, l, p, q, out, tt, bias)
		for ty := range tt.TilesY {
			for tx := range tt.TilesX {
				n := ty*tt.TilesX + tx
				for k := range p {
					for m := range p {
						y, x := ty*tt.Step-tt.Pad+k, tx*tt.Step-tt.Pad+m
						if y < 0 || y >= tt.H || x < 0 || x >= tt.W {
							continue
						}
						for ch := range tt.Ch {
							s := float64(bias[ch])
							for a := range q {
								for b := range q {
									s += float64(l[k*q+a]) * float64(l[m*q+b]) * float64(src[((a*q+b)*c.ld+n)*tt.Ch+ch])
								}
							}
							want[(y*tt.W+x)*tt.Ch+ch] = s
						}
					}
				}
			}
		}
		for j, s := range want {
			if math.Abs(float64(out[j])-s) > 1e-4*(1+math.Abs(s)) {
				t.Fatalf("case %d: value %d of the image = %g, want %g", i, j, out[j], s)
			}
		}
	}
}

// Transpose transposes, on every path, every shape including those that
// are not multiples of its blocks.
func TestTranspose(t *testing.T) {
	for _, sh := range [][2]int{{1, 1}, {1, 7}, {7, 1}, {8, 8}, {16, 16}, {17, 33}, {32, 196}, {196, 64}, {3, 100}, {100, 3}, {9, 15}} {
		rows, cols := sh[0], sh[1]
		src := make([]float32, rows*cols)
		for i := range src {
			src[i] = float32(i) + 0.5
		}
		forPaths(t, func(t *testing.T) {
			dst := make([]float32, rows*cols+1)
			dst[rows*cols] = -1
			Transpose(dst, src, rows, cols)
			for i := range rows {
				for j := range cols {
					if dst[j*rows+i] != src[i*cols+j] {
						t.Fatalf("%dx%d: (%d, %d) = %v, want %v", rows, cols, j, i, dst[j*rows+i], src[i*cols+j])
					}
				}
			}
			if dst[rows*cols] != -1 {
				t.Fatalf("%dx%d: wrote past the end", rows, cols)
			}
		})
	}
	mustPanic(t, "Transpose of too few values", func() { Transpose(make([]float32, 6), make([]float32, 5), 2, 3) })
}

// BenchmarkTranspose times the transposes of a Winograd convolution of
// the CNN's second layer: a 32 x 196 sample and a 64 x 196 output.
func BenchmarkTranspose(b *testing.B) {
	for _, sh := range [][2]int{{32, 196}, {196, 64}} {
		src, dst := make([]float32, sh[0]*sh[1]), make([]float32, sh[0]*sh[1])
		b.Run(fmt.Sprintf("%dx%d", sh[0], sh[1]), func(b *testing.B) {
			for b.Loop() {
				Transpose(dst, src, sh[0], sh[1])
			}
			b.ReportMetric(float64(len(src))*float64(b.N)/b.Elapsed().Seconds()/1e6, "Melem/s")
		})
	}
}

func TestTilePanics(t *testing.T) {
	good := Tiling{H: 4, W: 4, Ch: 2, TilesY: 2, TilesX: 2, Step: 2}
	img := make([]float32, 32)
	l := make([]float32, 36)
	dst := make([]float32, 36*4*2)
	for name, f := range map[string]func(){
		"bad tiling":    func() { TileTransform(img, Tiling{H: 4, W: 4, Ch: 2, TilesY: 1, TilesX: 1}, l, 6, 6, dst, 4) },
		"short image":   func() { TileTransform(img[:31], good, l, 6, 6, dst, 4) },
		"big transform": func() { TileTransform(img, good, make([]float32, 81), 9, 9, dst, 4) },
		"short matrix":  func() { TileTransform(img, good, l[:35], 6, 6, dst, 4) },
		"small ld":      func() { TileTransform(img, good, l, 6, 6, dst, 3) },
		"short tiles":   func() { TileTransform(img, good, l, 6, 6, dst[:len(dst)-1], 4) },
		"short src":     func() { TileUntransform(dst[:len(dst)-1], 4, l, 6, 6, img, good, nil) },
		"short bias":    func() { TileUntransform(dst, 4, l, 6, 6, img, good, make([]float32, 1)) },
		"negative pad": func() {
			TileTransform(img, Tiling{H: 4, W: 4, Ch: 2, TilesY: 1, TilesX: 1, Step: 1, Pad: -1}, l, 6, 6, dst, 4)
		},
		"zero channels":  func() { TileUntransform(dst, 4, l, 6, 6, img, Tiling{H: 4, W: 4, TilesY: 1, TilesX: 1, Step: 1}, nil) },
		"negative tiles": func() { TileTransform(img, Tiling{H: 4, W: 4, Ch: 2, TilesY: -1, TilesX: 1, Step: 1}, l, 6, 6, dst, 4) },
	} {
		mustPanic(t, name, f)
	}
	// No tiles: nothing to do, nothing read.
	TileTransform(img, Tiling{H: 4, W: 4, Ch: 2, Step: 1}, l, 6, 6, nil, 0)
}

// BenchmarkTileTransform times the transforms of a Winograd F(2x2, 5x5)
// convolution over a 32 x 14 x 14 image (the CNN's second convolution):
// the input's 6x6 tiles and the way back from 6x6 to 2x2.
func BenchmarkTileTransform(b *testing.B) {
	tt := Tiling{H: 14, W: 14, Ch: 32, TilesY: 7, TilesX: 7, Step: 2, Pad: 2}
	r := rand.New(rand.NewPCG(1, 2))
	img := make([]float32, 14*14*32)
	for i := range img {
		img[i] = float32(r.NormFloat64())
	}
	// The transforms of F(2x2, 5x5) with interpolation points 0, 1, -1,
	// 2, -2 and infinity.
	bt := []float32{4, 0, -5, 0, 1, 0, 0, 4, 4, -1, -1, 0, 0, -4, 4, 1, -1, 0, 0, -2, -1, 2, 1, 0, 0, 2, -1, -2, 1, 0, 0, 4, 0, -5, 0, 1}
	at := []float32{1, 1, 1, 1, 1, 0, 0, 1, -1, 2, -2, 1}
	tiles := make([]float32, 36*49*32)
	out := Tiling{H: 14, W: 14, Ch: 32, TilesY: 7, TilesX: 7, Step: 2}
	b.Run("input", func(b *testing.B) {
		for b.Loop() {
			TileTransform(img, tt, bt, 6, 6, tiles, 49)
		}
		b.ReportMetric(float64(len(img))*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mpixel-values/s")
	})
	b.Run("output", func(b *testing.B) {
		for b.Loop() {
			TileUntransform(tiles, 49, at, 2, 6, img, out, nil)
		}
		b.ReportMetric(float64(len(img))*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mpixel-values/s")
	})
}

// TransposeInto transposes, on every path and split between the workers,
// shapes large enough to split, with blocks that are not multiples of 8.
func TestTransposeInto(t *testing.T) {
	for _, sh := range [][2]int{{784, 500}, {500, 784}, {129, 257}, {3, 5}, {1000, 17}} {
		rows, cols := sh[0], sh[1]
		src := New(rows, cols)
		for i := range src.Data {
			src.Data[i] = float32(i) + 0.25
		}
		forPaths(t, func(t *testing.T) {
			dst := New(cols, rows)
			TransposeInto(dst, src)
			for i := range rows {
				for j := range cols {
					if dst.At(j, i) != src.At(i, j) {
						t.Fatalf("%dx%d: (%d, %d) = %v, want %v", rows, cols, j, i, dst.At(j, i), src.At(i, j))
					}
				}
			}
		})
	}
	mustPanic(t, "TransposeInto of mismatched shapes", func() { TransposeInto(New(3, 3), New(3, 4)) })
}
