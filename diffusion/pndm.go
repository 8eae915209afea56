package diffusion

import (
	"fmt"
	"math"
)

// PNDM is diffusers' PNDMScheduler with skip_prk_steps (the default scheduler of Stable Diffusion 1.x
// exports): pseudo linear multistep (PLMS) updates, formula (9) of the PNDM paper, using up to four past
// model outputs. A run of N >= 2 steps costs N+1 UNet evaluations (the second timestep is evaluated twice
// to warm up the multistep history), N = 1 costs one. The Runge-Kutta warm-up (skip_prk_steps false) is
// not implemented; NewScheduler rejects such a config with ErrBadConfig.
type PNDM struct {
	cfg       SchedulerConfig
	ns        *noiseSchedule
	finalAC   float64 // ᾱ used before timestep 0: 1 with set_alpha_to_one, else ᾱ[0]
	n         int
	timesteps []float64
	ets       [][]float64 // past model outputs (converted to ε only inside the update), newest last
	curSample []float64   // the sample of evaluation 0, reused by evaluation 1
	counter   int         // evaluations stepped since SetTimesteps
}

func newPNDM(c SchedulerConfig, ns *noiseSchedule) *PNDM {
	p := &PNDM{cfg: c, ns: ns, finalAC: ns.alphasCumprod[0]}
	if c.SetAlphaToOne {
		p.finalAC = 1
	}
	return p
}

// SetTimesteps implements Scheduler.
func (p *PNDM) SetTimesteps(n int) error {
	if err := checkSteps(n, p.cfg); err != nil {
		return err
	}
	spaced, err := spacedTimesteps(p.cfg, n, "PNDM")
	if err != nil {
		return err
	}
	base := reverse(spaced) // ascending, as diffusers' _timesteps
	// plms_timesteps = concat(_timesteps[:-1], _timesteps[-2:-1], _timesteps[-1:])[::-1]
	ts := append([]float64(nil), base[:n-1]...)
	if n >= 2 {
		ts = append(ts, base[n-2])
	}
	ts = reverse(append(ts, base[n-1]))
	p.n, p.timesteps = n, ts
	p.ets, p.curSample, p.counter = nil, nil, 0
	return nil
}

// Timesteps implements Scheduler.
func (p *PNDM) Timesteps() []float64 { return p.timesteps }

// Sigmas implements Scheduler; PNDM has none.
func (p *PNDM) Sigmas() []float64 { return nil }

// InitNoiseSigma implements Scheduler.
func (p *PNDM) InitNoiseSigma() float64 { return 1 }

// ScaleModelInput implements Scheduler; PNDM does not scale.
func (p *PNDM) ScaleModelInput(i int, sample []float64) ([]float64, error) {
	if i < 0 || i >= len(p.timesteps) {
		return nil, fmt.Errorf("diffusion: step index %d outside [0,%d): %w", i, len(p.timesteps), ErrStepOrder)
	}
	return append([]float64(nil), sample...), nil
}

// Step implements Scheduler (diffusers' step_plms). Steps must come in order, once each.
func (p *PNDM) Step(i int, modelOutput, sample []float64, _ Noise) ([]float64, error) {
	if err := checkStep(i, p.counter, len(p.timesteps), modelOutput, sample); err != nil {
		return nil, err
	}
	ratio := p.cfg.NumTrainTimesteps / p.n
	t := int(p.timesteps[i])
	prev := t - ratio
	if p.counter != 1 {
		if len(p.ets) > 3 {
			p.ets = p.ets[len(p.ets)-3:]
		}
		p.ets = append(p.ets, append([]float64(nil), modelOutput...))
	} else {
		prev, t = t, t+ratio
	}
	e := p.ets
	k := len(e)
	mo := make([]float64, len(sample))
	switch {
	case k == 1 && p.counter == 0:
		copy(mo, modelOutput)
		p.curSample = append([]float64(nil), sample...)
	case k == 1 && p.counter == 1:
		for j := range mo {
			mo[j] = (modelOutput[j] + e[0][j]) / 2
		}
		sample, p.curSample = p.curSample, nil
	case k == 2:
		for j := range mo {
			mo[j] = (3*e[1][j] - e[0][j]) / 2
		}
	case k == 3:
		for j := range mo {
			mo[j] = (23*e[2][j] - 16*e[1][j] + 5*e[0][j]) / 12
		}
	default:
		for j := range mo {
			mo[j] = (55*e[3][j] - 59*e[2][j] + 37*e[1][j] - 9*e[0][j]) / 24
		}
	}
	if t < 0 || t >= len(p.ns.alphasCumprod) {
		return nil, fmt.Errorf("diffusion: PNDM timestep %d outside the schedule: %w", t, ErrBadConfig)
	}
	p.counter++
	return p.prevSample(sample, t, prev, mo), nil
}

// prevSample is formula (9) of the PNDM paper (diffusers' _get_prev_sample).
func (p *PNDM) prevSample(sample []float64, t, prev int, modelOutput []float64) []float64 {
	aT := p.ns.alphasCumprod[t]
	aPrev := p.finalAC
	if prev >= 0 {
		aPrev = p.ns.alphasCumprod[prev]
	}
	bT, bPrev := 1-aT, 1-aPrev
	sa, sb := math.Sqrt(aT), math.Sqrt(bT)
	sampleCoeff := math.Sqrt(aPrev / aT)
	denom := aT*math.Sqrt(bPrev) + math.Sqrt(aT*bT*aPrev)
	out := make([]float64, len(sample))
	for j := range out {
		eps := modelOutput[j]
		if p.cfg.PredictionType == "v_prediction" {
			eps = sa*modelOutput[j] + sb*sample[j]
		}
		out[j] = sampleCoeff*sample[j] - (aPrev-aT)*eps/denom
	}
	return out
}
