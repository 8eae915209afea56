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
	tmp  []float32 // source rows x output columns
}

func (r *areaResizer) set(sw, sh, dw, dh int) {
	r.x.set(sw, dw)
	r.y.set(sh, dh)
	r.tmp = resizeNoClear(r.tmp, sh*dw)
}

// int16 resizes src (stride ss, size set by set) into dst (stride dw), multiplying by scale; with abs it
// averages absolute values.
func (r *areaResizer) int16(dst []float32, src []int16, ss int, scale float32, abs bool) {
	ax := &r.x
	dw := ax.dst
	for y := 0; y < r.y.src; y++ {
		row := src[y*ss : y*ss+ax.src]
		t := r.tmp[y*dw : y*dw+dw]
		for o := range t {
			lo, hi := int(ax.lo[o]), int(ax.hi[o])
			a, b := int32(row[lo]), int32(row[hi-1])
			if abs {
				a, b = abs32(a), abs32(b)
			}
			if hi-lo == 1 {
				t[o] = float32(a)
				continue
			}
			var sum int32
			if abs {
				for _, v := range row[lo+1 : hi-1] {
					sum += abs32(int32(v))
				}
			} else {
				for _, v := range row[lo+1 : hi-1] {
					sum += int32(v)
				}
			}
			t[o] = ax.wLo[o]*float32(a) + ax.inner*float32(sum) + ax.wHi[o]*float32(b)
		}
	}
	r.vertical(dst, scale)
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
