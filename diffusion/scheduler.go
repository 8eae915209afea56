package diffusion

import (
	"errors"
	"fmt"
	"math"
)

// ErrStepOrder reports a Step or ScaleModelInput call out of sequence (schedulers that keep history between
// steps must be stepped through Timesteps in order, once each).
var ErrStepOrder = errors.New("scheduler stepped out of order")

// Scheduler is a denoising schedule plus its update rule, matched to the diffusers class of the same name.
//
// A run of N steps: SetTimesteps(N), start from noise × InitNoiseSigma(), then for every index i of Timesteps():
// evaluate the UNet on ScaleModelInput(i, sample) at timestep Timesteps()[i], and call Step(i, output, sample,
// noise) to get the next sample. len(Timesteps()) is the number of UNet evaluations the run costs: N for the
// single-evaluation schedulers, 2N-1 for Heun and DPM2 (two evaluations per step except the last).
// Samples are flat float64 slices (any shape); all arithmetic is float64.
type Scheduler interface {
	// SetTimesteps prepares a run of n denoising steps and resets any history.
	SetTimesteps(n int) error
	// Timesteps returns the model timestep of every UNet evaluation of the run.
	Timesteps() []float64
	// Sigmas returns the scheduler's sigma table (k-diffusion style, last entry 0), or nil for DDIM.
	Sigmas() []float64
	// InitNoiseSigma is the standard deviation of the starting noise.
	InitNoiseSigma() float64
	// ScaleModelInput returns the UNet input for evaluation i (a new slice; sample is not changed).
	ScaleModelInput(i int, sample []float64) ([]float64, error)
	// Step returns the sample after evaluation i, given the UNet output. noise is read only by
	// stochastic schedulers (Euler Ancestral, DDIM with eta > 0) and may be nil for the others.
	Step(i int, modelOutput, sample []float64, noise Noise) ([]float64, error)
}

// NewScheduler builds a scheduler by name (see SchedulerNames; diffusers class names work too) from the JSON
// text of a diffusers scheduler_config.json. An empty config uses the class's defaults.
func NewScheduler(name string, configJSON []byte) (Scheduler, error) {
	sn, err := lookupScheduler(name)
	if err != nil {
		return nil, err
	}
	c, err := resolveConfig(sn.kind, configJSON)
	if err != nil {
		return nil, err
	}
	if sn.karras {
		c.UseKarrasSigmas = true
	}
	return newSchedulerFromConfig(sn.kind, c)
}

// newSchedulerFromConfig validates c and builds the scheduler of kind k.
func newSchedulerFromConfig(k schedulerKind, c SchedulerConfig) (Scheduler, error) {
	if err := c.validate(k); err != nil {
		return nil, err
	}
	ns, err := newNoiseSchedule(c)
	if err != nil {
		return nil, err
	}
	switch k {
	case kindDDIM:
		return newDDIM(c, ns), nil
	case kindEuler:
		return &Euler{cfg: c, ns: ns}, nil
	case kindEulerAncestral:
		return &EulerAncestral{cfg: c, ns: ns}, nil
	case kindHeun:
		return &Heun{cfg: c, ns: ns}, nil
	case kindKDPM2:
		return &KDPM2{cfg: c, ns: ns}, nil
	case kindUniPC:
		return newUniPC(c, ns), nil
	case kindPNDM:
		return newPNDM(c, ns), nil
	default:
		return newDPMSolver(c, ns), nil
	}
}

// Evaluations returns how many UNet evaluations (per batch element) a run of n steps of s costs.
func Evaluations(s Scheduler, n int) (int, error) {
	if err := s.SetTimesteps(n); err != nil {
		return 0, err
	}
	return len(s.Timesteps()), nil
}

// checkSteps validates a requested step count.
func checkSteps(n int, c SchedulerConfig) error {
	if n < 1 || n > c.NumTrainTimesteps {
		return fmt.Errorf("diffusion: %d inference steps outside [1,%d]: %w", n, c.NumTrainTimesteps, ErrBadConfig)
	}
	return nil
}

// checkStep validates the arguments of a Step call.
func checkStep(i, want, total int, modelOutput, sample []float64) error {
	if total == 0 {
		return fmt.Errorf("diffusion: Step before SetTimesteps: %w", ErrStepOrder)
	}
	if i < 0 || i >= total {
		return fmt.Errorf("diffusion: step index %d outside [0,%d): %w", i, total, ErrStepOrder)
	}
	if want >= 0 && i != want {
		return fmt.Errorf("diffusion: step index %d, want %d: %w", i, want, ErrStepOrder)
	}
	if len(modelOutput) != len(sample) || len(sample) == 0 {
		return fmt.Errorf("diffusion: model output has %d values, sample %d: %w",
			len(modelOutput), len(sample), ErrBadInput)
	}
	return nil
}

// ErrBadInput reports tensors of the wrong size or content.
var ErrBadInput = errors.New("bad input")

// spacing returns n timesteps, highest first, spaced as c.TimestepSpacing says (linspace, leading, or
// trailing), before each scheduler's own rounding: DDIM and PNDM round linspace to integers, the
// k-diffusion family keeps them as float32.
func spacing(c SchedulerConfig, n int) []float64 {
	T := c.NumTrainTimesteps
	switch c.TimestepSpacing {
	case "linspace":
		return reverse(linspace(0, float64(T-1), n))
	case "leading":
		ratio := T / n
		ts := make([]float64, n)
		for i := range n {
			ts[n-1-i] = float64(i*ratio + c.StepsOffset)
		}
		return ts
	default: // trailing
		ts := arange(float64(T), 0, -float64(T)/float64(n))
		for i := range ts {
			ts[i] = math.RoundToEven(ts[i]) - 1
		}
		return ts
	}
}

// kTimesteps returns the timesteps of the k-diffusion family (Euler, Euler Ancestral, Heun, KDPM2) for n steps:
// float32 values, highest first.
func kTimesteps(c SchedulerConfig, n int) []float64 {
	ts := spacing(c, n)
	for i := range ts {
		ts[i] = roundF32(ts[i])
	}
	return ts
}

// multistepTimesteps returns the integer timesteps of DPM-Solver++ and UniPC for n steps, highest first;
// lastTimestep bounds them (num_train_timesteps unless lambda_min_clipped cuts the tail).
func multistepTimesteps(c SchedulerConfig, n, lastTimestep int) []float64 {
	var ts []float64
	switch c.TimestepSpacing {
	case "linspace":
		all := linspace(0, float64(lastTimestep-1), n+1)
		ts = make([]float64, n)
		for i := range n {
			ts[i] = math.RoundToEven(all[n-i])
		}
	case "leading":
		ratio := lastTimestep / (n + 1)
		ts = make([]float64, n)
		for i := range n {
			ts[i] = float64((n-i)*ratio + c.StepsOffset)
		}
	default: // trailing
		ts = arange(float64(lastTimestep), 0, -float64(c.NumTrainTimesteps)/float64(n))
		for i := range ts {
			ts[i] = math.Trunc(math.RoundToEven(ts[i])) - 1
		}
	}
	return ts
}

// karrasFromSchedule returns Karras sigmas between the ends of in (in[0] largest) unless the config overrides
// them.
func karrasFromSchedule(c SchedulerConfig, in []float64, n int) []float64 {
	sigmaMin, sigmaMax := in[len(in)-1], in[0]
	if !math.IsNaN(c.SigmaMin) {
		sigmaMin = c.SigmaMin
	}
	if !math.IsNaN(c.SigmaMax) {
		sigmaMax = c.SigmaMax
	}
	return karras(sigmaMin, sigmaMax, n)
}

// scaleBy returns v × k as a new slice.
func scaleBy(v []float64, k float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = x * k
	}
	return out
}

// predictX0Sigma converts a model output into the predicted clean sample for the k-diffusion schedulers
// (sample = x0 + sigma·eps).
func predictX0Sigma(predictionType string, sigma float64, modelOutput, sample []float64) []float64 {
	x0 := make([]float64, len(sample))
	switch predictionType {
	case "epsilon":
		for i := range x0 {
			x0[i] = sample[i] - sigma*modelOutput[i]
		}
	case "v_prediction":
		a := -sigma / math.Sqrt(sigma*sigma+1)
		b := 1 / (sigma*sigma + 1)
		for i := range x0 {
			x0[i] = modelOutput[i]*a + sample[i]*b
		}
	default: // sample
		copy(x0, modelOutput)
	}
	return x0
}

// clampAll clamps v to [-r, r] in place.
func clampAll(v []float64, r float64) {
	for i, x := range v {
		v[i] = math.Min(math.Max(x, -r), r)
	}
}
