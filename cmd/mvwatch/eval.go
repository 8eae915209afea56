package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/mvwatch/mvwatch/internal/evaluate"
	"github.com/mvwatch/mvwatch/pipeline"
)

// runEval scores the offline pipeline against a real-footage manifest (internal/evaluate).
func runEval(args []string) int {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	manifest := fs.String("manifest", "testdata/realfootage/manifest.json", "real-footage manifest")
	modelDir := fs.String("model", pipeline.DefaultModelDir, "model directory")
	precision := fs.String("precision", "fp32", "model precision: fp32 or int8")
	gate := fs.Bool("gate", true, "motion gate, as in mvwatch analyze")
	minScore := fs.Float64("min-score", 0.5, "lowest score that becomes an event")
	cache := fs.String("cache", "", "folder for the H.264 re-encodes (default: <manifest dir>/cache/h264)")
	committedOnly := fs.Bool("committed-only", false, "evaluate only the clips committed to the repository")
	skipMissing := fs.Bool("skip-missing", false, "skip clips that are not fetched instead of failing")
	width := fs.Int("width", 0, "re-encode every clip from its original at this width instead of the manifest's (0: manifest)")
	jsonOut := fs.String("json", "", "also write the full report as JSON to this file")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: mvwatch eval [flags]\n\nRuns the offline analyze pipeline over every clip of a real-footage manifest (fetch them with\nscripts/fetch-realfootage.sh) and prints event-level precision and recall per label group against the\nhand-made timelines, nuisance events per hour, and camera-motion labels on fixed cameras.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return 2
	}
	m, err := evaluate.LoadManifest(*manifest)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mvwatch eval: %v\n", err)
		return 1
	}
	model, code := openModel("eval", *modelDir, *precision)
	if model == nil {
		return code
	}
	defer model.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := evaluate.Run(ctx, m, evaluate.PipelineAnalyzer{Model: model, Gate: *gate, MinScore: *minScore},
		evaluate.Options{CacheDir: *cache, CommittedOnly: *committedOnly, SkipMissing: *skipMissing, Width: *width,
			Log: func(format string, a ...any) { fmt.Fprintf(os.Stderr, "mvwatch eval: "+format+"\n", a...) }})
	if err != nil {
		fmt.Fprintf(os.Stderr, "mvwatch eval: %v\n", err)
		return 1
	}
	if err := evaluate.WriteMarkdown(os.Stdout, rep); err != nil {
		fmt.Fprintf(os.Stderr, "mvwatch eval: %v\n", err)
		return 1
	}
	if *jsonOut != "" {
		b, err := json.MarshalIndent(rep, "", " ")
		if err == nil {
			err = os.WriteFile(*jsonOut, append(b, '\n'), 0o644)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "mvwatch eval: %v\n", err)
			return 1
		}
	}
	return 0
}
