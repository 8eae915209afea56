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
	addr := fs.String("addr", "127.0.0.1:8554", "RTSP listen address")
	path := fs.String("path", "/testcam", "stream path")
	file := fs.String("file", "", "raw H.264 Annex-B file to serve (default: the built-in clip)")
	loop := fs.Bool("loop", true, "loop the file")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: mvwatch testcam [flags]\n\nServes an H.264 stream over RTSP (the built-in clip, or -file) until Ctrl-C.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	var src *ingest.AnnexBSource
	var err error
	if *file != "" {
		src, err = ingest.OpenAnnexB(*file, ingest.AnnexBOptions{Loop: *loop})
	} else {
		src, err = ingest.NewAnnexBSource(testcam.DefaultClip(), ingest.AnnexBOptions{Loop: true})
	}
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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return 0
}
