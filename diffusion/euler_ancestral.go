package diffusion

import (
	"fmt"
	"math"
)

// EulerAncestral is diffusers' EulerAncestralDiscreteScheduler: an Euler step to sigma_down plus fresh noise
// of scale sigma_up.
type EulerAncestral struct {
	cfg       SchedulerConfig
	ns        *noiseSchedule
	timesteps []float64
	sigmas    []float64
}

// SetTimesteps implements Scheduler. Karras sigmas do not apply to this class (diffusers ignores the key).
func (e *EulerAncestral) SetTimesteps(n int) error {
	if err := checkSteps(n, e.cfg); err != nil {
		return err
	}
	c := e.cfg
	c.UseKarrasSigmas = false
	e.timesteps, e.sigmas = kSchedule(c, e.ns, n, 0)
	return nil
}

// Timesteps implements Scheduler.
func (e *EulerAncestral) Timesteps() []float64 { return e.timesteps }

// Sigmas implements Scheduler.
func (e *EulerAncestral) Sigmas() []float64 { return e.sigmas }

// InitNoiseSigma implements Scheduler.
func (e *EulerAncestral) InitNoiseSigma() float64 {
	return initNoiseSigmaK(e.cfg.TimestepSpacing, e.sigmas)
}

// ScaleModelInput implements Scheduler.
func (e *EulerAncestral) ScaleModelInput(i int, sample []float64) ([]float64, error) {
	if i < 0 || i >= len(e.timesteps) {
		return nil, fmt.Errorf("diffusion: step index %d outside [0,%d): %w", i, len(e.timesteps), ErrStepOrder)
	}
	return scaleInputSigma(sample, e.sigmas[i]), nil
}

// Step implements Scheduler; it draws len(sample) values from noise on every step (the last one included, as
// diffusers does, although sigma_up is 0 there).
func (e *EulerAncestral) Step(i int, modelOutput, sample []float64, noise Noise) ([]float64, error) {
	if err := checkStep(i, -1, len(e.timesteps), modelOutput, sample); err != nil {
		return nil, err
	}
	if noise == nil {
		return nil, fmt.Errorf("diffusion: Euler Ancestral needs a noise source: %w", ErrBadInput)
	}
	sigma, to := e.sigmas[i], e.sigmas[i+1]
	x0 := predictX0Sigma(e.cfg.PredictionType, sigma, modelOutput, sample)
	up, down := ancestralSigmas(sigma, to)
	dt := down - sigma
	z := make([]float64, len(sample))
	noise.Fill(z)
	out := make([]float64, len(sample))
	for j := range out {
		out[j] = sample[j] + (sample[j]-x0[j])/sigma*dt + z[j]*up
	}
	return out, nil
}

// ancestralSigmas splits the step from sigma to next into a deterministic part (down) and fresh noise (up),
// with up² + down² = next² (float64 here; diffusers uses float32 scalars, which differ by ~1e-7 relative).
func ancestralSigmas(sigma, next float64) (up, down float64) {
	up = math.Sqrt(next * next * (sigma*sigma - next*next) / (sigma * sigma))
	return up, math.Sqrt(math.Max(next*next-up*up, 0))
}
