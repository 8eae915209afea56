package diffusion

import (
	"fmt"
	"math"
	"slices"
)

// UniPC is diffusers' UniPCMultistepScheduler (Zhao et al. 2023): a multistep predictor (UniP) followed, at
// the next step, by a corrector (UniC) that reuses that step's model output, so it costs one UNet evaluation
// per step. solver_order 1..3, solver_type bh1 or bh2, predict_x0 on or off.
type UniPC struct {
	cfg            SchedulerConfig
	ns             *noiseSchedule
	timesteps      []float64
	sigmas         []float64
	next           int
	history        [][]float64 // converted model outputs, newest last
	lowerOrderNums int
	thisOrder      int
	lastSample     []float64
}

func newUniPC(c SchedulerConfig, ns *noiseSchedule) *UniPC {
	switch c.SolverType {
	case "midpoint", "heun", "logrho":
		c.SolverType = "bh2"
	}
	return &UniPC{cfg: c, ns: ns}
}

// SetTimesteps implements Scheduler.
func (u *UniPC) SetTimesteps(n int) error {
	if err := checkSteps(n, u.cfg); err != nil {
		return err
	}
	ts := multistepTimesteps(u.cfg, n, u.cfg.NumTrainTimesteps)
	var sig []float64
	final := 0.0
	if u.cfg.UseKarrasSigmas {
		full := u.ns.sigmas
		sig = karrasFromSchedule(u.cfg, []float64{full[len(full)-1], full[0]}, n)
		ts = make([]float64, len(sig))
		for i, s := range sig {
			ts[i] = math.RoundToEven(u.ns.sigmaToT(s))
		}
		if u.cfg.FinalSigmasType == "sigma_min" {
			final = sig[len(sig)-1]
		}
	} else {
		sig = make([]float64, len(ts))
		for i, t := range ts {
			sig[i] = u.ns.interp(t)
		}
		if u.cfg.FinalSigmasType == "sigma_min" {
			final = u.ns.sigmas[0]
		}
	}
	u.sigmas = make([]float64, len(sig)+1)
	for i, s := range sig {
		u.sigmas[i] = roundF32(s)
	}
	u.sigmas[len(sig)] = roundF32(final)
	for i := range ts {
		ts[i] = math.Trunc(ts[i])
	}
	u.timesteps = ts
	u.next, u.history, u.lowerOrderNums, u.thisOrder, u.lastSample = 0, nil, 0, 0, nil
	return nil
}

// Timesteps implements Scheduler.
func (u *UniPC) Timesteps() []float64 { return u.timesteps }

// Sigmas implements Scheduler.
func (u *UniPC) Sigmas() []float64 { return u.sigmas }

// InitNoiseSigma implements Scheduler.
func (u *UniPC) InitNoiseSigma() float64 { return 1 }

// ScaleModelInput implements Scheduler; UniPC does not scale.
func (u *UniPC) ScaleModelInput(i int, sample []float64) ([]float64, error) {
	if i < 0 || i >= len(u.timesteps) {
		return nil, fmt.Errorf("diffusion: step index %d outside [0,%d): %w", i, len(u.timesteps), ErrStepOrder)
	}
	return append([]float64(nil), sample...), nil
}

// convert turns a model output into the solver's variable: x0 (predict_x0) or epsilon.
func (u *UniPC) convert(i int, modelOutput, sample []float64) []float64 {
	alpha, sigma, _ := alphaSigma(u.sigmas[i])
	if u.cfg.PredictX0 {
		return convertToX0(u.cfg.PredictionType, alpha, sigma, modelOutput, sample)
	}
	eps := make([]float64, len(sample))
	for j := range eps {
		switch u.cfg.PredictionType {
		case "epsilon":
			eps[j] = modelOutput[j]
		case "sample":
			eps[j] = (sample[j] - alpha*modelOutput[j]) / sigma
		default: // v_prediction
			eps[j] = alpha*modelOutput[j] + sigma*sample[j]
		}
	}
	return eps
}

// Step implements Scheduler. Steps must come in order.
func (u *UniPC) Step(i int, modelOutput, sample []float64, _ Noise) ([]float64, error) {
	if err := checkStep(i, u.next, len(u.timesteps), modelOutput, sample); err != nil {
		return nil, err
	}
	useCorrector := i > 0 && !slices.Contains(u.cfg.DisableCorrector, i-1) && u.lastSample != nil
	m := u.convert(i, modelOutput, sample)
	if useCorrector {
		sample = u.correct(i, m, u.lastSample, sample, u.thisOrder)
	}
	u.history = append(u.history, m)
	if len(u.history) > u.cfg.SolverOrder {
		u.history = u.history[1:]
	}
	order := u.cfg.SolverOrder
	if u.cfg.LowerOrderFinal {
		order = min(order, len(u.timesteps)-i)
	}
	u.thisOrder = min(order, u.lowerOrderNums+1)
	u.lastSample = sample
	out := u.predict(i, sample, u.thisOrder)
	if u.lowerOrderNums < u.cfg.SolverOrder {
		u.lowerOrderNums++
	}
	u.next++
	return out, nil
}

// bhCoefficients returns the UniPC quantities shared by predictor and corrector: h_phi_1, B(h) and the
// right-hand side b of the order conditions, plus the matrix R of powers of rks.
func (u *UniPC) bhCoefficients(h float64, rks []float64, order int) (hPhi1, bh float64, r [][]float64, b []float64) {
	hh := h
	if u.cfg.PredictX0 {
		hh = -h
	}
	hPhi1 = math.Expm1(hh)
	hPhiK := hPhi1/hh - 1
	factorial := 1.0
	bh = hh
	if u.cfg.SolverType == "bh2" {
		bh = hPhi1
	}
	for k := 1; k <= order; k++ {
		row := make([]float64, len(rks))
		for j, rk := range rks {
			row[j] = math.Pow(rk, float64(k-1))
		}
		r = append(r, row)
		b = append(b, hPhiK*factorial/bh)
		factorial *= float64(k + 1)
		hPhiK = hPhiK/hh - 1/factorial
	}
	return hPhi1, bh, r, b
}

// predict is the UniP update from step i to i+1.
func (u *UniPC) predict(i int, x []float64, order int) []float64 {
	alphaT, sigmaT, lambdaT := alphaSigma(u.sigmas[i+1])
	alphaS0, sigmaS0, lambdaS0 := alphaSigma(u.sigmas[i])
	h := lambdaT - lambdaS0
	m0 := u.history[len(u.history)-1]
	var rks []float64
	var d1s [][]float64
	for k := 1; k < order; k++ {
		mk := u.history[len(u.history)-1-k]
		_, _, lambdaSk := alphaSigma(u.sigmas[i-k])
		rk := (lambdaSk - lambdaS0) / h
		rks = append(rks, rk)
		d1s = append(d1s, diffScaled(mk, m0, rk))
	}
	rks = append(rks, 1)
	hPhi1, bh, r, b := u.bhCoefficients(h, rks, order)
	var rhos []float64
	if len(d1s) > 0 {
		if order == 2 {
			rhos = []float64{0.5}
		} else {
			rhos = solve(trim(r, order-1), b[:order-1])
		}
	}
	return u.combine(x, m0, d1s, rhos, nil, 0, alphaT, sigmaT, alphaS0, sigmaS0, hPhi1, bh)
}

// correct is the UniC update of the sample at step i using this step's converted model output mt.
func (u *UniPC) correct(i int, mt, lastSample, thisSample []float64, order int) []float64 {
	alphaT, sigmaT, lambdaT := alphaSigma(u.sigmas[i])
	alphaS0, sigmaS0, lambdaS0 := alphaSigma(u.sigmas[i-1])
	h := lambdaT - lambdaS0
	m0 := u.history[len(u.history)-1]
	var rks []float64
	var d1s [][]float64
	for k := 1; k < order; k++ {
		mk := u.history[len(u.history)-1-k]
		_, _, lambdaSk := alphaSigma(u.sigmas[i-(k+1)])
		rk := (lambdaSk - lambdaS0) / h
		rks = append(rks, rk)
		d1s = append(d1s, diffScaled(mk, m0, rk))
	}
	rks = append(rks, 1)
	hPhi1, bh, r, b := u.bhCoefficients(h, rks, order)
	rhos := []float64{0.5}
	if order > 1 {
		rhos = solve(r, b)
	}
	d1t := make([]float64, len(mt))
	for j := range d1t {
		d1t[j] = mt[j] - m0[j]
	}
	_ = thisSample // the corrector rebuilds the sample from lastSample
	return u.combine(lastSample, m0, d1s, rhos[:len(rhos)-1], d1t, rhos[len(rhos)-1],
		alphaT, sigmaT, alphaS0, sigmaS0, hPhi1, bh)
}

// combine evaluates x_t = base(x, m0) - c·B(h)·(Σ rho_k D1_k + rhoT·D1_t) for predictor and corrector.
func (u *UniPC) combine(x, m0 []float64, d1s [][]float64, rhos, d1t []float64, rhoT,
	alphaT, sigmaT, alphaS0, sigmaS0, hPhi1, bh float64) []float64 {
	out := make([]float64, len(x))
	for j := range out {
		res := 0.0
		for k, d := range d1s {
			res += rhos[k] * d[j]
		}
		if d1t != nil {
			res += rhoT * d1t[j]
		}
		if u.cfg.PredictX0 {
			out[j] = sigmaT/sigmaS0*x[j] - alphaT*hPhi1*m0[j] - alphaT*bh*res
		} else {
			out[j] = alphaT/alphaS0*x[j] - sigmaT*hPhi1*m0[j] - sigmaT*bh*res
		}
	}
	return out
}

// diffScaled returns (a - b) / k.
func diffScaled(a, b []float64, k float64) []float64 {
	out := make([]float64, len(a))
	for j := range out {
		out[j] = (a[j] - b[j]) / k
	}
	return out
}

// trim returns the top-left n×n block of m.
func trim(m [][]float64, n int) [][]float64 {
	out := make([][]float64, n)
	for i := range out {
		out[i] = m[i][:n]
	}
	return out
}

// solve solves the small dense system a·x = b by Gaussian elimination with partial pivoting.
func solve(a [][]float64, b []float64) []float64 {
	n := len(b)
	m := make([][]float64, n)
	for i := range m {
		m[i] = append(append([]float64(nil), a[i]...), b[i])
	}
	for col := range n {
		p := col
		for r := col + 1; r < n; r++ {
			if math.Abs(m[r][col]) > math.Abs(m[p][col]) {
				p = r
			}
		}
		m[col], m[p] = m[p], m[col]
		for r := col + 1; r < n; r++ {
			f := m[r][col] / m[col][col]
			for c := col; c <= n; c++ {
				m[r][c] -= f * m[col][c]
			}
		}
	}
	x := make([]float64, n)
	for i := n - 1; i >= 0; i-- {
		s := m[i][n]
		for j := i + 1; j < n; j++ {
			s -= m[i][j] * x[j]
		}
		x[i] = s / m[i][i]
	}
	return x
}
