package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mvwatch/mvwatch/demux"
	"github.com/mvwatch/mvwatch/internal/source"
	"github.com/mvwatch/mvwatch/mvextract"
)

// featuresOptions configures `mvwatch features`.
type featuresOptions struct {
	out       string
	spec      mvextract.FeatureSpec
	threads   int
	maxTime   time.Duration
	idle      time.Duration
	queue     int
	transport string
}

func runFeatures(args []string) int {
	fs := flag.NewFlagSet("features", flag.ContinueOnError)
	var o featuresOptions
	fs.StringVar(&o.out, "out", "", "output .npy file (float32 [N, C, T, H, W]); a .json with the clips' frames goes next to it")
	featureFlags := mvextract.RegisterFeatureFlags(fs)
	fs.IntVar(&o.threads, "threads", 1, "decoder threads (0: number of CPUs); features do not depend on it")
	fs.DurationVar(&o.maxTime, "duration", 0, "for RTSP inputs: stop after this long (0: until the stream ends or Ctrl-C)")
	fs.DurationVar(&o.idle, "idle", 3*time.Second, "for RTSP inputs: the stream has ended once no access unit came for this long (0: wait forever)")
	fs.IntVar(&o.queue, "queue", 1024, "for RTSP inputs: access units buffered between network and decoder (full: dropped and counted)")
	fs.StringVar(&o.transport, "transport", "tcp", "for RTSP inputs: tcp, udp or auto")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: mvwatch features [flags] INPUT --out FILE.npy\n\n"+
			"Decodes INPUT (a video file or rtsp:// URL) and writes its model-input clips as one float32 .npy\n"+
			"[N, C, T, H, W] (channels dx, dy, residual[, abs_residual][, cb_residual, cr_residual]; see package\n"+
			"mvextract) and FILE.json "+
			"with the settings and each clip's frames, picture types and times.")
		fs.PrintDefaults()
	}
	// Accept flags after INPUT too: `mvwatch features INPUT --out FILE.npy`.
	var input string
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		if input != "" {
			fmt.Fprintf(os.Stderr, "mvwatch features: more than one input (%q, %q)\n", input, fs.Arg(0))
			return 2
		}
		input, rest = fs.Arg(0), fs.Args()[1:]
	}
	if input == "" || o.out == "" {
		fs.Usage()
		return 2
	}
	var err error
	if o.spec, err = featureFlags.Spec(); err != nil {
		fmt.Fprintf(os.Stderr, "mvwatch features: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	meta, err := features(ctx, input, o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mvwatch features: %v\n", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "mvwatch features: %d clips of %d frames from %d frames written to %s\n",
		len(meta.Clips), meta.ClipLen, meta.Frames, o.out)
	return 0
}

// features decodes input, assembles its clips and writes o.out and its .json. The .npy is written as
// the clips come, so long inputs need no more memory than short ones.
func features(ctx context.Context, input string, o featuresOptions) (*mvextract.FeaturesMeta, error) {
	w, err := mvextract.NewFeaturesWriter(o.out, input, o.spec)
	if err != nil {
		return nil, err
	}
	dcfg := demux.DecoderConfig{MotionVectors: true, Pixels: true, Threads: o.threads}
	runErr := source.New(source.Config{Input: input, Camera: "features", Decoder: dcfg,
		Transport: o.transport, QueueSize: o.queue, MaxTime: o.maxTime, Idle: o.idle}).Run(ctx, w.Write)
	if source.IsURL(input) && (errors.Is(runErr, context.DeadlineExceeded) || errors.Is(runErr, context.Canceled)) {
		runErr = nil // --duration passed, or Ctrl-C: a live stream ends this way
	}
	if err := errors.Join(runErr, w.Close()); err != nil {
		return nil, err
	}
	return w.WriteMeta()
}
