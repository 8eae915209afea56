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
	promptsFile := fs.String("prompts", "models/steppredictor/heldout.txt", "held-out prompts, one per line")
	n := fs.Int("n", 0, "use only the first N prompts (0: all)")
	seed := fs.Uint64("seed", 1000, "seed of the first prompt (prompt i uses seed+i)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "mvwatch bench thumbnail:", err)
		return 1
	}
	prompts, err := readPrompts(modelDir(*promptsFile))
	if err != nil {
		return fail(err)
	}
	if *n > 0 && *n < len(prompts) {
		prompts = prompts[:*n]
	}
	p, pred, err := tf.open(true)
	if err != nil {
		return fail(err)
	}
	defer p.Close()
	defer pred.Close()
	// Warm-up: the first runs pay for lazy initialisation inside ONNX Runtime.
	if _, err := p.Generate(context.Background(), diffusion.Request{Prompt: prompts[0], Steps: 2,
		Scheduler: tf.scheduler, GuidanceScale: tf.guidance}); err != nil {
		return fail(err)
	}
	r, err := diffusion.StepBench{Pipeline: p, Predictor: pred, Scheduler: tf.scheduler,
		DefaultSteps: tf.defaultSteps, GuidanceScale: tf.guidance, Seed: *seed}.Run(context.Background(), prompts)
	if err != nil {
		return fail(err)
	}
	fmt.Printf("%d held-out prompts (%s), scheduler %s, guidance %g, similarity: SSIM to the %d-step image, %d ORT thread(s)\n",
		r.Prompts, *promptsFile, r.Scheduler, tf.guidance, r.DefaultSteps, tf.threads)
	fmt.Printf("%-22s %12s %10s %10s\n", "steps", "evaluations", "mean SSIM", "s/image")
	fmt.Printf("%-22s %12d %10.4f %10.4f\n", fmt.Sprintf("fixed %d (default)", r.DefaultSteps), r.FixedEvaluations, 1.0, r.FixedSeconds)
	fmt.Printf("%-22s %12d %10.4f %10.4f\n", fmt.Sprintf("auto (mean %.1f)", r.AutoStepsMean), r.AutoEvaluations, r.AutoSimilarity, r.AutoSeconds)
	fmt.Printf("%-22s %12d %10.4f %10s\n", fmt.Sprintf("fixed %d (equal cost)", r.EqualCostSteps), r.EqualCostEvaluations, r.EqualCostSimilarity, "")
	fmt.Printf("saved %.1f%% of UNet evaluations; tolerance %.2f; auto above tolerance: %v; auto beats equal cost: %v\n",
		100*r.SavedFraction, r.Tolerance, r.AutoSimilarity >= r.Tolerance, r.AutoSimilarity > r.EqualCostSimilarity)
	b, _ := json.Marshal(map[string]any{
		"saved_fraction":          round3(r.SavedFraction),
		"prompts":                 r.Prompts,
		"scheduler":               r.Scheduler,
		"default_steps":           r.DefaultSteps,
		"fixed_evaluations":       r.FixedEvaluations,
		"auto_evaluations":        r.AutoEvaluations,
		"equal_cost_evaluations":  r.EqualCostEvaluations,
		"auto_steps_mean":         round3(r.AutoStepsMean),
		"equal_cost_steps":        r.EqualCostSteps,
		"fixed_similarity":        1.0,
		"auto_similarity":         round4(r.AutoSimilarity),
		"equal_cost_similarity":   round4(r.EqualCostSimilarity),
		"tolerance":               r.Tolerance,
		"fixed_seconds_per_image": round4(r.FixedSeconds),
		"auto_seconds_per_image":  round4(r.AutoSeconds),
		"seconds":                 round3(r.Seconds),
	})
	fmt.Println(string(b))
	return 0
}

func round4(x float64) float64 { return float64(int64(x*10000+0.5)) / 10000 }
