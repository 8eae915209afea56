package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/mvwatch/mvwatch/llmgen"
)

// runBenchCaption times speculative against autoregressive decoding of the same target on the same
// prompts, greedy and at a sampling temperature, in one run, and ends with one JSON line of figures.
func runBenchCaption(args []string) int {
	fs := flag.NewFlagSet("bench caption", flag.ContinueOnError)
	var cf captionFlags
	cf.register(fs)
	n := fs.Int("n", 60, "number of event prompts")
	temperature := fs.Float64("temperature", 0.7, "temperature of the sampled run")
	seed := fs.Uint64("seed", 7, "prompt and sampling seed")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "mvwatch bench caption:", err)
		return 1
	}
	if cf.draft == "none" {
		return fail(fmt.Errorf("a draft model is needed"))
	}
	if err := cf.initRuntime(); err != nil {
		return fail(err)
	}
	target, err := llmgen.LoadModel(modelDir(cf.target), llmgen.DecoderConfig{})
	if err != nil {
		return fail(err)
	}
	defer target.Close()
	draft, err := llmgen.LoadModel(modelDir(cf.draft), llmgen.DecoderConfig{})
	if err != nil {
		return fail(err)
	}
	defer draft.Close()
	var prompts [][]int
	for _, ev := range llmgen.SampleEvents(*n, *seed) {
		prompts = append(prompts, target.Tokenizer.Encode(ev.Prompt()))
	}
	gcfg := cf.generator()
	run := func(s llmgen.Sampling) (llmgen.BenchResult, error) {
		g, err := llmgen.NewGenerator(target, draft, gcfg)
		if err != nil {
			return llmgen.BenchResult{}, err
		}
		// Warm-up: first runs pay for lazy initialisation inside ONNX Runtime.
		if _, err := llmgen.Bench(g, prompts[:min(3, len(prompts))], s); err != nil {
			return llmgen.BenchResult{}, err
		}
		return llmgen.Bench(g, prompts, s)
	}
	greedy, err := run(llmgen.Sampling{})
	if err != nil {
		return fail(err)
	}
	sampled, err := run(llmgen.Sampling{Temperature: *temperature, Seed: *seed})
	if err != nil {
		return fail(err)
	}
	fmt.Println("speedup: tokens/s ratio end to end (prompt prefill included); decode: after the prefill")
	fmt.Printf("target %s (%d layers), draft %s (%d layers), %d prompts, max %d tokens, K %d..%d adaptive, min draft confidence %g, %d ORT thread(s)\n",
		target.Dir, target.Decoder.Layers(), draft.Dir, draft.Decoder.Layers(), *n, cf.maxTokens, cf.k, cf.maxK, cf.minConf, cf.threads)
	fmt.Printf("%-14s %12s %12s %8s %8s %10s %9s %7s %10s\n", "decoding", "target tok/s", "spec tok/s", "speedup",
		"decode", "acceptance", "mean acc", "mean K", "identical")
	for _, r := range []struct {
		name string
		b    llmgen.BenchResult
	}{{"greedy", greedy}, {fmt.Sprintf("temp %.2g", *temperature), sampled}} {
		fmt.Printf("%-14s %12.1f %12.1f %7.2fx %7.2fx %10.3f %9.2f %7.2f %6d/%d\n", r.name, r.b.TargetTokensPerSecond(),
			r.b.SpecTokensPerSecond(), r.b.Speedup(), r.b.DecodeSpeedup(), r.b.Spec.AcceptanceRate(), r.b.Spec.MeanAccepted(),
			r.b.Spec.MeanK(), r.b.Identical, r.b.Prompts)
	}
	out, _ := json.Marshal(map[string]any{
		"speedup":             round3(greedy.Speedup()),
		"decode_speedup":      round3(greedy.DecodeSpeedup()),
		"acceptance_rate":     round3(greedy.Spec.AcceptanceRate()),
		"greedy_identical":    greedy.Identical == greedy.Prompts,
		"tokens_per_s_target": round3(greedy.TargetTokensPerSecond()),
		"tokens_per_s_spec":   round3(greedy.SpecTokensPerSecond()),
		"k":                   round3(greedy.Spec.MeanK()),
		"mean_accepted":       round3(greedy.Spec.MeanAccepted()),
		"prompts":             *n,
		"max_k":               cf.maxK,
		"min_confidence":      cf.minConf,
		"sampled": map[string]any{
			"temperature":         *temperature,
			"speedup":             round3(sampled.Speedup()),
			"decode_speedup":      round3(sampled.DecodeSpeedup()),
			"acceptance_rate":     round3(sampled.Spec.AcceptanceRate()),
			"tokens_per_s_target": round3(sampled.TargetTokensPerSecond()),
			"tokens_per_s_spec":   round3(sampled.SpecTokensPerSecond()),
			"k":                   round3(sampled.Spec.MeanK()),
		},
	})
	fmt.Println(string(out))
	return 0
}

func round3(x float64) float64 { return float64(int64(x*1000+0.5)) / 1000 }
