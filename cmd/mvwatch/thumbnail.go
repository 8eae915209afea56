package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mvwatch/mvwatch/diffusion"
	"github.com/mvwatch/mvwatch/inference"
)

// thumbnailFlags are the model flags shared by `thumbnail` and `bench thumbnail`.
type thumbnailFlags struct {
	model, predictor string
	scheduler        string
	threads          int
	defaultSteps     int
	guidance         float64
}

func (f *thumbnailFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.model, "model", "models/thumbnail", "diffusion model directory (Optimum Stable Diffusion layout)")
	fs.StringVar(&f.predictor, "predictor", "models/steppredictor", "step predictor directory (for --steps auto)")
	fs.StringVar(&f.scheduler, "scheduler", "ddim", "scheduler: "+strings.Join(diffusion.SchedulerNames(), ", "))
	fs.IntVar(&f.threads, "threads", 1, "ONNX Runtime intra-op threads per model")
	fs.Float64Var(&f.guidance, "guidance", 1, "classifier-free guidance scale; 1 (off) suits models/thumbnail, 7.5 is usual for Stable Diffusion")
	fs.IntVar(&f.defaultSteps, "default-steps", 50, "the fixed default step count (what --steps '' uses and auto saves against)")
}

// open starts ONNX Runtime and loads the pipeline and, when withPredictor, the step predictor.
func (f *thumbnailFlags) open(withPredictor bool) (*diffusion.Pipeline, *diffusion.StepPredictor, error) {
	if _, err := diffusion.NewScheduler(f.scheduler, nil); errors.Is(err, diffusion.ErrUnknownScheduler) {
		return nil, nil, err // before loading anything
	}
	if err := inference.Init(inference.RuntimeConfig{IntraOpThreads: f.threads}); err != nil {
		return nil, nil, err
	}
	p, err := diffusion.OpenPipeline(modelDir(f.model), diffusion.PipelineConfig{IntraOpThreads: f.threads})
	if err != nil {
		return nil, nil, err
	}
	if !withPredictor {
		return p, nil, nil
	}
	pred, err := diffusion.LoadStepPredictor(modelDir(f.predictor), f.threads)
	if err != nil {
		p.Close()
		return nil, nil, err
	}
	return p, pred, nil
}

// parseInterleaved parses flags that may come before or after the positional arguments
// (`mvwatch thumbnail "a car" --steps auto`), returning the positional ones.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func runThumbnail(args []string) int {
	fs := flag.NewFlagSet("thumbnail", flag.ContinueOnError)
	var tf thumbnailFlags
	tf.register(fs)
	steps := fs.String("steps", "auto", "denoising steps: auto (the step predictor) or a count 1..1000")
	out := fs.String("out", "thumbnail.png", "output image (.png or .jpg)")
	seed := fs.Uint64("seed", 1, "seed of the starting noise")
	asJSON := fs.Bool("json", false, "print a JSON object with the steps, evaluations and seconds")
	fs.Usage = func() {
		fmt.Fprintln(os.Stderr, `usage: mvwatch thumbnail [flags] "PROMPT"`)
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) != 1 {
		fs.Usage()
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "mvwatch thumbnail:", err)
		return 1
	}
	prompt := pos[0]
	if strings.TrimSpace(prompt) == "" {
		return fail(fmt.Errorf("diffusion: %w", diffusion.ErrEmptyPrompt))
	}
	format := strings.TrimPrefix(strings.ToLower(filepath.Ext(*out)), ".")
	if format != "png" && format != "jpg" && format != "jpeg" {
		return fail(fmt.Errorf("--out %q: %w", *out, diffusion.ErrBadFormat))
	}
	auto := strings.EqualFold(strings.TrimSpace(*steps), "auto")
	if !auto { // a bad count fails before any model loads
		if _, err := diffusion.ChooseSteps(nil, prompt, tf.scheduler, *steps, tf.defaultSteps); err != nil {
			return fail(err)
		}
	}
	start := time.Now()
	p, pred, err := tf.open(auto)
	if err != nil {
		return fail(err)
	}
	defer p.Close()
	if pred != nil {
		defer pred.Close()
	}
	n, err := diffusion.ChooseSteps(pred, prompt, tf.scheduler, *steps, tf.defaultSteps)
	if err != nil {
		return fail(err)
	}
	genStart := time.Now()
	res, err := p.Generate(context.Background(), diffusion.Request{Prompt: prompt, Steps: n,
		Scheduler: tf.scheduler, GuidanceScale: tf.guidance, Seed: *seed})
	if err != nil {
		return fail(err)
	}
	genSeconds := time.Since(genStart).Seconds()
	f, err := os.Create(*out)
	if err != nil {
		return fail(err)
	}
	if err := diffusion.EncodeImage(f, res.Image, format); err != nil {
		f.Close()
		return fail(err)
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}
	if !*asJSON {
		fmt.Printf("%s: %d %s steps (%d UNet evaluations), %.3fs\n", *out, res.Steps, res.Scheduler,
			res.Evaluations, genSeconds)
		return 0
	}
	b, _ := json.Marshal(map[string]any{"out": *out, "prompt": prompt, "steps": res.Steps, "auto": auto,
		"scheduler": res.Scheduler, "evaluations": res.Evaluations, "generate_seconds": genSeconds,
		"total_seconds": time.Since(start).Seconds()})
	fmt.Println(string(b))
	return 0
}
