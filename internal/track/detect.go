package track

import (
	"github.com/mvwatch/mvwatch/internal/zone"
	"github.com/mvwatch/mvwatch/mvextract"
)

// Detection settings. They are in blocks of BlockCells x BlockCells cells of the motion field (8x8
// pixels with mvextract's 4x4 grid: H.264's smaller partitions), so they do not depend on the frame size
// in a way an operator would tune.
const (
	// BlockCells is the side of a detection block in field cells.
	BlockCells = 2
	// blockMinCells is how many of a block's cells must move for the block to move.
	blockMinCells = 2
	// minNeighbours is how many of its 8 neighbours a moving block needs to survive the cleanup: a lone
	// block, or a pair, is encoder noise.
	minNeighbours = 2
	// minBlocks is the smallest object, in blocks after cleanup (6 blocks of 8x8 pixels: more than one macroblock).
	minBlocks = 6
)

// Detection is one moving object in one frame: a connected component of moving blocks.
type Detection struct {
	// Box bounds the component in normalised coordinates.
	Box zone.Box
	// Blocks is the component's size in blocks; Motion its mean displacement relative to the global
	// motion, in pixels per frame toward the reference (mvextract's sign).
	Blocks           int
	MotionX, MotionY float64
	// Cells is how many moving field cells the component holds, and sq the sum of their squared
	// displacements (relative to the global motion): with Motion, the spread of its vectors.
	Cells int
	sq    float64
}

// detector turns a motion field into detections; it keeps its buffers.
type detector struct {
	threshold  float32
	cells      []bool
	scratch    []float32
	cols, rows int // block grid
	blocks     []bool
	clean      []bool
	tmp        []bool
	label      []int32
	stack      []int32
	gx, gy     float32
	dets       []Detection
}

// detect finds the moving objects of fld. It returns the detections (reused on the next call) and the
// cleaned moving-block grid (cols x rows blocks).
func (d *detector) detect(fld *mvextract.Field) []Detection {
	d.gx, d.gy = globalMotion(fld, &d.scratch)
	d.cells = moving(d.cells, fld, d.threshold, d.gx, d.gy)
	d.cols, d.rows = (fld.Cols+BlockCells-1)/BlockCells, (fld.Rows+BlockCells-1)/BlockCells
	n := d.cols * d.rows
	d.blocks = resize(d.blocks, n)
	d.clean = resize(d.clean, n)
	d.tmp = resize(d.tmp, n)
	for br := 0; br < d.rows; br++ {
		for bc := 0; bc < d.cols; bc++ {
			k := 0
			for r := br * BlockCells; r < min((br+1)*BlockCells, fld.Rows); r++ {
				for c := bc * BlockCells; c < min((bc+1)*BlockCells, fld.Cols); c++ {
					if d.cells[r*fld.Cols+c] {
						k++
					}
				}
			}
			d.blocks[br*d.cols+bc] = k >= blockMinCells
		}
	}
	// Cleanup: drop blocks with few moving neighbours (noise), then close (dilate, erode) so that the
	// parts of one object join and its holes fill.
	for i := range d.clean {
		d.clean[i] = d.blocks[i] && d.neighbours(d.blocks, i) >= minNeighbours
	}
	for i := range d.tmp {
		d.tmp[i] = d.clean[i] || d.neighbours(d.clean, i) > 0
	}
	for i := range d.clean {
		d.clean[i] = d.tmp[i] && d.neighbours(d.tmp, i) == 8-d.border(i)
	}
	return d.components(fld)
}

// neighbours counts the set 8-neighbours of block i in g.
func (d *detector) neighbours(g []bool, i int) int {
	r, c := i/d.cols, i%d.cols
	k := 0
	for dr := -1; dr <= 1; dr++ {
		for dc := -1; dc <= 1; dc++ {
			rr, cc := r+dr, c+dc
			if (dr != 0 || dc != 0) && rr >= 0 && rr < d.rows && cc >= 0 && cc < d.cols && g[rr*d.cols+cc] {
				k++
			}
		}
	}
	return k
}

// border counts block i's 8-neighbours that lie outside the grid (they count as set for erosion).
func (d *detector) border(i int) int {
	r, c := i/d.cols, i%d.cols
	in := 0
	for dr := -1; dr <= 1; dr++ {
		for dc := -1; dc <= 1; dc++ {
			rr, cc := r+dr, c+dc
			if (dr != 0 || dc != 0) && rr >= 0 && rr < d.rows && cc >= 0 && cc < d.cols {
				in++
			}
		}
	}
	return 8 - in
}

// components labels the 8-connected components of the clean grid and returns those of at least
// minBlocks blocks as detections.
func (d *detector) components(fld *mvextract.Field) []Detection {
	n := d.cols * d.rows
	if cap(d.label) < n {
		d.label = make([]int32, n)
	}
	d.label = d.label[:n]
	clear(d.label)
	d.dets = d.dets[:0]
	bpx := float64(BlockCells * fld.Cell) // block side in pixels
	w, h := float64(fld.Width), float64(fld.Height)
	var next int32
	for start := range d.clean {
		if !d.clean[start] || d.label[start] != 0 {
			continue
		}
		next++
		d.stack = append(d.stack[:0], int32(start))
		d.label[start] = next
		c0, r0, c1, r1 := d.cols, d.rows, -1, -1
		size := 0
		var sx, sy, sq float64
		var nv int
		for len(d.stack) > 0 {
			i := int(d.stack[len(d.stack)-1])
			d.stack = d.stack[:len(d.stack)-1]
			size++
			r, c := i/d.cols, i%d.cols
			c0, r0, c1, r1 = min(c0, c), min(r0, r), max(c1, c), max(r1, r)
			for rr := r * BlockCells; rr < min((r+1)*BlockCells, fld.Rows); rr++ {
				for cc := c * BlockCells; cc < min((c+1)*BlockCells, fld.Cols); cc++ {
					if k := rr*fld.Cols + cc; d.cells[k] {
						vx, vy := float64(fld.DX[k]-d.gx), float64(fld.DY[k]-d.gy)
						sx, sy, sq = sx+vx, sy+vy, sq+vx*vx+vy*vy
						nv++
					}
				}
			}
			for dr := -1; dr <= 1; dr++ {
				for dc := -1; dc <= 1; dc++ {
					rr, cc := r+dr, c+dc
					if rr < 0 || rr >= d.rows || cc < 0 || cc >= d.cols {
						continue
					}
					if j := rr*d.cols + cc; d.clean[j] && d.label[j] == 0 {
						d.label[j] = next
						d.stack = append(d.stack, int32(j))
					}
				}
			}
		}
		if size < minBlocks {
			continue
		}
		det := Detection{Blocks: size, Cells: nv, sq: sq, Box: zone.Box{
			X0: float64(c0) * bpx / w, Y0: float64(r0) * bpx / h,
			X1: min(float64(c1+1)*bpx/w, 1), Y1: min(float64(r1+1)*bpx/h, 1),
		}}
		if nv > 0 {
			det.MotionX, det.MotionY = sx/float64(nv), sy/float64(nv)
		}
		d.dets = append(d.dets, det)
	}
	return d.dets
}

func resize(s []bool, n int) []bool {
	if cap(s) < n {
		return make([]bool, n)
	}
	return s[:n]
}
