package diffusion

import (
	"fmt"
	"math"
)

// DDIM is diffusers' DDIMScheduler (Song et al. 2020): deterministic for Eta 0, DDPM-like noise for Eta 1.
type DDIM struct {
	cfg       SchedulerConfig
	ns        *noiseSchedule
	finalAC   float64 // ᾱ used before timestep 0: 1 with set_alpha_to_one, else ᾱ[0]
	eta       float64
	n         int
	timesteps []float64
}

func newDDIM(c SchedulerConfig, ns *noiseSchedule) *DDIM {
	d := &DDIM{cfg: c, ns: ns, finalAC: ns.alphasCumprod[0]}
	if c.SetAlphaToOne {
		d.finalAC = 1
	}
	return d
}

// SetEta sets the weight of the added noise (0, the default, is deterministic DDIM; 1 is DDPM).
func (d *DDIM) SetEta(eta float64) error {
	if eta < 0 || math.IsNaN(eta) || math.IsInf(eta, 0) {
		return fmt.Errorf("diffusion: DDIM eta %v: %w", eta, ErrBadConfig)
	}
	d.eta = eta
	return nil
}

// SetTimesteps implements Scheduler.
func (d *DDIM) SetTimesteps(n int) error {
	if err := checkSteps(n, d.cfg); err != nil {
		return err
	}
	ts, err := spacedTimesteps(d.cfg, n, "DDIM")
	if err != nil {
		return err
	}
	d.n, d.timesteps = n, ts
	return nil
}

// Timesteps implements Scheduler.
func (d *DDIM) Timesteps() []float64 { return d.timesteps }

// Sigmas implements Scheduler; DDIM has none.
func (d *DDIM) Sigmas() []float64 { return nil }

// InitNoiseSigma implements Scheduler.
func (d *DDIM) InitNoiseSigma() float64 { return 1 }

// ScaleModelInput implements Scheduler; DDIM does not scale.
func (d *DDIM) ScaleModelInput(i int, sample []float64) ([]float64, error) {
	if i < 0 || i >= len(d.timesteps) {
		return nil, fmt.Errorf("diffusion: step index %d outside [0,%d): %w", i, len(d.timesteps), ErrStepOrder)
	}
	return append([]float64(nil), sample...), nil
}

// Step implements Scheduler (formulas 12 and 16 of the DDIM paper).
func (d *DDIM) Step(i int, modelOutput, sample []float64, noise Noise) ([]float64, error) {
	if err := checkStep(i, -1, len(d.timesteps), modelOutput, sample); err != nil {
		return nil, err
	}
	if d.eta > 0 && noise == nil {
		return nil, fmt.Errorf("diffusion: DDIM with eta %v needs a noise source: %w", d.eta, ErrBadInput)
	}
	t := int(d.timesteps[i])
	prev := t - d.cfg.NumTrainTimesteps/d.n
	aT := d.ns.alphasCumprod[t]
	aPrev := d.finalAC
	if prev >= 0 {
		aPrev = d.ns.alphasCumprod[prev]
	}
	bT := 1 - aT
	sa, sb := math.Sqrt(aT), math.Sqrt(bT)
	x0 := make([]float64, len(sample))
	eps := make([]float64, len(sample))
	for j := range sample {
		switch d.cfg.PredictionType {
		case "epsilon":
			x0[j] = (sample[j] - sb*modelOutput[j]) / sa
			eps[j] = modelOutput[j]
		case "sample":
			x0[j] = modelOutput[j]
			eps[j] = (sample[j] - sa*x0[j]) / sb
		default: // v_prediction
			x0[j] = sa*sample[j] - sb*modelOutput[j]
			eps[j] = sa*modelOutput[j] + sb*sample[j]
		}
	}
	if d.cfg.ClipSample {
		clampAll(x0, d.cfg.ClipSampleRange)
	}
	variance := ((1 - aPrev) / bT) * (1 - aT/aPrev)
	std := d.eta * math.Sqrt(variance)
	dirCoef := math.Sqrt(1 - aPrev - std*std)
	out := make([]float64, len(sample))
	for j := range out {
		out[j] = math.Sqrt(aPrev)*x0[j] + dirCoef*eps[j]
	}
	if d.eta > 0 {
		z := make([]float64, len(sample))
		noise.Fill(z)
		for j := range out {
			out[j] += std * z[j]
		}
	}
	return out, nil
}

// spacedTimesteps returns the n discrete timesteps, descending, that diffusers' DDIM and PNDM schedulers
// pick under cfg's timestep_spacing (linspace, leading with steps_offset, or trailing); name goes into
// the error for a timestep outside the training range.
func spacedTimesteps(cfg SchedulerConfig, n int, name string) ([]float64, error) {
	T := cfg.NumTrainTimesteps
	ts := spacing(cfg, n)
	if cfg.TimestepSpacing == "linspace" {
		for i := range ts {
			ts[i] = math.RoundToEven(ts[i])
		}
	}
	for _, t := range ts {
		if t < 0 || int(t) >= T {
			return nil, fmt.Errorf("diffusion: %s timestep %v outside [0,%d) (steps_offset too large?): %w",
				name, t, T, ErrBadConfig)
		}
	}
	return ts, nil
}
