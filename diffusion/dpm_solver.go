package diffusion

import (
	"fmt"
	"math"
)

// DPMSolver is diffusers' DPMSolverMultistepScheduler with algorithm_type dpmsolver++ ("DPM-Solver++ 2M" at
// solver_order 2): a second-order multistep solver in log-SNR time on the predicted clean sample.
type DPMSolver struct {
	cfg             SchedulerConfig
	ns              *noiseSchedule
	timesteps       []float64
	sigmas          []float64 // n+1 entries, float32-rounded
	next            int
	history         [][]float64 // predicted x0 of earlier steps, newest last
	lowerOrderNums  int
	lastTimestepCap int
}

func newDPMSolver(c SchedulerConfig, ns *noiseSchedule) *DPMSolver {
	switch c.SolverType {
	case "logrho", "bh1", "bh2":
		c.SolverType = "midpoint"
	}
	c.AlgorithmType = "dpmsolver++"
	// lambda_min_clipped: timesteps whose log-SNR is below it are cut from the end of the schedule.
	T := c.NumTrainTimesteps
	clipped := 0
	for i := T - 1; i >= 0; i-- { // searchsorted over the flipped lambda table
		ac := float32(ns.alphasCumprod[i])
		lambda := float64(float32(math.Log(math.Sqrt(float64(ac)))) -
			float32(math.Log(math.Sqrt(float64(float32(1)-ac)))))
		if lambda >= c.LambdaMinClipped {
			break
		}
		clipped++
	}
	return &DPMSolver{cfg: c, ns: ns, lastTimestepCap: T - clipped}
}

// SetTimesteps implements Scheduler.
func (d *DPMSolver) SetTimesteps(n int) error {
	if err := checkSteps(n, d.cfg); err != nil {
		return err
	}
	ts := multistepTimesteps(d.cfg, n, d.lastTimestepCap)
	if len(ts) == 0 || ts[len(ts)-1] < 0 {
		return fmt.Errorf("diffusion: lambda_min_clipped leaves no room for %d steps: %w", n, ErrBadConfig)
	}
	var sig []float64
	if d.cfg.UseKarrasSigmas {
		full := d.ns.sigmas
		sig = karras(full[0], full[len(full)-1], n)
		ts = make([]float64, len(sig))
		for i, s := range sig {
			ts[i] = d.ns.sigmaToT(s)
			if d.cfg.BetaSchedule != "squaredcos_cap_v2" {
				ts[i] = math.RoundToEven(ts[i])
			}
		}
	} else {
		sig = make([]float64, len(ts))
		for i, t := range ts {
			sig[i] = d.ns.interp(t)
		}
	}
	final := 0.0
	if d.cfg.FinalSigmasType == "sigma_min" {
		final = d.ns.sigmas[0]
	}
	d.sigmas = make([]float64, len(sig)+1)
	for i, s := range sig {
		d.sigmas[i] = roundF32(s)
	}
	d.sigmas[len(sig)] = roundF32(final)
	for i := range ts {
		ts[i] = math.Trunc(ts[i]) // int64 timesteps
	}
	d.timesteps = ts
	d.next, d.history, d.lowerOrderNums = 0, nil, 0
	return nil
}

// Timesteps implements Scheduler.
func (d *DPMSolver) Timesteps() []float64 { return d.timesteps }

// Sigmas implements Scheduler.
func (d *DPMSolver) Sigmas() []float64 { return d.sigmas }

// InitNoiseSigma implements Scheduler.
func (d *DPMSolver) InitNoiseSigma() float64 { return 1 }

// ScaleModelInput implements Scheduler; DPM-Solver++ does not scale.
func (d *DPMSolver) ScaleModelInput(i int, sample []float64) ([]float64, error) {
	if i < 0 || i >= len(d.timesteps) {
		return nil, fmt.Errorf("diffusion: step index %d outside [0,%d): %w", i, len(d.timesteps), ErrStepOrder)
	}
	return append([]float64(nil), sample...), nil
}

// alphaSigma converts a k-diffusion sigma into the VP pair (alpha_t, sigma_t) and log-SNR lambda.
func alphaSigma(sigma float64) (alpha, sig, lambda float64) {
	alpha = 1 / math.Sqrt(sigma*sigma+1)
	sig = sigma * alpha
	return alpha, sig, math.Log(alpha) - math.Log(sig)
}

// convertToX0 turns a model output into the predicted clean sample at VP coordinates (alpha, sigma).
func convertToX0(predictionType string, alpha, sigma float64, modelOutput, sample []float64) []float64 {
	x0 := make([]float64, len(sample))
	for j := range x0 {
		switch predictionType {
		case "epsilon":
			x0[j] = (sample[j] - sigma*modelOutput[j]) / alpha
		case "v_prediction":
			x0[j] = alpha*sample[j] - sigma*modelOutput[j]
		default: // sample
			x0[j] = modelOutput[j]
		}
	}
	return x0
}

// Step implements Scheduler. Steps must come in order.
func (d *DPMSolver) Step(i int, modelOutput, sample []float64, _ Noise) ([]float64, error) {
	if err := checkStep(i, d.next, len(d.timesteps), modelOutput, sample); err != nil {
		return nil, err
	}
	n := len(d.timesteps)
	c := d.cfg
	lowerFinal := i == n-1 && (c.EulerAtFinal || (c.LowerOrderFinal && n < 15) || c.FinalSigmasType == "zero")
	lowerSecond := i == n-2 && c.LowerOrderFinal && n < 15
	_ = lowerSecond // only matters for third order, which is not supported

	alphaS0, sigmaS0, lambdaS0 := alphaSigma(d.sigmas[i])
	m0 := convertToX0(c.PredictionType, alphaS0, sigmaS0, modelOutput, sample)
	d.history = append(d.history, m0)
	if len(d.history) > c.SolverOrder {
		d.history = d.history[1:]
	}
	alphaT, sigmaT, lambdaT := alphaSigma(d.sigmas[i+1])
	h := lambdaT - lambdaS0
	em := math.Expm1(-h) // exp(-h) - 1
	if d.sigmas[i+1] == 0 {
		em = -1
	}
	ratio := sigmaT / sigmaS0
	out := make([]float64, len(sample))
	if c.SolverOrder == 1 || d.lowerOrderNums < 1 || lowerFinal {
		for j := range out {
			out[j] = ratio*sample[j] - alphaT*em*m0[j]
		}
	} else {
		m1 := d.history[len(d.history)-2]
		_, _, lambdaS1 := alphaSigma(d.sigmas[i-1])
		r0 := (lambdaS0 - lambdaS1) / h
		for j := range out {
			d1 := (m0[j] - m1[j]) / r0
			if c.SolverType == "heun" {
				out[j] = ratio*sample[j] - alphaT*em*m0[j] + alphaT*(em/h+1)*d1
			} else {
				out[j] = ratio*sample[j] - alphaT*em*m0[j] - 0.5*alphaT*em*d1
			}
		}
	}
	if d.lowerOrderNums < c.SolverOrder {
		d.lowerOrderNums++
	}
	d.next++
	return out, nil
}
