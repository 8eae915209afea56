package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/internal/config"

	"github.com/mvwatch/mvwatch/internal/event"
)

// The gate corpus: clips on which the motion gate is known to have lost events (issue 13), built
// reproducibly from the scripted scene (internal/testcam/clip/scene.264, 15 fps: idle 0-2.4 s, an object crossing
// left to right 2.4-5.6 s, idle, a camera pan 8.0-10.4 s, idle to 12.8 s) with the ffmpeg CLI. Every clip
// is analysed twice with the shipped model, gated and ungated; the gate may skip frames but must not
// change the events.

// sceneClip is the scripted scene's path from the pipeline package.
var sceneClip = filepath.Join("..", "internal", "testcam", "clip", "scene.264")

// corpusClip is one clip of the gate corpus.
type corpusClip struct {
	name string
	// what the clip checks
	why string
	// build writes the clip, Annex-B H.264, to path.
	build func(t *testing.T, path string)
	// idle marks a clip that is mostly idle, on which the gate must skip most frames.
	idle bool
	// long marks a variant that runs only with MVWATCH_LONG=1.
	long bool
}

// x264Args are the scripted scene's encoder settings (scene.json: x264 superfast, GOP 30, no B-frames,
// CRF 26), so re-encoded corpus clips look like the scene the model was checked on.
var x264Args = []string{"-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "superfast", "-crf", "26",
	"-x264-params", "keyint=30:min-keyint=30:scenecut=0:bframes=0", "-f", "h264"}

// ffmpegScene runs ffmpeg with the scripted scene as input 0 and filter graph graph (output pad [out]),
// re-encoding the result to path.
func ffmpegScene(t *testing.T, path, graph string) {
	t.Helper()
	args := []string{"-hide_banner", "-loglevel", "error", "-y", "-i", sceneClip, "-filter_complex", graph, "-map", "[out]"}
	args = append(args, x264Args...)
	args = append(args, path)
	cmd := exec.Command("ffmpeg", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Run(), "ffmpeg: %s", stderr.String())
}

// loopScene writes n copies of the scripted scene's bitstream back to back (each starts with an IDR).
func loopScene(n int) func(t *testing.T, path string) {
	return func(t *testing.T, path string) {
		b, err := os.ReadFile(sceneClip)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path, bytes.Repeat(b, n), 0o600))
	}
}

// sceneSegments returns a filter graph that plays the given frame ranges [from, to) of the scene in
// order (split, trimmed, timestamps restarted, concatenated) as [out].
func sceneSegments(ranges ...[2]int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[0:v]split=%d", len(ranges))
	for i := range ranges {
		fmt.Fprintf(&b, "[s%d]", i)
	}
	b.WriteString(";")
	for i, r := range ranges {
		fmt.Fprintf(&b, "[s%d]trim=start_frame=%d:end_frame=%d,setpts=PTS-STARTPTS[t%d];", i, r[0], r[1], i)
	}
	for i := range ranges {
		fmt.Fprintf(&b, "[t%d]", i)
	}
	fmt.Fprintf(&b, "concat=n=%d:v=1,setpts=N/15/TB[out]", len(ranges))
	return b.String()
}

// activityGraph is seconds of continuous object motion (a box wandering over the scene's first, idle
// frame, with temporal noise like a real sensor) followed by the whole scripted scene, as [out].
func activityGraph(seconds int) string {
	n := seconds * 15
	return fmt.Sprintf("[0:v]split=2[a][b];"+
		"[a]trim=end_frame=1,loop=loop=%d:size=1:start=0,setpts=N/15/TB,noise=alls=4:allf=t[bg];"+
		"color=c=0x2050d0:s=48x64:r=15:d=%d[box];"+
		"[bg][box]overlay=x='200+170*sin(t*0.7)':y='96+60*sin(t*1.9)':shortest=1[act];"+
		"[b]setpts=PTS-STARTPTS[scene];[act][scene]concat=n=2:v=1,setpts=N/15/TB[out]", n-1, seconds)
}

// idleGraph is seconds of an idle camera (the scene's first frame with temporal sensor noise) followed
// by the whole scripted scene, as [out].
func idleGraph(seconds int) string {
	return fmt.Sprintf("[0:v]split=2[a][b];"+
		"[a]trim=end_frame=1,loop=loop=%d:size=1:start=0,setpts=N/15/TB,noise=alls=4:allf=t[idle];"+
		"[b]setpts=PTS-STARTPTS[scene];[idle][scene]concat=n=2:v=1,setpts=N/15/TB[out]", seconds*15-1)
}

// gateCorpus lists the corpus. Long variants run with MVWATCH_LONG=1.
func gateCorpus() []corpusClip {
	return []corpusClip{
		{name: "scene", why: "the scripted scene once", build: loopScene(1)},
		{name: "idle-30s", why: "30 s of an idle camera, then the scene: the gate's saving", idle: true,
			build: func(t *testing.T, p string) { ffmpegScene(t, p, idleGraph(30)) }},
		{name: "scene-x5", why: "the scripted scene looped five times: after the first pan the old gate was deaf", build: loopScene(5)},
		{name: "mid-crossing", why: "motion from the first frame (a camera mid-event when serve starts), then the scene again",
			build: func(t *testing.T, p string) { ffmpegScene(t, p, sceneSegments([2]int{44, 192}, [2]int{0, 192})) }},
		{name: "mid-pan", why: "a pan from the first frame, then an object",
			build: func(t *testing.T, p string) { ffmpegScene(t, p, sceneSegments([2]int{126, 170}, [2]int{10, 100})) }},
		{name: "pan-then-object", why: "a pan, a short idle, then the crossing",
			build: func(t *testing.T, p string) { ffmpegScene(t, p, sceneSegments([2]int{100, 170}, [2]int{20, 100})) }},
		{name: "large-crossing", why: "a large box crossing once (the model calls a clip of it multi_object)",
			build: func(t *testing.T, p string) { ffmpegScene(t, p, crossingGraph(160, 160, 4)) }},
		{name: "activity-20s", why: "20 s of continuous object motion, then the scene",
			build: func(t *testing.T, p string) { ffmpegScene(t, p, activityGraph(20)) }},
		{name: "activity-60s", why: "60 s of continuous object motion, then the scene", long: true,
			build: func(t *testing.T, p string) { ffmpegScene(t, p, activityGraph(60)) }},
		{name: "scene-x20", why: "the scripted scene looped twenty times", long: true, build: loopScene(20)},
	}
}

// loadShippedModel loads the shipped model (models/mfcd) for the test; it is closed when the test ends.
func loadShippedModel(t *testing.T) *Model {
	t.Helper()
	m, err := LoadModel(filepath.Join("..", "models", "mfcd"), ModelOptions{})
	require.NoError(t, err)
	t.Cleanup(m.Close)
	return m
}

// analyzeEvents runs AnalyzeFile and returns its events and stats.
func analyzeEvents(t *testing.T, m *Model, path string, gate bool) ([]event.Event, AnalyzeStats) {
	t.Helper()
	g := config.DefaultGate()
	g.Enabled = &gate
	var evs []event.Event
	st, err := AnalyzeFile(context.Background(), path, AnalyzeOptions{Classifier: m, Features: m.Features, Gate: g,
		Thresholds: config.Thresholds{MinScore: 0.5}}, func(ev event.Event) { evs = append(evs, ev) })
	require.NoError(t, err)
	return evs, st
}

func describe(evs []event.Event) string {
	var b strings.Builder
	epoch := time.Unix(0, 0)
	for _, ev := range evs {
		fmt.Fprintf(&b, "  %-13s %.2f [%6.2f, %6.2f]\n", ev.Label, ev.Score, ev.Start.Sub(epoch).Seconds(), ev.End.Sub(epoch).Seconds())
	}
	return b.String()
}

// TestGateCorpusEventsEqualUngated requires the gated run's events to equal the ungated run's on every
// corpus clip: same labels in the same order, starts within startTolerance. It logs the skip ratio.
func TestGateCorpusEventsEqualUngated(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg CLI not found")
	}
	m := loadShippedModel(t)
	dir := t.TempDir()
	long := os.Getenv("MVWATCH_LONG") == "1"
	const startTolerance = 1100 * time.Millisecond
	for _, c := range gateCorpus() {
		t.Run(c.name, func(t *testing.T) {
			if c.long && !long {
				t.Skip("long variant: MVWATCH_LONG=1")
			}
			path := filepath.Join(dir, c.name+".264")
			c.build(t, path)
			ungated, ust := analyzeEvents(t, m, path, false)
			began := time.Now()
			gated, gst := analyzeEvents(t, m, path, true)
			took := time.Since(began)
			t.Logf("%s (%s): %d frames, gate skipped %.1f%% (%d of %d clips classified), gated run %v\nungated:\n%sgated:\n%s",
				c.name, c.why, gst.Frames, 100*gst.SkipRatio, gst.Clips, ust.Clips, took.Round(time.Millisecond), describe(ungated), describe(gated))
			require.Equal(t, labels(ungated), labels(gated), "gated events must equal ungated events")
			for i := range ungated {
				d := gated[i].Start.Sub(ungated[i].Start)
				require.LessOrEqual(t, d.Abs(), startTolerance, "event %d (%s) starts %v from the ungated one", i, ungated[i].Label, d)
			}
			require.Zero(t, ust.SkipRatio)
			if c.idle {
				require.Greater(t, gst.SkipRatio, 0.6, "an idle camera must be mostly skipped")
			}
		})
	}
}

func labels(evs []event.Event) []string {
	out := make([]string, 0, len(evs))
	for _, ev := range evs {
		out = append(out, ev.Label)
	}
	return out
}
