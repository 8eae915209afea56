package track

import (
	"math"

	"github.com/mvwatch/mvwatch/mvextract"
)

// globalMotion returns the median past displacement of the field's cells that carry a vector: the
// frame's global motion (a pan moves every cell alike), or 0, 0 when under half the cells carry one.
// scratch is reused.
func globalMotion(fld *mvextract.Field, scratch *[]float32) (float32, float32) {
	xs := (*scratch)[:0]
	for i, m := range fld.Mask {
		if m != 0 {
			xs = append(xs, fld.DX[i])
		}
	}
	n := len(xs)
	if n < len(fld.Mask)/2 {
		*scratch = xs
		return 0, 0
	}
	mx := nth(xs, n/2)
	xs = xs[:0]
	for i, m := range fld.Mask {
		if m != 0 {
			xs = append(xs, fld.DY[i])
		}
	}
	my := nth(xs, n/2)
	*scratch = xs
	return mx, my
}

// moving writes into dst (resized to the field's cells) whether each cell moves by more than threshold
// pixels per frame relative to the global motion (gx, gy), and returns dst.
func moving(dst []bool, fld *mvextract.Field, threshold, gx, gy float32) []bool {
	n := fld.Cols * fld.Rows
	if cap(dst) < n {
		dst = make([]bool, n)
	}
	dst = dst[:n]
	t2 := float64(threshold) * float64(threshold)
	for i := range dst {
		if fld.Mask[i] == 0 {
			dst[i] = false
			continue
		}
		dx, dy := float64(fld.DX[i]-gx), float64(fld.DY[i]-gy)
		dst[i] = dx*dx+dy*dy > t2 && !math.IsNaN(dx+dy)
	}
	return dst
}

// nth returns the k-th smallest value of xs (reordering it): quickselect.
func nth(xs []float32, k int) float32 {
	lo, hi := 0, len(xs)-1
	for lo < hi {
		p := xs[(lo+hi)/2]
		i, j := lo, hi
		for i <= j {
			for xs[i] < p {
				i++
			}
			for xs[j] > p {
				j--
			}
			if i <= j {
				xs[i], xs[j] = xs[j], xs[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return xs[k]
		}
	}
	return xs[k]
}
