package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/mvwatch/mvwatch/diffusion"
)

// readPrompts reads one prompt per non-empty line.
func readPrompts(path string) ([]string, error) {
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

func runBenchThumbnail(args []string) int {
	fs := flag.NewFlagSet("bench thumbnail", flag.ContinueOnError)
	var tf thumbnailFlags
	tf.register(fs)
	fs.Lookup("scheduler").DefValue = "all"
	tf.scheduler = "all"
	fs.Lookup("scheduler").Usage = "scheduler to benchmark, or all: every scheduler the step predictor has a head for"
	promptsFile := fs.String("prompts", "models/steppredictor/heldout.txt", "held-out prompts, one per line")
	n := fs.Int("n", 0, "use only the first N prompts (0: all)")
	seed := fs.Uint64("seed", 1000, "seed of the first image (prompt i's k-th image uses seed + i*seeds + k)")
	seeds := fs.Int("seeds", 1, "images (starting noises) per prompt")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "mvwatch bench thumbnail:", err)
		return 1
	}
	if *seeds < 1 || *seeds > 100 {
		return fail(fmt.Errorf("-seeds %d outside [1,100]", *seeds))
	}
	prompts, err := readPrompts(modelDir(*promptsFile))
	if err != nil {
		return fail(err)
	}
	if *n > 0 && *n < len(prompts) {
		prompts = prompts[:*n]
	}
	all := strings.EqualFold(strings.TrimSpace(tf.scheduler), "all")
	if all {
		tf.scheduler = "ddim" // open checks a scheduler name; the list comes from the predictor below
	}
	p, pred, err := tf.open(true)
	if err != nil {
		return fail(err)
	}
	defer p.Close()
	defer pred.Close()
	scheds := []string{tf.scheduler}
	if all {
		scheds = pred.Manifest().Schedulers
	}
	// Warm-up: the first runs pay for lazy initialisation inside ONNX Runtime.
	if _, err := p.Generate(context.Background(), diffusion.Request{Prompt: prompts[0], Steps: 2,
		Scheduler: scheds[0], GuidanceScale: tf.guidance}); err != nil {
		return fail(err)
	}
	var results []diffusion.StepBenchResult
	for _, sched := range scheds {
		r, err := diffusion.StepBench{Pipeline: p, Predictor: pred, Scheduler: sched, DefaultSteps: tf.defaultSteps,
			GuidanceScale: tf.guidance, Seed: *seed, Seeds: *seeds}.Run(context.Background(), prompts)
		if err != nil {
			return fail(err)
		}
		results = append(results, r)
	}
	r0 := results[0]
	fmt.Printf("%d held-out prompts (%s) x %d seed(s), guidance %g, similarity: SSIM to the %d-step image, %d ORT thread(s)\n",
		r0.Prompts, *promptsFile, r0.Seeds, tf.guidance, r0.DefaultSteps, tf.threads)
	fmt.Printf("%-12s %-22s %12s %10s %10s\n", "scheduler", "steps", "evaluations", "mean SSIM", "s/image")
	per := map[string]any{}
	for _, r := range results {
		fmt.Printf("%-12s %-22s %12d %10.4f %10.4f\n", r.Scheduler, fmt.Sprintf("fixed %d (default)", r.DefaultSteps),
			r.FixedEvaluations, 1.0, r.FixedSeconds)
		fmt.Printf("%-12s %-22s %12d %10.4f %10.4f\n", "", fmt.Sprintf("auto (mean %.1f)", r.AutoStepsMean),
			r.AutoEvaluations, r.AutoSimilarity, r.AutoSeconds)
		fmt.Printf("%-12s %-22s %12d %10.4f %10s\n", "", fmt.Sprintf("fixed %d (equal cost)", r.EqualCostSteps),
			r.EqualCostEvaluations, r.EqualCostSimilarity, "")
		fmt.Printf("%-12s %-22s %12s %10.4f %10s\n", "", fmt.Sprintf("fixed %d|%d interpolated", r.BracketSteps[0],
			r.BracketSteps[1]), fmt.Sprintf("%.0f", float64(r.AutoEvaluations)), r.InterpSimilarity, "")
		fmt.Printf("%-12s saved %.1f%% of UNet evaluations; tolerance %.2f; auto above tolerance: %v; auto - equal cost: %+.4f (SE %.4f); beats equal cost: %v\n",
			"", 100*r.SavedFraction, r.Tolerance, r.AutoSimilarity >= r.Tolerance,
			r.AutoSimilarity-r.EqualCostSimilarity, r.AutoMinusEqualCostSE, r.AutoSimilarity > r.EqualCostSimilarity)
		fmt.Printf("%-12s auto - interpolated equal cost: %+.4f (SE %.4f)\n", "", r.AutoSimilarity-r.InterpSimilarity,
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
	fmt.Println(string(b))
	return 0
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
