package bench

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"

	"github.com/mvwatch/mvwatch/llmgen"
)

// CaptionConfig configures Caption.
type CaptionConfig struct {
	// TargetDir and DraftDir are the caption model directories (resolved). Both are required.
	TargetDir, DraftDir string
	// Generator is the decoding configuration.
	Generator llmgen.GeneratorConfig
	// Threads is the ONNX Runtime intra-op thread count the runtime was started with (reported only).
	Threads int
	// N is the number of event prompts; Temperature the sampled run's temperature; Seed the prompt
	// and sampling seed.
	N           int
	Temperature float64
	Seed        uint64
	// Out receives the report (a table, then one JSON line).
	Out io.Writer
}

// Caption times speculative against autoregressive decoding of the same target on the same prompts,
// greedy and at a sampling temperature, in one run, and ends with one JSON line of figures. ONNX
// Runtime must have been started (inference.Init).
func Caption(cfg CaptionConfig) error {
	cfg.Out = cmp.Or[io.Writer](cfg.Out, io.Discard)
	if cfg.DraftDir == "none" || cfg.DraftDir == "" {
		return fmt.Errorf("a draft model is needed")
	}
	target, err := llmgen.LoadModel(cfg.TargetDir, llmgen.DecoderConfig{})
	if err != nil {
		return err
	}
	defer target.Close()
	draft, err := llmgen.LoadModel(cfg.DraftDir, llmgen.DecoderConfig{})
	if err != nil {
		return err
	}
	defer draft.Close()
	var prompts [][]int
	for _, ev := range llmgen.SampleEvents(cfg.N, cfg.Seed) {
		prompts = append(prompts, target.Tokenizer.Encode(ev.Prompt()))
	}
	gcfg := cfg.Generator
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
		return err
	}
	sampled, err := run(llmgen.Sampling{Temperature: cfg.Temperature, Seed: cfg.Seed})
	if err != nil {
		return err
	}
	fmt.Fprintln(cfg.Out, "speedup: tokens/s ratio end to end (prompt prefill included); decode: after the prefill")
	fmt.Fprintf(cfg.Out, "target %s (%d layers), draft %s (%d layers), %d prompts, max %d tokens, K %d..%d adaptive, min draft confidence %g, %d ORT thread(s)\n",
		target.Dir, target.Decoder.Layers(), draft.Dir, draft.Decoder.Layers(), cfg.N, gcfg.MaxNewTokens, gcfg.InitialK, gcfg.MaxK, gcfg.MinDraftConfidence, cfg.Threads)
	fmt.Fprintf(cfg.Out, "%-14s %12s %12s %8s %8s %10s %9s %7s %10s\n", "decoding", "target tok/s", "spec tok/s", "speedup",
		"decode", "acceptance", "mean acc", "mean K", "identical")
	for _, r := range []struct {
		name string
		b    llmgen.BenchResult
	}{{"greedy", greedy}, {fmt.Sprintf("temp %.2g", cfg.Temperature), sampled}} {
		fmt.Fprintf(cfg.Out, "%-14s %12.1f %12.1f %7.2fx %7.2fx %10.3f %9.2f %7.2f %6d/%d\n", r.name, r.b.TargetTokensPerSecond(),
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
		"prompts":             cfg.N,
		"max_k":               gcfg.MaxK,
		"min_confidence":      gcfg.MinDraftConfidence,
		"sampled": map[string]any{
			"temperature":         cfg.Temperature,
			"speedup":             round3(sampled.Speedup()),
			"decode_speedup":      round3(sampled.DecodeSpeedup()),
			"acceptance_rate":     round3(sampled.Spec.AcceptanceRate()),
			"tokens_per_s_target": round3(sampled.TargetTokensPerSecond()),
			"tokens_per_s_spec":   round3(sampled.SpecTokensPerSecond()),
			"k":                   round3(sampled.Spec.MeanK()),
		},
	})
	fmt.Fprintln(cfg.Out, string(out))
	return nil
}

func round3(x float64) float64 { return float64(int64(x*1000+0.5)) / 1000 }
