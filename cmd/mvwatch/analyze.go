package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/event"
	"github.com/mvwatch/mvwatch/pipeline"
)

// analyzedEvent is one line of `mvwatch analyze` output.
type analyzedEvent struct {
	Label     string  `json:"label"`
	Score     float64 `json:"score"`
	Start     float64 `json:"start"` // seconds from the first frame
	End       float64 `json:"end"`
	ExitStage int     `json:"exit_stage"`
}

func runAnalyze(args []string) int {
	fs := flag.NewFlagSet("analyze", flag.ContinueOnError)
	modelDir := fs.String("model", pipeline.DefaultModelDir, "model directory")
	precision := fs.String("precision", "fp32", "model precision: fp32 or int8")
	gate := fs.Bool("gate", true, "motion gate: skip inference on idle stretches")
	minScore := fs.Float64("min-score", 0.5, "lowest score that becomes an event")
	threads := fs.Int("threads", 1, "decoder threads")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: mvwatch analyze [flags] FILE\n\nRuns the serving pipeline over a file; prints one JSON line per event (label, score, start and end in seconds, exit stage).")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	if err := config.CheckPrecision(*precision); err != nil {
		fmt.Fprintf(os.Stderr, "mvwatch analyze: -precision: %v\n", err)
		return 2
	}
	model, code := openModel("analyze", *modelDir, *precision)
	if model == nil {
		return code
	}
	defer model.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	gcfg := config.DefaultGate()
	gcfg.Enabled = gate
	enc := json.NewEncoder(os.Stdout)
	epoch := time.Unix(0, 0)
	st, err := pipeline.AnalyzeFile(ctx, fs.Arg(0), pipeline.AnalyzeOptions{
		Classifier: model, Features: model.Features, Gate: gcfg, Threads: *threads,
		Thresholds: config.Thresholds{MinScore: *minScore},
	}, func(ev event.Event) {
		_ = enc.Encode(analyzedEvent{Label: ev.Label, Score: ev.Score, Start: ev.Start.Sub(epoch).Seconds(),
			End: ev.End.Sub(epoch).Seconds(), ExitStage: ev.ExitStage})
	})
	fmt.Fprintf(os.Stderr, "mvwatch analyze: %d frames, %d clips classified, gate skipped %.0f%% of frames, exits %v\n",
		st.Frames, st.Clips, 100*st.SkipRatio, st.ExitStages)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mvwatch analyze: %v\n", err)
		return 1
	}
	return 0
}
