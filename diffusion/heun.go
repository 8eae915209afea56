package diffusion

import "fmt"

// Heun is diffusers' HeunDiscreteScheduler (Algorithm 1 of Karras et al. 2022): every step but the last costs
// two UNet evaluations, an Euler predictor and a trapezoidal corrector.
type Heun struct {
	cfg       SchedulerConfig
	ns        *noiseSchedule
	timesteps []float64 // 2n-1 entries: t0, t1, t1, t2, t2, ...
	sigmas    []float64 // 2n entries: s0, s1, s1, ..., s(n-1), s(n-1), 0
	next      int

	// state between the two evaluations of a step
	prevDerivative []float64
	dt             float64
	prevSample     []float64
}

// SetTimesteps implements Scheduler.
func (h *Heun) SetTimesteps(n int) error {
	if err := checkSteps(n, h.cfg); err != nil {
		return err
	}
	ts, sig := kSchedule(h.cfg, h.ns, n, 0)
	h.sigmas = append([]float64{sig[0]}, repeatEach(sig[1:n], 2)...)
	h.sigmas = append(h.sigmas, sig[n])
	h.timesteps = append([]float64{ts[0]}, repeatEach(ts[1:], 2)...)
	for i, t := range h.timesteps {
		h.timesteps[i] = roundF32(t)
	}
	h.next, h.prevDerivative, h.prevSample = 0, nil, nil
	return nil
}

// repeatEach repeats every element of s k times.
func repeatEach(s []float64, k int) []float64 {
	out := make([]float64, 0, len(s)*k)
	for _, v := range s {
		for range k {
			out = append(out, v)
		}
	}
	return out
}

// Timesteps implements Scheduler.
func (h *Heun) Timesteps() []float64 { return h.timesteps }

// Sigmas implements Scheduler (the expanded table, one entry per evaluation plus the final 0).
func (h *Heun) Sigmas() []float64 { return h.sigmas }

// InitNoiseSigma implements Scheduler.
func (h *Heun) InitNoiseSigma() float64 { return initNoiseSigmaK(h.cfg.TimestepSpacing, h.sigmas) }

// ScaleModelInput implements Scheduler.
func (h *Heun) ScaleModelInput(i int, sample []float64) ([]float64, error) {
	if i < 0 || i >= len(h.timesteps) {
		return nil, fmt.Errorf("diffusion: step index %d outside [0,%d): %w", i, len(h.timesteps), ErrStepOrder)
	}
	return scaleInputSigma(sample, h.sigmas[i]), nil
}

// Step implements Scheduler. Evaluations must be stepped in order.
func (h *Heun) Step(i int, modelOutput, sample []float64, _ Noise) ([]float64, error) {
	if err := checkStep(i, h.next, len(h.timesteps), modelOutput, sample); err != nil {
		return nil, err
	}
	first := h.prevDerivative == nil
	var sigma, sigmaNext float64
	if first {
		sigma, sigmaNext = h.sigmas[i], h.sigmas[i+1]
	} else {
		sigma, sigmaNext = h.sigmas[i-1], h.sigmas[i]
	}
	sigmaInput := sigma
	if !first {
		sigmaInput = sigmaNext
	}
	x0 := predictX0Sigma(h.cfg.PredictionType, sigmaInput, modelOutput, sample)
	if h.cfg.ClipSample {
		clampAll(x0, h.cfg.ClipSampleRange)
	}
	out := make([]float64, len(sample))
	if first {
		d := make([]float64, len(sample))
		dt := sigmaNext - sigma
		for j := range d {
			d[j] = (sample[j] - x0[j]) / sigma
			out[j] = sample[j] + d[j]*dt
		}
		h.prevDerivative, h.dt, h.prevSample = d, dt, append([]float64(nil), sample...)
	} else {
		for j := range out {
			d := ((sample[j]-x0[j])/sigmaNext + h.prevDerivative[j]) / 2
			out[j] = h.prevSample[j] + d*h.dt
		}
		h.prevDerivative, h.prevSample = nil, nil
	}
	h.next++
	return out, nil
}
