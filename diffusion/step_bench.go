package diffusion

import (
	"context"
	"fmt"
	"math"
	"time"
)

// StepBench compares, on a prompt set, three ways of choosing the denoising step count: the fixed default,
// the step predictor's per-prompt choice ("auto"), and a fixed count of the same average cost as auto. Each
// (prompt, seed) image uses one seed for all three, so only the step count differs; similarity is SSIM to the
// fixed-default image.
type StepBench struct {
	Pipeline  *Pipeline
	Predictor *StepPredictor
	// Scheduler is the scheduler name; it defaults to the predictor's first scheduler.
	Scheduler string
	// DefaultSteps is the fixed default; it defaults to the predictor manifest's default_steps, else 50.
	DefaultSteps int
	// GuidanceScale defaults to 7.5 (see Request).
	GuidanceScale float64
	// Seed is the seed of the first image; prompt i's k-th image uses Seed + i*Seeds + k.
	Seed uint64
	// Seeds is the number of images per prompt (starting noises); it defaults to 1.
	Seeds int
}

// StepBenchResult holds the figures of one StepBench run (JSON keys as `mvwatch bench thumbnail` prints).
type StepBenchResult struct {
	Prompts              int     `json:"prompts"`
	Seeds                int     `json:"seeds"` // images per prompt
	Scheduler            string  `json:"scheduler"`
	DefaultSteps         int     `json:"default_steps"`
	FixedEvaluations     int     `json:"fixed_evaluations"`      // UNet evaluations, all prompts
	AutoEvaluations      int     `json:"auto_evaluations"`       // UNet evaluations, all prompts
	AutoStepsMean        float64 `json:"auto_steps_mean"`        // mean predicted step count
	SavedFraction        float64 `json:"saved_fraction"`         // 1 - auto/fixed evaluations
	EqualCostSteps       int     `json:"equal_cost_steps"`       // fixed count costing what auto costs
	EqualCostEvaluations int     `json:"equal_cost_evaluations"` // UNet evaluations, all prompts
	AutoSimilarity       float64 `json:"auto_similarity"`        // mean SSIM of auto to fixed-default images
	EqualCostSimilarity  float64 `json:"equal_cost_similarity"`  // mean SSIM of equal-cost to fixed-default
	// AutoMinusEqualCostSE is the standard error of the mean of the per-image SSIM difference auto minus
	// equal cost (paired: same prompt and seed), to judge whether the difference is larger than noise.
	AutoMinusEqualCostSE float64 `json:"auto_minus_equal_cost_se"`
	// BracketSteps are the fixed counts just below and above auto's mean evaluations per image (equal when
	// one matches), BracketSimilarity their mean SSIM, and InterpSimilarity their SSIM interpolated linearly
	// in evaluations to exactly auto's cost: the equal-cost comparison without rounding the step count.
	BracketSteps      [2]int     `json:"bracket_steps"`
	BracketSimilarity [2]float64 `json:"bracket_similarity"`
	InterpSimilarity  float64    `json:"interp_similarity"`
	// AutoMinusInterpSE is the paired standard error of the mean of auto minus the interpolated SSIM.
	AutoMinusInterpSE float64 `json:"auto_minus_interp_se"`
	Tolerance         float64 `json:"tolerance"`               // the SSIM the predictor's labels kept
	FixedSeconds      float64 `json:"fixed_seconds_per_image"` // mean generation time at the default
	AutoSeconds       float64 `json:"auto_seconds_per_image"`  // mean time of prediction + generation
	Seconds           float64 `json:"seconds"`                 // wall time of the whole run
}

// Run generates every prompt three (or, when auto's cost matches a fixed count, still three) times and
// returns the comparison.
func (b StepBench) Run(ctx context.Context, prompts []string) (StepBenchResult, error) {
	start := time.Now()
	if b.Pipeline == nil || b.Predictor == nil {
		return StepBenchResult{}, fmt.Errorf("diffusion: step bench needs a pipeline and a predictor: %w", ErrBadInput)
	}
	if len(prompts) == 0 {
		return StepBenchResult{}, fmt.Errorf("diffusion: step bench without prompts: %w", ErrBadInput)
	}
	m := b.Predictor.Manifest()
	sched := b.Scheduler
	if sched == "" {
		sched = m.Schedulers[0]
	}
	def := b.DefaultSteps
	if def == 0 {
		def = m.DefaultSteps
	}
	if def == 0 {
		def = 50
	}
	seeds := b.Seeds
	if seeds < 1 {
		seeds = 1
	}
	r := StepBenchResult{Prompts: len(prompts), Seeds: seeds, Scheduler: sched, DefaultSteps: def, Tolerance: m.Tolerance}
	if _, err := b.Predictor.Predict(prompts[0], sched); err != nil { // no head for sched: fail before generating
		return r, err
	}
	gen := func(prompt string, seed uint64, steps int) (Result, error) {
		return b.Pipeline.Generate(ctx, Request{Prompt: prompt, Steps: steps, Scheduler: sched,
			GuidanceScale: b.GuidanceScale, Seed: seed})
	}
	images := len(prompts) * seeds
	per := 1 / float64(images)
	seedOf := func(i, k int) uint64 { return b.Seed + uint64(i*seeds+k) }
	fixed := make([]Result, images)
	autoSSIM := make([]float64, images)
	for i, p := range prompts {
		t0 := time.Now()
		pred, err := b.Predictor.Predict(p, sched)
		if err != nil {
			return r, err
		}
		predict := time.Since(t0)
		for k := range seeds {
			j := i*seeds + k
			t0 := time.Now()
			if fixed[j], err = gen(p, seedOf(i, k), def); err != nil {
				return r, err
			}
			t1 := time.Now()
			auto, err := gen(p, seedOf(i, k), pred.Steps)
			if err != nil {
				return r, err
			}
			r.FixedSeconds += t1.Sub(t0).Seconds() * per
			r.AutoSeconds += (time.Since(t1) + predict).Seconds() * per
			r.FixedEvaluations += fixed[j].Evaluations
			r.AutoEvaluations += auto.Evaluations
			r.AutoStepsMean += float64(pred.Steps) * per
			if autoSSIM[j], err = imageSSIM(fixed[j], auto); err != nil {
				return r, err
			}
			r.AutoSimilarity += autoSSIM[j] * per
		}
	}
	r.SavedFraction = 1 - float64(r.AutoEvaluations)/float64(r.FixedEvaluations)
	autoEvals := float64(r.AutoEvaluations) * per
	eq, err := equalCostSteps(b.Pipeline, sched, def, autoEvals)
	if err != nil {
		return r, err
	}
	r.EqualCostSteps = eq
	br, brEvals, err := bracketSteps(b.Pipeline, sched, def, autoEvals)
	if err != nil {
		return r, err
	}
	r.BracketSteps = br
	ssimAt := map[int][]float64{} // per-image SSIM of each fixed count run
	evalsAt := map[int]int{}
	for _, n := range []int{eq, br[0], br[1]} {
		if _, done := ssimAt[n]; done {
			continue
		}
		ss := make([]float64, images)
		for i, p := range prompts {
			for k := range seeds {
				j := i*seeds + k
				res, err := gen(p, seedOf(i, k), n)
				if err != nil {
					return r, err
				}
				evalsAt[n] += res.Evaluations
				if ss[j], err = imageSSIM(fixed[j], res); err != nil {
					return r, err
				}
			}
		}
		ssimAt[n] = ss
	}
	w := 1.0 // weight of the lower bracket
	if brEvals[1] > brEvals[0] {
		w = (brEvals[1] - autoEvals) / (brEvals[1] - brEvals[0])
	}
	r.EqualCostEvaluations = evalsAt[eq]
	dEq := make([]float64, images)
	dInterp := make([]float64, images)
	for j := range images {
		r.EqualCostSimilarity += ssimAt[eq][j] * per
		r.BracketSimilarity[0] += ssimAt[br[0]][j] * per
		r.BracketSimilarity[1] += ssimAt[br[1]][j] * per
		interp := w*ssimAt[br[0]][j] + (1-w)*ssimAt[br[1]][j]
		r.InterpSimilarity += interp * per
		dEq[j], dInterp[j] = autoSSIM[j]-ssimAt[eq][j], autoSSIM[j]-interp
	}
	r.AutoMinusEqualCostSE, r.AutoMinusInterpSE = meanSE(dEq), meanSE(dInterp)
	r.Seconds = time.Since(start).Seconds()
	return r, nil
}

// equalCostSteps returns the fixed step count (1..maxSteps) whose UNet evaluations per image are closest to
// evals, preferring the cheaper count on a tie.
func equalCostSteps(p *Pipeline, sched string, maxSteps int, evals float64) (int, error) {
	s, err := NewScheduler(sched, p.schedulerConfig)
	if err != nil {
		return 0, err
	}
	best, bestDiff := 1, math.Inf(1)
	for n := 1; n <= maxSteps; n++ {
		e, err := Evaluations(s, n)
		if err != nil {
			return 0, err
		}
		if d := math.Abs(float64(e) - evals); d < bestDiff {
			best, bestDiff = n, d
		}
	}
	return best, nil
}

// bracketSteps returns the largest fixed step count (>= 1) costing at most evals UNet evaluations per image and
// the smallest costing at least evals (capped at maxSteps), with their evaluations.
func bracketSteps(p *Pipeline, sched string, maxSteps int, evals float64) ([2]int, [2]float64, error) {
	s, err := NewScheduler(sched, p.schedulerConfig)
	if err != nil {
		return [2]int{}, [2]float64{}, err
	}
	steps, costs := [2]int{1, maxSteps}, [2]float64{}
	for n := 1; n <= maxSteps; n++ {
		e, err := Evaluations(s, n)
		if err != nil {
			return steps, costs, err
		}
		if float64(e) <= evals+1e-9 {
			steps[0] = n
		}
		if float64(e) >= evals-1e-9 && n < steps[1] {
			steps[1] = n
		}
	}
	for i, n := range steps {
		e, err := Evaluations(s, n)
		if err != nil {
			return steps, costs, err
		}
		costs[i] = float64(e)
	}
	return steps, costs, nil
}

// meanSE is the standard error of the mean of d (0 for fewer than two values).
func meanSE(d []float64) float64 {
	if len(d) < 2 {
		return 0
	}
	var sum, sumSq float64
	for _, v := range d {
		sum, sumSq = sum+v, sumSq+v*v
	}
	n := float64(len(d))
	return math.Sqrt(math.Max((sumSq-sum*sum/n)/(n-1), 0) / n)
}

// imageSSIM compares two generated images.
func imageSSIM(a, b Result) (float64, error) {
	bounds := a.Image.Bounds()
	return SSIM(a.Pixels, b.Pixels, bounds.Dy(), bounds.Dx(), 3)
}
