package mvextract

// areaAxis holds the area-average weights of one axis, src samples onto dst samples: output o covers the
// source interval [o*s, (o+1)*s) with s = src/dst, and takes the mean of the source samples over it,
// weighting partly covered samples by their overlap.
type areaAxis struct {
	src, dst int
	// lo and hi bound the source samples of each output: [lo, hi).
	lo, hi []int32
	// wLo and wHi weigh samples lo and hi-1 (wHi is 0 when hi-lo == 1); inner weighs the samples
	// strictly between. All are already divided by s.
	wLo, wHi []float32
	inner    float32
}

func (a *areaAxis) set(src, dst int) {
	if a.src == src && a.dst == dst {
		return
	}
	a.src, a.dst = src, dst
	a.lo, a.hi = resizeNoClear(a.lo, dst), resizeNoClear(a.hi, dst)
	a.wLo, a.wHi = resizeNoClear(a.wLo, dst), resizeNoClear(a.wHi, dst)
	s := float64(src) / float64(dst)
	a.inner = float32(1 / s)
	for o := 0; o < dst; o++ {
		x0, x1 := float64(o)*s, float64(o+1)*s
		lo := int(x0)
		hi := min(int(x1), src)
		if float64(hi) < x1 && hi < src {
			hi++
		}
		hi = max(hi, lo+1)
		a.lo[o], a.hi[o] = int32(lo), int32(hi)
		if hi-lo == 1 {
			a.wLo[o], a.wHi[o] = 1, 0 // the interval lies in one sample: its mean is that sample
			continue
		}
		a.wLo[o] = float32((float64(lo+1) - x0) / s)
		a.wHi[o] = float32((x1 - float64(hi-1)) / s)
	}
}

// areaResizer area-averages planes of one size onto another, separably (rows first), reusing its buffers.
type areaResizer struct {
	x, y areaAxis
	tmp  []float32 // source rows x output columns (float32 path)
	iacc []int32   // integer row sums (int16 path)
	facc []float32 // weighted row sums (int16 path)
}

func (r *areaResizer) set(sw, sh, dw, dh int) {
	r.x.set(sw, dw)
	r.y.set(sh, dh)
	r.tmp = resizeNoClear(r.tmp, sh*dw)
	r.iacc = resizeNoClear(r.iacc, sw)
	r.facc = resizeNoClear(r.facc, sw)
}

// int16 resizes src (stride ss, size set by set) into dst (stride dw), multiplying by scale; with abs it
// averages absolute values. It sums source rows first (one integer add per pixel for the rows wholly
// inside an output row), then resizes the few summed rows horizontally.
func (r *areaResizer) int16(dst []float32, src []int16, ss int, scale float32, abs bool) {
	ax, ay := &r.x, &r.y
	sw, dw := ax.src, ax.dst
	r.iacc = resizeNoClear(r.iacc, sw)
	r.facc = resizeNoClear(r.facc, sw)
	iacc, facc := r.iacc, r.facc[:len(r.iacc)]
	for o := 0; o < ay.dst; o++ {
		lo, hi := int(ay.lo[o]), int(ay.hi[o])
		// Rows strictly inside, weight 1: integer sums.
		clear(iacc)
		for y := lo + 1; y < hi-1; y++ {
			row := src[y*ss : y*ss+sw][:len(iacc)]
			if abs {
				for x, v := range row {
					iacc[x] += abs32(int32(v))
				}
			} else {
				addRow(iacc, row)
			}
		}
		// Partly covered first and last rows, by their weights.
		wl, wh, in := ay.wLo[o], ay.wHi[o], ay.inner
		first := src[lo*ss : lo*ss+sw][:len(iacc)]
		if hi-lo == 1 {
			wl, wh = 1, 0
		}
		last := src[(hi-1)*ss : (hi-1)*ss+sw][:len(iacc)]
		for x := range facc {
			a, b := int32(first[x]), int32(last[x])
			if abs {
				a, b = abs32(a), abs32(b)
			}
			facc[x] = wl*float32(a) + wh*float32(b) + in*float32(iacc[x])
		}
		if hi-lo == 1 {
			for x := range facc {
				facc[x] = float32(first[x])
				if abs {
					facc[x] = float32(abs32(int32(first[x])))
				}
			}
		}
		// Horizontal.
		d := dst[o*dw : o*dw+dw]
		for i := range d {
			xl, xh := int(ax.lo[i]), int(ax.hi[i])
			if xh-xl == 1 {
				d[i] = facc[xl] * scale
				continue
			}
			var sum float32
			for _, v := range facc[xl+1 : xh-1] {
				sum += v
			}
			d[i] = (ax.wLo[i]*facc[xl] + ax.inner*sum + ax.wHi[i]*facc[xh-1]) * scale
		}
	}
}

// float32 resizes src (stride ss) into dst (stride dw), multiplying by scale.
func (r *areaResizer) float32(dst, src []float32, ss int, scale float32) {
	ax := &r.x
	dw := ax.dst
	for y := 0; y < r.y.src; y++ {
		row := src[y*ss : y*ss+ax.src]
		t := r.tmp[y*dw : y*dw+dw]
		for o := range t {
			lo, hi := int(ax.lo[o]), int(ax.hi[o])
			if hi-lo == 1 {
				t[o] = row[lo]
				continue
			}
			var sum float32
			for _, v := range row[lo+1 : hi-1] {
				sum += v
			}
			t[o] = ax.wLo[o]*row[lo] + ax.inner*sum + ax.wHi[o]*row[hi-1]
		}
	}
	r.vertical(dst, scale)
}

// vertical area-averages the rows of tmp into dst.
func (r *areaResizer) vertical(dst []float32, scale float32) {
	ay := &r.y
	dw := r.x.dst
	for o := 0; o < ay.dst; o++ {
		d := dst[o*dw : o*dw+dw]
		lo, hi := int(ay.lo[o]), int(ay.hi[o])
		first := r.tmp[lo*dw : lo*dw+dw]
		if hi-lo == 1 {
			for i := range d {
				d[i] = first[i] * scale
			}
			continue
		}
		wl := ay.wLo[o]
		for i := range d {
			d[i] = wl * first[i]
		}
		for y := lo + 1; y < hi-1; y++ {
			row := r.tmp[y*dw : y*dw+dw]
			for i := range d {
				d[i] += ay.inner * row[i]
			}
		}
		wh := ay.wHi[o]
		last := r.tmp[(hi-1)*dw : (hi-1)*dw+dw]
		for i := range d {
			d[i] = (d[i] + wh*last[i]) * scale
		}
	}
}

func abs32(v int32) int32 {
	if v < 0 {
		return -v
	}
	return v
}

// addRow adds row to acc element-wise (acc at least as long as row), unrolled by eight.
func addRow(acc []int32, row []int16) {
	acc = acc[:len(row)]
	x := 0
	for ; x+8 <= len(row); x += 8 {
		a, r := acc[x:x+8:x+8], row[x:x+8:x+8]
		a[0], a[1] = a[0]+int32(r[0]), a[1]+int32(r[1])
		a[2], a[3] = a[2]+int32(r[2]), a[3]+int32(r[3])
		a[4], a[5] = a[4]+int32(r[4]), a[5]+int32(r[5])
		a[6], a[7] = a[6]+int32(r[6]), a[7]+int32(r[7])
	}
	for ; x < len(row); x++ {
		acc[x] += int32(row[x])
	}
}
