package bench

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/mvwatch/mvwatch/diffusion"
)

// ReadPrompts reads one prompt per non-empty line.
func ReadPrompts(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no prompts", path)
	}
	return out, nil
}

// ThumbnailConfig configures Thumbnail.
type ThumbnailConfig struct {
	// Pipeline and Predictor are the opened diffusion model and step predictor. Required; the caller
	// closes them.
	Pipeline  *diffusion.Pipeline
	Predictor *diffusion.StepPredictor
	// Scheduler is the scheduler to benchmark, or "all": every scheduler the predictor has a head for.
	Scheduler string
	// Guidance is the classifier-free guidance scale; DefaultSteps the fixed default step count;
	// Threads the ONNX Runtime thread count (reported only).
	Guidance     float64
	DefaultSteps int
	Threads      int
	// PromptsFile holds the held-out prompts, one per line; N uses only the first N (0: all).
	PromptsFile string
	N           int
	// Seed is the seed of the first image (prompt i's k-th image uses Seed + i*Seeds + k); Seeds the
	// images per prompt (1 to 100).
	Seed  uint64
	Seeds int
	// Out receives the report (a table, then one JSON line).
	Out io.Writer
}

// Thumbnail measures the adaptive step count against fixed step counts on held-out prompts.
func Thumbnail(cfg ThumbnailConfig) error {
	cfg.Out = cmp.Or[io.Writer](cfg.Out, io.Discard)
	if cfg.Seeds < 1 || cfg.Seeds > 100 {
		return fmt.Errorf("-seeds %d outside [1,100]", cfg.Seeds)
	}
	prompts, err := ReadPrompts(cfg.PromptsFile)
	if err != nil {
		return err
	}
	if cfg.N > 0 && cfg.N < len(prompts) {
		prompts = prompts[:cfg.N]
	}
	p, pred := cfg.Pipeline, cfg.Predictor
	scheds := []string{cfg.Scheduler}
	if strings.EqualFold(strings.TrimSpace(cfg.Scheduler), "all") {
		scheds = pred.Manifest().Schedulers
	}
	// Warm-up: the first runs pay for lazy initialisation inside ONNX Runtime.
	if _, err := p.Generate(context.Background(), diffusion.Request{Prompt: prompts[0], Steps: 2,
		Scheduler: scheds[0], GuidanceScale: cfg.Guidance}); err != nil {
		return err
	}
	var results []diffusion.StepBenchResult
	for _, sched := range scheds {
		r, err := diffusion.StepBench{Pipeline: p, Predictor: pred, Scheduler: sched, DefaultSteps: cfg.DefaultSteps,
			GuidanceScale: cfg.Guidance, Seed: cfg.Seed, Seeds: cfg.Seeds}.Run(context.Background(), prompts)
		if err != nil {
			return err
		}
		results = append(results, r)
	}
	r0 := results[0]
	fmt.Fprintf(cfg.Out, "%d held-out prompts (%s) x %d seed(s), guidance %g, similarity: SSIM to the %d-step image, %d ORT thread(s)\n",
		r0.Prompts, cfg.PromptsFile, r0.Seeds, cfg.Guidance, r0.DefaultSteps, cfg.Threads)
	fmt.Fprintf(cfg.Out, "%-12s %-22s %12s %10s %10s\n", "scheduler", "steps", "evaluations", "mean SSIM", "s/image")
	per := map[string]any{}
	for _, r := range results {
		fmt.Fprintf(cfg.Out, "%-12s %-22s %12d %10.4f %10.4f\n", r.Scheduler, fmt.Sprintf("fixed %d (default)", r.DefaultSteps),
			r.FixedEvaluations, 1.0, r.FixedSeconds)
		fmt.Fprintf(cfg.Out, "%-12s %-22s %12d %10.4f %10.4f\n", "", fmt.Sprintf("auto (mean %.1f)", r.AutoStepsMean),
			r.AutoEvaluations, r.AutoSimilarity, r.AutoSeconds)
		fmt.Fprintf(cfg.Out, "%-12s %-22s %12d %10.4f %10s\n", "", fmt.Sprintf("fixed %d (equal cost)", r.EqualCostSteps),
			r.EqualCostEvaluations, r.EqualCostSimilarity, "")
		fmt.Fprintf(cfg.Out, "%-12s %-22s %12s %10.4f %10s\n", "", fmt.Sprintf("fixed %d|%d interpolated", r.BracketSteps[0],
			r.BracketSteps[1]), fmt.Sprintf("%.0f", float64(r.AutoEvaluations)), r.InterpSimilarity, "")
		fmt.Fprintf(cfg.Out, "%-12s saved %.1f%% of UNet evaluations; tolerance %.2f; auto above tolerance: %v; auto - equal cost: %+.4f (SE %.4f); beats equal cost: %v\n",
			"", 100*r.SavedFraction, r.Tolerance, r.AutoSimilarity >= r.Tolerance,
			r.AutoSimilarity-r.EqualCostSimilarity, r.AutoMinusEqualCostSE, r.AutoSimilarity > r.EqualCostSimilarity)
		fmt.Fprintf(cfg.Out, "%-12s auto - interpolated equal cost: %+.4f (SE %.4f)\n", "", r.AutoSimilarity-r.InterpSimilarity,
			r.AutoMinusInterpSE)
		per[r.Scheduler] = benchFigures(r)
	}
	out := benchFigures(r0) // the first scheduler's figures at the top level, every scheduler's under per_scheduler
	out["per_scheduler"] = per
	total := 0.0
	for _, r := range results {
		total += r.Seconds
	}
	out["seconds"] = round3(total)
	b, _ := json.Marshal(out)
	fmt.Fprintln(cfg.Out, string(b))
	return nil
}

// benchFigures is one scheduler's JSON figures.
func benchFigures(r diffusion.StepBenchResult) map[string]any {
	return map[string]any{
		"saved_fraction":           round3(r.SavedFraction),
		"prompts":                  r.Prompts,
		"seeds":                    r.Seeds,
		"scheduler":                r.Scheduler,
		"default_steps":            r.DefaultSteps,
		"fixed_evaluations":        r.FixedEvaluations,
		"auto_evaluations":         r.AutoEvaluations,
		"equal_cost_evaluations":   r.EqualCostEvaluations,
		"auto_steps_mean":          round3(r.AutoStepsMean),
		"equal_cost_steps":         r.EqualCostSteps,
		"fixed_similarity":         1.0,
		"auto_similarity":          round4(r.AutoSimilarity),
		"equal_cost_similarity":    round4(r.EqualCostSimilarity),
		"auto_minus_equal_cost_se": round4(r.AutoMinusEqualCostSE),
		"beats_equal_cost":         r.AutoSimilarity > r.EqualCostSimilarity,
		"bracket_steps":            r.BracketSteps,
		"bracket_similarity":       []float64{round4(r.BracketSimilarity[0]), round4(r.BracketSimilarity[1])},
		"interp_similarity":        round4(r.InterpSimilarity),
		"auto_minus_interp_se":     round4(r.AutoMinusInterpSE),
		"beats_interp":             r.AutoSimilarity > r.InterpSimilarity,
		"tolerance":                r.Tolerance,
		"fixed_seconds_per_image":  round4(r.FixedSeconds),
		"auto_seconds_per_image":   round4(r.AutoSeconds),
		"seconds":                  round3(r.Seconds),
	}
}

func round4(x float64) float64 { return float64(int64(x*10000+0.5)) / 10000 }
