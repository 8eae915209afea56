package diffusion

import (
	"fmt"
	"math"
)

// SSIM returns the mean structural similarity (Wang et al. 2004) of two images with values in [0,1], laid out
// height×width×channels (Result.Pixels' layout), averaged over channels. It follows scikit-image's
// structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1): an 11-tap
// Gaussian window with mirrored borders, K1=0.01, K2=0.03, and the mean taken away from a 5-pixel border.
func SSIM(a, b []float32, height, width, channels int) (float64, error) {
	const sigma, radius = 1.5, 5
	if height <= 2*radius || width <= 2*radius || channels <= 0 || len(a) != height*width*channels ||
		len(b) != len(a) {
		return 0, fmt.Errorf("diffusion: SSIM of %d and %d values as %dx%dx%d (sides must exceed %d): %w",
			len(a), len(b), height, width, channels, 2*radius, ErrBadInput)
	}
	kernel := make([]float64, 2*radius+1)
	sum := 0.0
	for i := range kernel {
		x := float64(i - radius)
		kernel[i] = math.Exp(-0.5 * x * x / (sigma * sigma))
		sum += kernel[i]
	}
	for i := range kernel {
		kernel[i] /= sum
	}
	const c1, c2 = 0.01 * 0.01, 0.03 * 0.03
	n := height * width
	x, y := make([]float64, n), make([]float64, n)
	xx, yy, xy := make([]float64, n), make([]float64, n), make([]float64, n)
	total := 0.0
	for c := range channels {
		for i := range n {
			x[i], y[i] = float64(a[i*channels+c]), float64(b[i*channels+c])
			xx[i], yy[i], xy[i] = x[i]*x[i], y[i]*y[i], x[i]*y[i]
		}
		ux := gaussianBlur(x, height, width, kernel)
		uy := gaussianBlur(y, height, width, kernel)
		uxx := gaussianBlur(xx, height, width, kernel)
		uyy := gaussianBlur(yy, height, width, kernel)
		uxy := gaussianBlur(xy, height, width, kernel)
		s, count := 0.0, 0
		for r := radius; r < height-radius; r++ {
			for q := radius; q < width-radius; q++ {
				i := r*width + q
				vx := uxx[i] - ux[i]*ux[i]
				vy := uyy[i] - uy[i]*uy[i]
				vxy := uxy[i] - ux[i]*uy[i]
				s += (2*ux[i]*uy[i] + c1) * (2*vxy + c2) / ((ux[i]*ux[i] + uy[i]*uy[i] + c1) * (vx + vy + c2))
				count++
			}
		}
		total += s / float64(count)
	}
	return total / float64(channels), nil
}

// gaussianBlur filters a height×width plane with a separable kernel and scipy's "reflect" borders
// (d c b a | a b c d | d c b a).
func gaussianBlur(in []float64, height, width int, kernel []float64) []float64 {
	r := len(kernel) / 2
	reflect := func(i, n int) int {
		for i < 0 || i >= n {
			if i < 0 {
				i = -i - 1
			}
			if i >= n {
				i = 2*n - i - 1
			}
		}
		return i
	}
	tmp := make([]float64, len(in))
	for y := range height {
		for x := range width {
			s := 0.0
			for k, w := range kernel {
				s += w * in[y*width+reflect(x+k-r, width)]
			}
			tmp[y*width+x] = s
		}
	}
	out := make([]float64, len(in))
	for y := range height {
		for x := range width {
			s := 0.0
			for k, w := range kernel {
				s += w * tmp[reflect(y+k-r, height)*width+x]
			}
			out[y*width+x] = s
		}
	}
	return out
}
