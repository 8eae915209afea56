package bench

import (
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/mvwatch/mvwatch/internal/bus"
)

// benchConfig is one decoding configuration `mvwatch bench serve` compares (issue 18): the
// pre-decode gate with the motion gate (the default), the motion gate alone, and plain decoding.
type benchConfig struct {
	Name    string
	PreGate bool
	Gate    bool
}

// benchConfigNames maps the -configs names to configurations.
var benchConfigNames = map[string]benchConfig{
	"pregate": {Name: "pregate+gate", PreGate: true, Gate: true},
	"gate":    {Name: "gate", Gate: true},
	"plain":   {Name: "plain"},
}

// parseBenchConfigs parses a comma-separated list of pregate, gate and plain.
func parseBenchConfigs(list string) ([]benchConfig, error) {
	var out []benchConfig
	for _, s := range strings.Split(list, ",") {
		c, ok := benchConfigNames[strings.TrimSpace(s)]
		if !ok {
			return nil, fmt.Errorf("bad configuration %q (want pregate, gate or plain)", s)
		}
		out = append(out, c)
	}
	return out, nil
}

// benchKeptUp reports whether a camera kept up during the measuring window: it handled at least 95%
// of the access units its camera sent (decoded frames without the pre-gate; units pushed through
// the pre-gate, decoded or left in the GOP buffer, with it) and its camera dropped none.
func benchKeptUp(before, after bus.CameraState, sent float64, dropped bool) bool {
	if sent <= 0 || dropped {
		return false
	}
	got := float64(after.FramesDecoded - before.FramesDecoded)
	if after.PreGate != nil && before.PreGate != nil {
		got = float64(after.PreGate.AccessUnits - before.PreGate.AccessUnits)
	}
	return got >= 0.95*sent
}

// benchConfigSummary is one configuration's result over the camera counts tried.
type benchConfigSummary struct {
	Config string `json:"config"`
	// CamerasRealtime is the most cameras that kept up at once in any run (all of them when the
	// machine holds the largest count tried).
	CamerasRealtime int `json:"cameras_realtime"`
	// CPUPerCamera is the process CPU per camera, in seconds per second, at that count.
	CPUPerCamera float64 `json:"cpu_seconds_per_camera_s"`
	// DecodeFraction is the mean fraction of access units decoded at that count.
	DecodeFraction float64 `json:"decode_fraction"`
}

// summarizeBenchConfigs reduces the runs to one summary per configuration.
func summarizeBenchConfigs(cfgs []benchConfig, runs []serveRun) []benchConfigSummary {
	out := make([]benchConfigSummary, 0, len(cfgs))
	for _, c := range cfgs {
		s := benchConfigSummary{Config: c.Name}
		for _, r := range runs {
			if r.Config == c.Name && r.Realtime > s.CamerasRealtime {
				s.CamerasRealtime = r.Realtime
				s.CPUPerCamera = r.CPUSecondsPerS / float64(r.Cameras)
				s.DecodeFraction = r.DecodeFraction
			}
		}
		out = append(out, s)
	}
	return out
}

// benchDecodeLimit measures the decode limit on clip: FFmpeg's own single-threaded H.264 decoder
// with motion vectors exported (`ffmpeg -threads 1 -flags2 +export_mvs`), in frames per second on
// one core, and the cameras of fps frames per second that this machine's cores could decode.
func benchDecodeLimit(clip string, fps int) (float64, float64, error) {
	start := time.Now()
	out, err := exec.Command("ffmpeg", "-v", "error", "-nostdin", "-threads", "1", "-flags2", "+export_mvs",
		"-i", clip, "-f", "null", "-").CombinedOutput()
	if err != nil {
		return 0, 0, fmt.Errorf("ffmpeg decode: %w: %s", err, out)
	}
	took := time.Since(start).Seconds()
	frames, err := exec.Command("ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
		"-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", clip).Output()
	if err != nil {
		return 0, 0, fmt.Errorf("ffprobe: %w", err)
	}
	var n float64
	if _, err := fmt.Sscan(strings.TrimSpace(string(frames)), &n); err != nil || n == 0 {
		return 0, 0, fmt.Errorf("ffprobe frame count %q", frames)
	}
	perCore := n / took
	return perCore, perCore * float64(runtime.NumCPU()) / float64(fps), nil
}
