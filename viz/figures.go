package viz

import (
	"fmt"
	"image"

	"github.com/harmonium-ml/harmonium/mat32"
)

// rowsOf returns the rows of m as slices (sharing storage).
func rowsOf(m *mat32.Dense) [][]float32 {
	out := make([][]float32, m.Rows)
	for i := range out {
		out[i] = m.Row(i)
	}
	return out
}

// Reconstructions draws a grid of originals beside the grid of their
// reconstructions, in the same order, each grid captioned.
func Reconstructions(orig, rec *mat32.Dense, s Shape, zoom int) *image.Gray {
	return ReconstructionsAs(orig, rec, s, zoom, "reconstructions p(v|h)")
}

// ReconstructionsAs draws originals beside reconstructions as
// Reconstructions does, with the given caption over the reconstructions.
func ReconstructionsAs(orig, rec *mat32.Dense, s Shape, zoom int, caption string) *image.Gray {
	cols := GridCols(orig.Rows)
	left := Caption(Grid(rowsOf(orig), s, cols, zoom), fmt.Sprintf("originals (%d)", orig.Rows))
	right := Caption(Grid(rowsOf(rec), s, cols, zoom), caption)
	return Beside(24, left, right)
}

// GridOf draws the rows of m as images in a grid of cols columns (see Grid).
func GridOf(m *mat32.Dense, s Shape, cols, zoom int) *image.Gray {
	return Grid(rowsOf(m), s, cols, zoom)
}

// Filters draws the incoming weights of the first n hidden units of w
// (visible x hidden) as tiles, each scaled to its own range (dark is
// positive), in a square-ish grid.
func Filters(w *mat32.Dense, n int, s Shape, zoom int) *image.Gray {
	tiles := make([][]float32, n)
	col := make([]float32, w.Rows)
	for j := 0; j < n; j++ {
		for i := range col {
			col[i] = w.At(i, j)
		}
		tiles[j] = Normalize(col)
	}
	return Caption(Grid(tiles, s, GridCols(n), zoom), fmt.Sprintf("filters of hidden units 1-%d (each tile scaled to its own range; dark = positive)", n))
}

// Samples draws Gibbs chains. With one frame, the chains' final images in a
// square-ish grid; with several (snapshots every k steps), one row per
// chain, one column per snapshot.
func Samples(frames []*mat32.Dense, steps []int, s Shape, zoom int) *image.Gray {
	last := frames[len(frames)-1]
	if len(frames) == 1 {
		return Caption(Grid(rowsOf(last), s, GridCols(last.Rows), zoom),
			fmt.Sprintf("%d samples after %d Gibbs steps (p(v|h) of the last step)", last.Rows, steps[0]))
	}
	tiles := make([][]float32, 0, last.Rows*len(frames))
	for c := 0; c < last.Rows; c++ {
		for _, f := range frames {
			tiles = append(tiles, f.Row(c))
		}
	}
	return Caption(Grid(tiles, s, len(frames), zoom),
		fmt.Sprintf("%d chains, one per row; columns after steps %v", last.Rows, steps))
}
