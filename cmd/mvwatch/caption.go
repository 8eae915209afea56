package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mvwatch/mvwatch/inference"
	"github.com/mvwatch/mvwatch/llmgen"
)

// captionFlags are the model and decoding flags shared by `caption` and `bench caption`.
type captionFlags struct {
	target, draft string
	threads       int
	maxTokens     int
	k, maxK       int
	minConf       float64
}

func (f *captionFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.target, "target", "models/caption/target", "target model directory (Optimum GPT-2 layout + tokenizer.json)")
	fs.StringVar(&f.draft, "draft", "models/caption/draft", `draft model directory, or "none" for plain decoding`)
	fs.IntVar(&f.threads, "threads", 1, "ONNX Runtime intra-op threads per model")
	fs.IntVar(&f.maxTokens, "max-tokens", 64, "most tokens per caption")
	fs.IntVar(&f.k, "k", 8, "initial draft length")
	fs.IntVar(&f.maxK, "max-k", 16, "largest adaptive draft length")
	fs.Float64Var(&f.minConf, "min-confidence", llmgen.DefaultMinDraftConfidence,
		"end a round's drafting after a token where the draft's top probability is below this (negative: off)")
}

// generator returns the decoding configuration the flags give.
func (f *captionFlags) generator() llmgen.GeneratorConfig {
	return llmgen.GeneratorConfig{MaxNewTokens: f.maxTokens, InitialK: f.k, MaxK: f.maxK, MinDraftConfidence: f.minConf}
}

// initRuntime starts ONNX Runtime with the flags' thread count.
func (f *captionFlags) initRuntime() error {
	return inference.Init(inference.RuntimeConfig{IntraOpThreads: f.threads})
}

// modelDir resolves a model directory given relative to the repository: as given, else next to the
// executable or in a directory above the working directory.
func modelDir(dir string) string {
	if dir == "none" || filepath.IsAbs(dir) {
		return dir
	}
	if _, err := os.Stat(dir); err == nil {
		return dir
	}
	var bases []string
	if exe, err := os.Executable(); err == nil {
		bases = append(bases, filepath.Dir(exe), filepath.Dir(filepath.Dir(exe)))
	}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			bases = append(bases, d)
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	for _, b := range bases {
		p := filepath.Join(b, dir)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return dir
}

func runCaption(args []string) int {
	fs := flag.NewFlagSet("caption", flag.ContinueOnError)
	var cf captionFlags
	cf.register(fs)
	temperature := fs.Float64("temperature", 0, "sampling temperature (0 = greedy)")
	topK := fs.Int("top-k", 0, "keep the K most likely tokens (0 = off)")
	topP := fs.Float64("top-p", 0, "nucleus sampling mass (0 = off)")
	seed := fs.Uint64("seed", 1, "random seed for sampling")
	asJSON := fs.Bool("json", false, "print a JSON object with the caption and decoding figures")
	fs.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: mvwatch caption [flags] EVENT.json\n\nEVENT.json holds camera, zone, label, direction, duration_s, time (HH:MM), confidence.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	ev, err := llmgen.ReadEvent(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "mvwatch caption:", err)
		return 1
	}
	if err := cf.initRuntime(); err != nil {
		fmt.Fprintln(os.Stderr, "mvwatch caption:", err)
		return 1
	}
	c, err := llmgen.NewCaptioner(llmgen.CaptionerConfig{
		TargetDir: modelDir(cf.target), DraftDir: modelDir(cf.draft),
		Sampling:  llmgen.Sampling{Temperature: *temperature, TopK: *topK, TopP: *topP, Seed: *seed},
		Generator: cf.generator(),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "mvwatch caption:", err)
		return 1
	}
	defer c.Close()
	cp := c.Caption(ev)
	if cp.Err != nil {
		fmt.Fprintln(os.Stderr, "mvwatch caption:", cp.Err)
		return 1
	}
	if !*asJSON {
		fmt.Println(cp.Text)
		return 0
	}
	out, _ := json.Marshal(map[string]any{
		"caption": cp.Text, "finish": cp.Finish, "tokens": cp.Stats.Generated, "seconds": cp.Duration.Seconds(),
		"acceptance_rate": cp.Stats.AcceptanceRate(), "mean_accepted": cp.Stats.MeanAccepted(),
		"target_calls": cp.Stats.TargetCalls, "draft_calls": cp.Stats.DraftCalls,
	})
	fmt.Println(string(out))
	return 0
}
