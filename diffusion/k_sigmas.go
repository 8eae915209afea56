package diffusion

import "math"

// kSchedule computes the timesteps and sigmas (n+1 values, last one final) of the k-diffusion family
// (Euler, Euler Ancestral, Heun, KDPM2) as diffusers' set_timesteps does: sigmas interpolated at the spaced
// timesteps, or Karras sigmas mapped back to fractional timesteps. Sigmas are rounded to float32 as diffusers
// stores them; timesteps are float32 unless Karras sigmas made them float64.
func kSchedule(c SchedulerConfig, ns *noiseSchedule, n int, finalSigma float64) (ts, sigmas []float64) {
	ts = kTimesteps(c, n)
	sig := make([]float64, n)
	for i, t := range ts {
		sig[i] = ns.interp(t)
	}
	if c.UseKarrasSigmas {
		sig = karrasFromSchedule(c, sig, n)
		for i, s := range sig {
			ts[i] = ns.sigmaToT(s)
		}
	}
	sigmas = make([]float64, n+1)
	for i, s := range sig {
		sigmas[i] = roundF32(s)
	}
	sigmas[n] = roundF32(finalSigma)
	return ts, sigmas
}

// initNoiseSigmaK is the starting noise scale of the k-diffusion family.
func initNoiseSigmaK(spacing string, sigmas []float64) float64 {
	m := 0.0
	for _, s := range sigmas {
		m = math.Max(m, s)
	}
	if spacing == "leading" {
		return math.Sqrt(m*m + 1)
	}
	return m
}

// scaleInputSigma returns sample / sqrt(sigma²+1).
func scaleInputSigma(sample []float64, sigma float64) []float64 {
	return scaleBy(sample, 1/math.Sqrt(sigma*sigma+1))
}
