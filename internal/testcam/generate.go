package testcam

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// GenerateOptions describes a clip that the ffmpeg CLI renders from a lavfi filter graph and x264
// encodes, for scripted test scenes.
type GenerateOptions struct {
	// Graph is the lavfi input graph, with size, rate and duration, for example
	// "testsrc2=s=1280x720:r=15:d=10". Required.
	Graph string
	// Profile is the H.264 profile: "baseline", "main" or "high". It defaults to "main".
	Profile string
	// Keyint is the number of pictures between IDR pictures. It defaults to 30.
	Keyint int
	// BFrames is the number of consecutive B-frames (0 for none; baseline forces 0). It defaults to 0.
	BFrames int
	// CRF is x264's constant rate factor. It defaults to 26.
	CRF int
	// FFmpeg is the path of the ffmpeg binary. It defaults to "ffmpeg".
	FFmpeg string
}

// Generate runs the ffmpeg CLI to render and encode a clip and returns it as a raw H.264 Annex-B
// stream (read it with ingest.NewAnnexBSource).
func Generate(ctx context.Context, opts GenerateOptions) ([]byte, error) {
	if opts.Graph == "" {
		return nil, fmt.Errorf("generate: GenerateOptions.Graph is required")
	}
	if opts.Profile == "" {
		opts.Profile = "main"
	}
	if opts.Keyint <= 0 {
		opts.Keyint = 30
	}
	if opts.CRF <= 0 {
		opts.CRF = 26
	}
	if opts.FFmpeg == "" {
		opts.FFmpeg = "ffmpeg"
	}
	bframes := opts.BFrames
	if opts.Profile == "baseline" {
		bframes = 0
	}
	x264 := "keyint=" + strconv.Itoa(opts.Keyint) + ":min-keyint=" + strconv.Itoa(opts.Keyint) +
		":scenecut=0:bframes=" + strconv.Itoa(bframes)
	cmd := exec.CommandContext(ctx, opts.FFmpeg, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", opts.Graph,
		"-pix_fmt", "yuv420p", "-c:v", "libx264", "-profile:v", opts.Profile, "-preset", "veryfast",
		"-crf", strconv.Itoa(opts.CRF), "-x264-params", x264, "-f", "h264", "-")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("generate %q: %w: %s", opts.Graph, err, strings.TrimSpace(stderr.String()))
	}
	if stdout.Len() == 0 {
		return nil, fmt.Errorf("generate %q: ffmpeg wrote no stream", opts.Graph)
	}
	return stdout.Bytes(), nil
}
