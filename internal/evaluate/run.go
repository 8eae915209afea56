package evaluate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/event"
	"github.com/mvwatch/mvwatch/pipeline"
)

// Analyzer runs the event pipeline over one H.264 file.
type Analyzer interface {
	Analyze(ctx context.Context, path string) ([]Event, pipeline.AnalyzeStats, error)
}

// PipelineAnalyzer is the offline path `mvwatch analyze` uses: pipeline.AnalyzeFile with a loaded
// model, the default gate (or none) and a minimum score.
type PipelineAnalyzer struct {
	Model *pipeline.Model
	// Gate turns the motion gate on, as `mvwatch analyze` does by default.
	Gate bool
	// MinScore is the lowest score that becomes an event. It defaults to 0.5.
	MinScore float64
	// Threads is the decoder thread count. It defaults to 1.
	Threads int
}

// Analyze implements Analyzer.
func (a PipelineAnalyzer) Analyze(ctx context.Context, path string) ([]Event, pipeline.AnalyzeStats, error) {
	gcfg := config.DefaultGate()
	gate := a.Gate
	gcfg.Enabled = &gate
	minScore := a.MinScore
	if minScore == 0 {
		minScore = 0.5
	}
	epoch := time.Unix(0, 0)
	var events []Event
	st, err := pipeline.AnalyzeFile(ctx, path, pipeline.AnalyzeOptions{
		Classifier: a.Model, Features: a.Model.Features, Gate: gcfg, Threads: a.Threads,
		Thresholds: config.Thresholds{MinScore: minScore},
	}, func(ev event.Event) {
		events = append(events, Event{Label: ev.Label, Score: ev.Score,
			Start: ev.Start.Sub(epoch).Seconds(), End: ev.End.Sub(epoch).Seconds()})
	})
	if err != nil {
		return events, st, fmt.Errorf("evaluate: analyze %s: %w", path, err)
	}
	return events, st, nil
}

// Options configures Run.
type Options struct {
	// CacheDir holds the H.264 re-encodes. It defaults to <manifest dir>/cache/h264.
	CacheDir string
	// FFmpeg is the ffmpeg binary. It defaults to "ffmpeg".
	FFmpeg string
	// CommittedOnly evaluates only the clips with a committed cut (what `make test` can reach),
	// regression-only cuts included; without it those cuts are left out.
	CommittedOnly bool
	// SkipMissing skips clips whose original is not fetched instead of failing.
	SkipMissing bool
	// Width, when set, overrides the encode profile's width: every clip, committed cuts included, is
	// re-encoded from its fetched original at this width (into CacheDir/w<Width>), to see how the
	// result depends on resolution.
	Width int
	// Log, when set, receives one line per clip.
	Log func(format string, args ...any)
}

// Report is the outcome of Run.
type Report struct {
	Results []ClipResult `json:"results"`
	Summary Summary      `json:"summary"`
	// Skipped names the clips that were not evaluated, with why.
	Skipped []string `json:"skipped,omitempty"`
}

// Run evaluates every clip of the manifest with the analyzer.
func Run(ctx context.Context, m *Manifest, a Analyzer, opts Options) (Report, error) {
	if opts.CacheDir == "" {
		opts.CacheDir = m.Resolve(filepath.Join("cache", "h264"))
	}
	if opts.FFmpeg == "" {
		opts.FFmpeg = "ffmpeg"
	}
	if opts.Width > 0 {
		mm := *m
		mm.Encode.Width = opts.Width
		mm.Clips = make([]Clip, len(m.Clips))
		for i, c := range m.Clips {
			if c.Committed != "" && c.CutNote != "" && c.RegressionOnly {
				// A cut, not a whole clip: it has no original of its own to re-encode.
				mm.Clips[i] = c
				continue
			}
			c.Committed = ""
			mm.Clips[i] = c
		}
		m = &mm
		opts.CacheDir = filepath.Join(opts.CacheDir, fmt.Sprintf("w%d", opts.Width))
	}
	logf := opts.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	var rep Report
	for _, c := range m.Clips {
		if (opts.CommittedOnly && c.Committed == "") || (!opts.CommittedOnly && c.RegressionOnly) {
			continue
		}
		tl, err := LoadTimeline(m.TimelinePath(c))
		if err != nil {
			return rep, err
		}
		path, err := m.Input(ctx, c, opts.CacheDir, opts.FFmpeg)
		if err != nil {
			if opts.SkipMissing && errors.Is(err, ErrMissing) {
				rep.Skipped = append(rep.Skipped, fmt.Sprintf("%s: not fetched", c.Name))
				logf("%s: skipped (not fetched; run scripts/fetch-realfootage.sh)", c.Name)
				continue
			}
			return rep, err
		}
		events, st, err := a.Analyze(ctx, path)
		if err != nil {
			return rep, err
		}
		r := ScoreClip(c, tl, events)
		r.Frames, r.SkipRatio = st.Frames, st.SkipRatio
		rep.Results = append(rep.Results, r)
		logf("%s: %d frames, %d events, gate skipped %.0f%%", c.Name, st.Frames, len(events), 100*st.SkipRatio)
	}
	rep.Summary = Summarise(rep.Results)
	return rep, nil
}

// Input returns the H.264 file to analyse for clip c: its committed cut when it has one, else the
// fetched original (sha256-checked) re-encoded with the manifest's profile into cacheDir (reused when
// already there).
func (m *Manifest) Input(ctx context.Context, c Clip, cacheDir, ffmpeg string) (string, error) {
	if c.Committed != "" {
		p := m.Resolve(c.Committed)
		if err := checkSHA256(p, c.CommittedSHA256); err != nil {
			return "", fmt.Errorf("evaluate: committed clip %s: %w", c.Name, err)
		}
		return p, nil
	}
	src, err := m.VerifySource(c)
	if err != nil {
		return "", err
	}
	out := filepath.Join(cacheDir, c.Name+".mp4")
	if fi, err := os.Stat(out); err == nil && fi.Size() > 0 {
		if si, err := os.Stat(src); err == nil && !fi.ModTime().Before(si.ModTime()) {
			return out, nil
		}
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", fmt.Errorf("evaluate: cache: %w", err)
	}
	tmp := out + ".tmp.mp4"
	cmd := exec.CommandContext(ctx, ffmpeg, m.Encode.Args(src, tmp)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("evaluate: re-encode %s with %s: %w: %s", c.Name, ffmpeg, err, lastLine(b))
	}
	if err := os.Rename(tmp, out); err != nil {
		return "", fmt.Errorf("evaluate: cache: %w", err)
	}
	return out, nil
}

// Args is the ffmpeg command line (without the binary) that re-encodes src to dst with this profile:
// video only, scaled to Width, libx264 with a keyframe every GOPSeconds, no scene-cut keyframes, and
// timestamps kept so that event times stay in the source's seconds.
func (e EncodeSpec) Args(src, dst string) []string {
	return []string{"-v", "error", "-y", "-i", src, "-an", "-sn",
		"-vf", fmt.Sprintf("scale=%d:-2,format=yuv420p", e.Width),
		"-c:v", "libx264", "-preset", e.Preset, "-crf", strconv.Itoa(e.CRF),
		"-bf", strconv.Itoa(e.BFrames),
		"-force_key_frames", fmt.Sprintf("expr:gte(t,n_forced*%g)", e.GOPSeconds),
		"-x264-params", "scenecut=0", "-movflags", "+faststart", dst}
}

func lastLine(b []byte) string {
	end := len(b)
	for end > 0 && (b[end-1] == '\n' || b[end-1] == '\r') {
		end--
	}
	start := end
	for start > 0 && b[start-1] != '\n' {
		start--
	}
	return string(b[start:end])
}
