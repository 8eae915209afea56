package diffusion

import (
	"fmt"
	"math"
)

// KDPM2 is diffusers' KDPM2DiscreteScheduler (DPM-Solver-2 of Karras et al. 2022): a half step to the
// geometric-mean sigma, then a full step with the midpoint derivative; two UNet evaluations per step except
// the last. With use_karras_sigmas (the "dpm2_karras" name) it is "DPM2 Karras".
type KDPM2 struct {
	cfg            SchedulerConfig
	ns             *noiseSchedule
	timesteps      []float64 // 2n-1 entries: t0, ti1, t1, ti2, t2, ...
	sigmas         []float64 // 2n+2 entries: s0, s1, s1, ..., sn, sn, sn (sn = 0)
	sigmasInterpol []float64 // same layout, geometric means sqrt(s(k)·s(k-1))
	next           int
	prevSample     []float64 // set between the two evaluations of a step
}

// SetTimesteps implements Scheduler.
func (k *KDPM2) SetTimesteps(n int) error {
	if err := checkSteps(n, k.cfg); err != nil {
		return err
	}
	ts, sig := kSchedule(k.cfg, k.ns, n, 0)
	if k.cfg.UseKarrasSigmas {
		for i := range ts {
			ts[i] = math.RoundToEven(ts[i])
		}
	}
	// sigmas_interpol = exp(lerp(log s, log roll(s,1), 0.5)) in float32; entry 0 is NaN in diffusers and unused.
	interp := make([]float64, n+1)
	interp[0] = math.NaN()
	for i := 1; i < n; i++ {
		a := float32(math.Log(sig[i]))
		b := float32(math.Log(sig[i-1]))
		interp[i] = float64(float32(math.Exp(float64(b - (b-a)*0.5))))
	}
	interp[n] = 0
	k.sigmas = append(append([]float64{sig[0]}, repeatEach(sig[1:], 2)...), sig[n])
	k.sigmasInterpol = append(append([]float64{interp[0]}, repeatEach(interp[1:], 2)...), interp[n])
	k.timesteps = []float64{ts[0]}
	for i := 1; i < n; i++ {
		ti := k.ns.sigmaToT(interp[i])
		if !k.cfg.UseKarrasSigmas {
			ti = roundF32(ti)
		}
		k.timesteps = append(k.timesteps, ti, ts[i])
	}
	if !k.cfg.UseKarrasSigmas {
		for i, t := range k.timesteps {
			k.timesteps[i] = roundF32(t)
		}
	}
	k.next, k.prevSample = 0, nil
	return nil
}

// Timesteps implements Scheduler.
func (k *KDPM2) Timesteps() []float64 { return k.timesteps }

// Sigmas implements Scheduler (the expanded table).
func (k *KDPM2) Sigmas() []float64 { return k.sigmas }

// InitNoiseSigma implements Scheduler.
func (k *KDPM2) InitNoiseSigma() float64 { return initNoiseSigmaK(k.cfg.TimestepSpacing, k.sigmas) }

// ScaleModelInput implements Scheduler.
func (k *KDPM2) ScaleModelInput(i int, sample []float64) ([]float64, error) {
	if i < 0 || i >= len(k.timesteps) {
		return nil, fmt.Errorf("diffusion: step index %d outside [0,%d): %w", i, len(k.timesteps), ErrStepOrder)
	}
	if i%2 == 0 {
		return scaleInputSigma(sample, k.sigmas[i]), nil
	}
	return scaleInputSigma(sample, k.sigmasInterpol[i]), nil
}

// Step implements Scheduler. Evaluations must be stepped in order.
func (k *KDPM2) Step(i int, modelOutput, sample []float64, _ Noise) ([]float64, error) {
	if err := checkStep(i, k.next, len(k.timesteps), modelOutput, sample); err != nil {
		return nil, err
	}
	first := k.prevSample == nil
	var sigma, sigmaInterpol, sigmaNext float64
	if first {
		sigma, sigmaInterpol, sigmaNext = k.sigmas[i], k.sigmasInterpol[i+1], k.sigmas[i+1]
	} else {
		sigma, sigmaInterpol, sigmaNext = k.sigmas[i-1], k.sigmasInterpol[i], k.sigmas[i]
	}
	sigmaInput := sigma
	if !first {
		sigmaInput = sigmaInterpol
	}
	x0 := predictX0Sigma(k.cfg.PredictionType, sigmaInput, modelOutput, sample)
	out := make([]float64, len(sample))
	if first {
		dt := sigmaInterpol - sigma
		for j := range out {
			out[j] = sample[j] + (sample[j]-x0[j])/sigma*dt
		}
		k.prevSample = append([]float64(nil), sample...)
	} else {
		dt := sigmaNext - sigma
		for j := range out {
			out[j] = k.prevSample[j] + (sample[j]-x0[j])/sigmaInterpol*dt
		}
		k.prevSample = nil
	}
	k.next++
	return out, nil
}
