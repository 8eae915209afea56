// Command mvwatch watches RTSP cameras in the compressed domain. Run `mvwatch help` for its sub-commands.
package main

import (
	"fmt"
	"os"
	"sort"

	"github.com/mvwatch/mvwatch/internal/buildinfo"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

// command is one sub-command: its one-line summary and its entry point, which gets the arguments after
// the sub-command's name and returns the process exit code.
type command struct {
	summary string
	run     func(args []string) int
}

func commands() map[string]command {
	return map[string]command{
		"extract":    {"write per-frame motion vectors (CSV, .npy) and residual tensors of a file or RTSP URL", runExtract},
		"testcam":    {"start the built-in RTSP test camera", runTestcam},
		"live":       {"live extraction from RTSP cameras (the built-in test camera by default), a summary per second", runLive},
		"serve":      {"watch cameras: events, HTTP API, live events, metrics, RTSP restream", runServe},
		"analyze":    {"run the pipeline over a file, events as JSON lines", runAnalyze},
		"eval":       {"score the pipeline on the real-footage set: eval -manifest testdata/realfootage/manifest.json", runEval},
		"bench":      {"benchmarks: bench extract|serve|caption|thumbnail|soak", runBench},
		"caption":    {"caption one event JSON file with speculative decoding (models/caption)", runCaption},
		"thumbnail":  {"render an event thumbnail from a caption: thumbnail [--steps auto|N] [--scheduler NAME] [--out file.png] \"PROMPT\"", runThumbnail},
		"version":    {"print the version, VCS revision and Go version", runVersion},
		"hash-token": {"make a user's token and its config entry (hashes only): hash-token -user NAME [-role viewer|admin]", runHashToken},
		"tracks":     {"the tracker's confirmed tracks of a file with their class features (JSON lines), or -eval their classes on the real-footage set", runTracks},
		"features":   {"write model-input clips (float32 .npy [N, C, T, H, W] of motion and residual) of a file or RTSP URL", runFeatures},
	}
}

func run(args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage()
		return 0
	}
	c, ok := commands()[args[0]]
	if !ok {
		fmt.Fprintf(os.Stderr, "mvwatch: unknown command %q\n", args[0])
		usage()
		return 2
	}
	return c.run(args[1:])
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: mvwatch COMMAND [flags]\n\ncommands:")
	names := make([]string, 0, len(commands()))
	for name := range commands() {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(os.Stderr, "  %-8s %s\n", name, commands()[name].summary)
	}
}

func runVersion([]string) int {
	fmt.Println(buildinfo.Get())
	return 0
}
