package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/mvwatch/mvwatch/ingest"
	"github.com/mvwatch/mvwatch/internal/testcam"
)

func runTestcam(args []string) int {
	fs := flag.NewFlagSet("testcam", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8554", "RTSP listen address (one camera; with -n > 1 each camera takes a free loopback port)")
	path := fs.String("path", "/testcam", "stream path")
	file := fs.String("file", "", "raw H.264 Annex-B file to serve (default: the built-in clip)")
	loop := fs.Bool("loop", true, "loop the file")
	n := fs.Int("n", 1, "number of cameras serving the file")
	control := fs.Bool("control", false, "speak the fleet control protocol on stdin/stdout (used by mvwatch bench serve) and stop when stdin closes")
	phaseSeed := fs.Uint64("phase-seed", 0, "when not 0, each camera starts the file at a random keyframe drawn with this seed")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: mvwatch testcam [flags]\n\nServes an H.264 stream over RTSP (the built-in clip, or -file) until Ctrl-C.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *n < 1 {
		fmt.Fprintln(os.Stderr, "mvwatch testcam: -n must be at least 1")
		return 2
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	data := testcam.DefaultClip()
	if *file != "" {
		b, err := os.ReadFile(*file)
		if err != nil {
			fmt.Fprintf(os.Stderr, "mvwatch testcam: %v\n", err)
			return 1
		}
		data = b
	} else {
		*loop = true
	}
	next := ingest.PhasedSources(data, ingest.AnnexBOptions{}, *phaseSeed)
	newSource := func(int) (testcam.Source, error) {
		if !*loop {
			return ingest.NewAnnexBSource(data, ingest.AnnexBOptions{})
		}
		return next()
	}
	if *n == 1 && !*control {
		src, err := newSource(0)
		if err != nil {
			fmt.Fprintf(os.Stderr, "mvwatch testcam: %v\n", err)
			return 1
		}
		cam := testcam.New(testcam.Config{Address: *addr, Path: *path, Source: src, Log: log})
		if err := cam.Start(); err != nil {
			fmt.Fprintf(os.Stderr, "mvwatch testcam: %v\n", err)
			return 1
		}
		defer cam.Close()
		fmt.Printf("test camera serving at %s\n", cam.URL())
		waitForSignal()
		return 0
	}
	if *control {
		log = slog.New(slog.DiscardHandler) // stdout is the protocol; a fleet's per-camera lines are noise
	}
	fleet, err := testcam.StartFleet(*n, newSource, log)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mvwatch testcam: %v\n", err)
		return 1
	}
	defer fleet.Close()
	if *control {
		if err := fleet.ServeControl(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintf(os.Stderr, "mvwatch testcam: %v\n", err)
			return 1
		}
		return 0
	}
	for _, u := range fleet.URLs() {
		fmt.Println(u)
	}
	waitForSignal()
	return 0
}

// waitForSignal blocks until Ctrl-C or SIGTERM.
func waitForSignal() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
}
