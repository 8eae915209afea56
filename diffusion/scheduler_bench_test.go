package diffusion

import (
	"testing"
	"time"
)

// BenchmarkSchedulers runs a whole 25-step denoising loop (scheduler arithmetic only, an identity "model" on
// a 1x4x64x64 latent, the size of a 512x512 Stable Diffusion image) for every scheduler, and reports each
// one's time relative to DDIM measured in the same process (metric "x_ddim") and per UNet evaluation.
func BenchmarkSchedulers(b *testing.B) {
	const steps, size = 25, 4 * 64 * 64
	run := func(name string) (time.Duration, int) {
		s, err := NewScheduler(name, nil)
		if err != nil {
			b.Fatal(err)
		}
		noise := NewGaussianNoise(1)
		x := make([]float64, size)
		noise.Fill(x)
		start := time.Now()
		if err := s.SetTimesteps(steps); err != nil {
			b.Fatal(err)
		}
		for i := range s.Timesteps() {
			in, err := s.ScaleModelInput(i, x)
			if err != nil {
				b.Fatal(err)
			}
			if x, err = s.Step(i, in, x, noise); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(start), len(s.Timesteps())
	}
	names := []string{"ddim", "euler", "euler_a", "heun", "dpm2_karras", "unipc", "dpmpp_2m"}
	for _, name := range names {
		b.Run(name, func(b *testing.B) {
			var base, own time.Duration
			evals := 0
			for b.Loop() {
				d, _ := run("ddim")
				base += d
				var o time.Duration
				o, evals = run(name)
				own += o
			}
			b.ReportMetric(float64(own)/float64(base), "x_ddim")
			b.ReportMetric(float64(own.Nanoseconds())/float64(b.N*evals), "ns/eval")
			b.ReportMetric(float64(evals), "unet_evals")
		})
	}
}
