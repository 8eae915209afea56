package diffusion

import (
	"fmt"
	"math"
)

// noiseSchedule holds the training-time noise schedule shared by every scheduler: betas, alphas_cumprod and the
// k-diffusion sigmas sqrt((1-ᾱ)/ᾱ), indexed by training timestep.
//
// diffusers keeps these tables in float32 (torch.linspace/cumprod on float32 tensors). To match it to 1e-5 the
// tables are rounded to float32 at the same points diffusers rounds them; all arithmetic on samples is float64.
type noiseSchedule struct {
	alphasCumprod []float64 // float32-rounded values, as diffusers stores them
	sigmas        []float64 // float32 sqrt((1-ᾱ)/ᾱ), index = training timestep
	logSigmas     []float64 // float32 log(sigmas)
}

// newNoiseSchedule builds the schedule described by c.
func newNoiseSchedule(c SchedulerConfig) (*noiseSchedule, error) {
	n := c.NumTrainTimesteps
	if n < 2 {
		return nil, fmt.Errorf("diffusion: num_train_timesteps %d: %w", n, ErrBadConfig)
	}
	betas := make([]float32, n)
	switch {
	case len(c.TrainedBetas) > 0:
		if len(c.TrainedBetas) != n {
			return nil, fmt.Errorf("diffusion: trained_betas has %d values, num_train_timesteps is %d: %w",
				len(c.TrainedBetas), n, ErrBadConfig)
		}
		for i, b := range c.TrainedBetas {
			betas[i] = float32(b)
		}
	case c.BetaSchedule == "linear":
		for i, v := range linspace(c.BetaStart, c.BetaEnd, n) {
			betas[i] = float32(v)
		}
	case c.BetaSchedule == "scaled_linear":
		for i, v := range linspace(math.Sqrt(c.BetaStart), math.Sqrt(c.BetaEnd), n) {
			r := float32(v)
			betas[i] = r * r
		}
	case c.BetaSchedule == "squaredcos_cap_v2":
		alphaBar := func(t float64) float64 {
			v := math.Cos((t + 0.008) / 1.008 * math.Pi / 2)
			return v * v
		}
		for i := range n {
			t1 := float64(i) / float64(n)
			t2 := float64(i+1) / float64(n)
			betas[i] = float32(math.Min(1-alphaBar(t2)/alphaBar(t1), 0.999))
		}
	default:
		return nil, fmt.Errorf("diffusion: beta_schedule %q (want linear, scaled_linear or squaredcos_cap_v2): %w",
			c.BetaSchedule, ErrBadConfig)
	}
	s := &noiseSchedule{
		alphasCumprod: make([]float64, n),
		sigmas:        make([]float64, n),
		logSigmas:     make([]float64, n),
	}
	prod := 1.0 // torch accumulates a float32 cumprod in double and stores float32
	for i, b := range betas {
		if !(b >= 0 && b < 1) {
			return nil, fmt.Errorf("diffusion: beta[%d]=%v outside [0,1): %w", i, b, ErrBadConfig)
		}
		prod *= float64(float32(1) - b)
		ac := float32(prod)
		if ac <= 0 {
			return nil, fmt.Errorf("diffusion: alphas_cumprod[%d] underflows to 0: %w", i, ErrBadConfig)
		}
		s.alphasCumprod[i] = float64(ac)
		sig := float32(math.Sqrt(float64((float32(1) - ac) / ac)))
		s.sigmas[i] = float64(sig)
		s.logSigmas[i] = float64(float32(math.Log(float64(sig))))
	}
	return s, nil
}

// interp is numpy.interp(x, arange(len(s.sigmas)), s.sigmas) for x in [0, len-1].
func (s *noiseSchedule) interp(x float64) float64 {
	last := len(s.sigmas) - 1
	switch {
	case x <= 0:
		return s.sigmas[0]
	case x >= float64(last):
		return s.sigmas[last]
	}
	j := int(math.Floor(x))
	slope := s.sigmas[j+1] - s.sigmas[j]
	return slope*(x-float64(j)) + s.sigmas[j]
}

// sigmaToT maps a sigma back to a (fractional) training timestep by interpolating log-sigmas, as diffusers'
// _sigma_to_t does.
func (s *noiseSchedule) sigmaToT(sigma float64) float64 {
	logSigma := math.Log(math.Max(sigma, 1e-10))
	n := len(s.logSigmas)
	low := 0
	for i, ls := range s.logSigmas {
		if logSigma-ls >= 0 {
			low = i
		}
	}
	low = min(low, n-2)
	lo, hi := s.logSigmas[low], s.logSigmas[low+1]
	w := (lo - logSigma) / (lo - hi)
	w = math.Min(math.Max(w, 0), 1)
	return (1-w)*float64(low) + w*float64(low+1)
}

// karras returns n sigmas spaced as in Karras et al. (2022) with rho 7, from sigmaMax down to sigmaMin.
func karras(sigmaMin, sigmaMax float64, n int) []float64 {
	const rho = 7.0
	minInv := math.Pow(sigmaMin, 1/rho)
	maxInv := math.Pow(sigmaMax, 1/rho)
	out := make([]float64, n)
	for i, r := range linspace(0, 1, n) {
		out[i] = math.Pow(maxInv+r*(minInv-maxInv), rho)
	}
	return out
}

// linspace is numpy.linspace(start, stop, n) in float64.
func linspace(start, stop float64, n int) []float64 {
	out := make([]float64, n)
	if n == 1 {
		out[0] = start
		return out
	}
	step := (stop - start) / float64(n-1)
	for i := range out {
		out[i] = float64(i)*step + start
	}
	out[n-1] = stop
	return out
}

// arange is numpy.arange(start, stop, step) for float64 arguments, including numpy's way of filling values
// from the first two elements.
func arange(start, stop, step float64) []float64 {
	n := int(math.Ceil((stop - start) / step))
	if n <= 0 {
		return nil
	}
	out := make([]float64, n)
	delta := (start + step) - start
	for i := range out {
		out[i] = start + float64(i)*delta
	}
	if n > 1 {
		out[1] = start + step
	}
	return out
}

// reverse reverses s in place and returns it.
func reverse[T any](s []T) []T {
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
	return s
}

// roundF32 rounds v to the nearest float32, as diffusers does when it stores a schedule in a float32 tensor.
func roundF32(v float64) float64 { return float64(float32(v)) }
