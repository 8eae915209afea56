package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/mvwatch/mvwatch/internal/evaluate"
	"github.com/mvwatch/mvwatch/internal/track"
)

// runTracks dumps a file's confirmed tracks with their features (evaluate.DumpTracks), or scores the
// tracks' object classes on a real-footage manifest (evaluate.EvaluateTrackClasses).
func runTracks(args []string) int {
	fs := flag.NewFlagSet("tracks", flag.ContinueOnError)
	out := fs.String("o", "", "output JSON-lines file, one confirmed track per line (default: stdout)")
	manifest := fs.String("eval", "", "instead of dumping a file: score track classes on this real-footage manifest")
	committedOnly := fs.Bool("committed-only", false, "with -eval: only the clips committed to the repository")
	jsonOut := fs.String("json", "", "with -eval: also write the report as JSON to this file")
	cache := fs.String("cache", "", "with -eval: folder for the H.264 re-encodes (default: <manifest dir>/cache/h264, as mvwatch eval)")
	noClass := fs.Bool("no-class", false, "leave tracks without a class (no classifier)")
	names := fs.Bool("feature-names", false, "print the feature names in the classifier's input order (JSON) and exit")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: mvwatch tracks [-o out.jsonl] FILE\n       mvwatch tracks -eval testdata/realfootage/manifest.json\n\n"+
			"Runs the compressed-domain tracker (internal/track) over FILE and writes each confirmed track as a JSON\n"+
			"line: time span, class, features (the ones the object classifier reads) and boxes. With -eval, scores\n"+
			"the tracks' classes against the hand-made timelines of a real-footage set.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *names {
		b, _ := json.Marshal(track.FeatureNames)
		fmt.Println(string(b))
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg := track.Config{NoClass: *noClass}
	if *manifest != "" {
		if fs.NArg() != 0 {
			fs.Usage()
			return 2
		}
		m, err := evaluate.LoadManifest(*manifest)
		if err != nil {
			fmt.Fprintf(os.Stderr, "mvwatch tracks: %v\n", err)
			return 1
		}
		rep, err := evaluate.EvaluateTrackClasses(ctx, m, cfg, evaluate.Options{CommittedOnly: *committedOnly, CacheDir: *cache,
			Log: func(format string, a ...any) { fmt.Fprintf(os.Stderr, "mvwatch tracks: "+format+"\n", a...) }})
		if err == nil {
			err = evaluate.WriteClassMarkdown(os.Stdout, rep)
		}
		if err == nil && *jsonOut != "" {
			var b []byte
			if b, err = json.MarshalIndent(rep, "", " "); err == nil {
				err = os.WriteFile(*jsonOut, append(b, '\n'), 0o644)
			}
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "mvwatch tracks: %v\n", err)
			return 1
		}
		return 0
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	w := os.Stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			fmt.Fprintf(os.Stderr, "mvwatch tracks: %v\n", err)
			return 1
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	n := 0
	frames, err := evaluate.DumpTracks(ctx, fs.Arg(0), cfg, func(r evaluate.TrackRecord) error {
		n++
		return enc.Encode(r)
	})
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "mvwatch tracks: %v\n", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "mvwatch tracks: %d tracks in %d frames\n", n, frames)
	return 0
}
