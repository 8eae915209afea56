package diffusion

import "math/rand/v2"

// Noise fills slices with independent standard normal samples. Schedulers read it for their stochastic parts;
// tests feed recorded arrays through it so Go and diffusers see the same noise.
type Noise interface {
	// Fill writes len(dst) samples into dst.
	Fill(dst []float64)
}

// GaussianNoise is a seeded Noise source (PCG + math/rand/v2's NormFloat64). It is not safe for concurrent
// use.
type GaussianNoise struct {
	r *rand.Rand
}

// NewGaussianNoise returns a Noise source that repeats for the same seed.
func NewGaussianNoise(seed uint64) *GaussianNoise {
	return &GaussianNoise{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// Fill implements Noise.
func (g *GaussianNoise) Fill(dst []float64) {
	for i := range dst {
		dst[i] = g.r.NormFloat64()
	}
}
