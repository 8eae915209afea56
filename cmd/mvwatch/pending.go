package main

import (
	"context"
	"errors"
	"time"

	"github.com/mvwatch/mvwatch/demux"
)

func writeNPYFile(string, []int, []int32) error { return errors.New("npy: pending") }
func extractRTSP(context.Context, string, demux.DecoderConfig, time.Duration, func(*demux.Frame) error) error {
	return errors.New("rtsp: pending")
}
func runTestcam([]string) int { return 1 }
func runLive([]string) int    { return 1 }
