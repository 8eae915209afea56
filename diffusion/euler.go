package diffusion

import "fmt"

// Euler is diffusers' EulerDiscreteScheduler (Algorithm 2 of Karras et al. 2022 without churn).
type Euler struct {
	cfg       SchedulerConfig
	ns        *noiseSchedule
	timesteps []float64
	sigmas    []float64
}

// SetTimesteps implements Scheduler.
func (e *Euler) SetTimesteps(n int) error {
	if err := checkSteps(n, e.cfg); err != nil {
		return err
	}
	final := 0.0
	if e.cfg.FinalSigmasType == "sigma_min" {
		final = e.ns.sigmas[0]
	}
	e.timesteps, e.sigmas = kSchedule(e.cfg, e.ns, n, final)
	for i, t := range e.timesteps {
		e.timesteps[i] = roundF32(t)
	}
	return nil
}

// Timesteps implements Scheduler.
func (e *Euler) Timesteps() []float64 { return e.timesteps }

// Sigmas implements Scheduler.
func (e *Euler) Sigmas() []float64 { return e.sigmas }

// InitNoiseSigma implements Scheduler.
func (e *Euler) InitNoiseSigma() float64 { return initNoiseSigmaK(e.cfg.TimestepSpacing, e.sigmas) }

// ScaleModelInput implements Scheduler.
func (e *Euler) ScaleModelInput(i int, sample []float64) ([]float64, error) {
	if i < 0 || i >= len(e.timesteps) {
		return nil, fmt.Errorf("diffusion: step index %d outside [0,%d): %w", i, len(e.timesteps), ErrStepOrder)
	}
	return scaleInputSigma(sample, e.sigmas[i]), nil
}

// Step implements Scheduler.
func (e *Euler) Step(i int, modelOutput, sample []float64, _ Noise) ([]float64, error) {
	if err := checkStep(i, -1, len(e.timesteps), modelOutput, sample); err != nil {
		return nil, err
	}
	sigma := e.sigmas[i]
	x0 := predictX0Sigma(e.cfg.PredictionType, sigma, modelOutput, sample)
	dt := e.sigmas[i+1] - sigma
	out := make([]float64, len(sample))
	for j := range out {
		out[j] = sample[j] + (sample[j]-x0[j])/sigma*dt
	}
	return out, nil
}
