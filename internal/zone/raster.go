package zone

// Raster marks the cells of a cols x rows grid over the picture whose centres lie inside any of the
// polygons: cell (c, r) at index r*cols+c, centre ((c+0.5)/cols, (r+0.5)/rows). It returns nil when no
// cell is marked, so a camera without masks costs nothing.
func Raster(polys []Polygon, cols, rows int) []bool {
	if len(polys) == 0 || cols <= 0 || rows <= 0 {
		return nil
	}
	out := make([]bool, cols*rows)
	any := false
	for _, p := range polys {
		b := p.Bounds()
		r0, r1 := max(int(b.Y0*float64(rows)-0.5), 0), min(int(b.Y1*float64(rows)+0.5), rows-1)
		c0, c1 := max(int(b.X0*float64(cols)-0.5), 0), min(int(b.X1*float64(cols)+0.5), cols-1)
		for r := r0; r <= r1; r++ {
			y := (float64(r) + 0.5) / float64(rows)
			for c := c0; c <= c1; c++ {
				if p.Contains((float64(c)+0.5)/float64(cols), y) {
					out[r*cols+c] = true
					any = true
				}
			}
		}
	}
	if !any {
		return nil
	}
	return out
}
