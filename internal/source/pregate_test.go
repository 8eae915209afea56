package source

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/demux"
	"github.com/mvwatch/mvwatch/ingest"
	"github.com/mvwatch/mvwatch/internal/media"
	"github.com/mvwatch/mvwatch/internal/pregate"
)

// sceneClip is the scripted scene (15 fps, GOP 30, no B-frames).
var sceneClip = filepath.Join("..", "testcam", "clip", "scene.264")

var withPixels = mvOnly

func init() { withPixels.Pixels = true }

// wake is one resumption after a gap: the access unit at which the pre-gate decided (its PTS) and
// the first frame decoded after it (where the replay starts).
type wake struct{ at, from time.Duration }

// runFileFrames decodes path with the pre-gate pg (nil: none) and returns the frames' PTS, the
// number of gaps reported and the pre-gate's state.
func runFileFrames(t *testing.T, path string, pg *PreGate) ([]time.Duration, int, pregate.State) {
	pts, wakes, st := runFileWakes(t, path, pg)
	return pts, len(wakes), st
}

// runFileWakes is runFileFrames returning the resumptions.
func runFileWakes(t *testing.T, path string, pg *PreGate) ([]time.Duration, []wake, pregate.State) {
	t.Helper()
	var pts []time.Duration
	var wakes []wake
	var lastAU time.Duration
	pending := false
	var woke []Wake
	s := New(Config{Input: path, Camera: "cam", Decoder: withPixels, PreGate: pg,
		OnAccessUnit: func(au media.AccessUnit) { lastAU = au.PTS },
		OnGap:        func() { wakes, pending = append(wakes, wake{at: lastAU}), true },
		OnWake:       func(w Wake) { woke = append(woke, w) }})
	require.NoError(t, s.Run(context.Background(), func(f *media.Frame) error {
		pts = append(pts, f.PTS)
		if pending {
			wakes[len(wakes)-1].from, pending = f.PTS, false
		}
		return nil
	}))
	st, ok := s.PreGateState()
	require.Equal(t, pg != nil, ok)
	// Every resume after a gap is a reported wake-up at the same unit, replaying from the first
	// frame the reader got (these clips have no B-frames); a wake inside a GOP has no gap.
	require.GreaterOrEqual(t, len(woke), len(wakes))
	j := 0
	for _, g := range wakes {
		for j < len(woke) && woke[j].PTS != g.at {
			j++
		}
		require.Less(t, j, len(woke), "the resume at %v was reported by OnWake", g.at)
		require.InDelta(t, g.from.Seconds(), woke[j].ReplayFrom.Seconds(), 0.001) // the decoder's time base rounds
		require.Positive(t, woke[j].Units)
	}
	var kf uint64
	for _, w := range woke {
		if w.Keyframe {
			kf++
		}
	}
	require.Equal(t, st.KeyframeWakeUps, kf, "keyframe wake-ups reported as such")
	return pts, wakes, st
}

// writeTemp writes data to a file named name in a temporary folder.
func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, data, 0o600))
	return p
}

// idleThenScene writes 20 s of an idle camera (the scene's first frame with sensor noise), then the
// scene, and returns its path.
func idleThenScene(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg CLI not found")
	}
	graph := "[0:v]split=2[a][b];[a]trim=end_frame=1,loop=loop=299:size=1:start=0,setpts=N/15/TB,noise=alls=4:allf=t[idle];" +
		"[b]setpts=PTS-STARTPTS[scene];[idle][scene]concat=n=2:v=1,setpts=N/15/TB[out]"
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-i", sceneClip, "-filter_complex", graph,
		"-map", "[out]", "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "superfast", "-crf", "26",
		"-x264-params", "keyint=30:min-keyint=30:scenecut=0:bframes=0", "-f", "h264", "-")
	data, err := cmd.Output()
	require.NoError(t, err)
	return writeTemp(t, "idle.264", data)
}

func TestPreGateSharedKeyframeDecoders(t *testing.T) {
	path := idleThenScene(t)
	own, ownWakes, ownSt := runFileWakes(t, path, &PreGate{})
	pool := NewKeyframeDecoders(1)
	shared, sharedWakes, sharedSt := runFileWakes(t, path, &PreGate{Decoders: pool})
	require.Positive(t, sharedSt.KeyframeChecks)
	// A lent decoder, drained after each check, decides exactly as a fresh one per check.
	require.Equal(t, own, shared)
	require.Equal(t, ownWakes, sharedWakes)
	require.Equal(t, ownSt.KeyframeChecks, sharedSt.KeyframeChecks)
	require.Equal(t, ownSt.KeyframeWakeUps, sharedSt.KeyframeWakeUps)
	require.Equal(t, 1, pool.Idle(), "one decoder served every check and was kept")
	pool.Close()
	require.Zero(t, pool.Idle())
}

func TestPreGateIdleSceneSleepsAndKeepsOrder(t *testing.T) {
	path := idleThenScene(t)
	plain, _, _ := runFileFrames(t, path, nil)
	gated, wakes, st := runFileWakes(t, path, &PreGate{})
	gaps := len(wakes)
	for i := 1; i < len(gated); i++ {
		require.Greater(t, gated[i], gated[i-1], "frames in PTS order across replays")
	}
	require.Empty(t, st.Fallback)
	require.Positive(t, gaps, "released units are reported as gaps")
	// The crossing starts 22.4 s in: the first wake after it is at most a GOP (2 s) and two
	// pictures later, and its replay starts before the crossing.
	crossing := 22400 * time.Millisecond
	for _, w := range wakes {
		if w.at >= crossing {
			t.Logf("wake-up at %.2f s, %.2f s after the crossing began; replay from %.2f s", w.at.Seconds(), (w.at - crossing).Seconds(), w.from.Seconds())
			require.LessOrEqual(t, w.at-crossing, 2*time.Second+2*time.Second/15)
			require.LessOrEqual(t, w.from, crossing)
			break
		}
	}
	require.Less(t, len(gated), len(plain)*6/10, "an idle camera is mostly left undecoded")
	// Every frame of the scene's crossing (2.4-5.6 s after the idle stretch) is decoded.
	frame := func(p time.Duration) int64 { return (p*15 + time.Second/2).Milliseconds() / 1000 }
	have := map[int64]bool{}
	for _, p := range gated {
		have[frame(p)] = true
	}
	for _, p := range plain {
		if p >= 22400*time.Millisecond && p < 25600*time.Millisecond {
			require.True(t, have[frame(p)], "frame %d of the crossing decoded", frame(p))
		}
	}
	t.Logf("%d of %d frames decoded, %d gaps, %d wake-ups, %d keyframe checks (%d woke)", len(gated), len(plain), gaps,
		st.WakeUps, st.KeyframeChecks, st.KeyframeWakeUps)
}

// corruptSliceHeaders overwrites the slice header of every non-IDR picture from the n-th on with
// bytes that do not parse past the fields ingest reads (frame number, picture order count).
func corruptSliceHeaders(t *testing.T, data []byte, from int) []byte {
	t.Helper()
	aus, err := ingest.ParseAnnexB(data, 15)
	require.NoError(t, err)
	var out bytes.Buffer
	for i, au := range aus {
		for _, n := range au.NALUs {
			n = append([]byte(nil), n...)
			if typ := n[0] & 0x1f; i >= from && typ == 1 && len(n) > 8 {
				for j := 3; j < 8; j++ {
					n[j] = 0 // 40 zero bits after the picture-order fields: no Exp-Golomb code fits
				}
			}
			out.Write([]byte{0, 0, 0, 1})
			out.Write(n)
		}
	}
	return out.Bytes()
}

func TestPreGateFallsBackOnBadInput(t *testing.T) {
	scene, err := os.ReadFile(sceneClip)
	require.NoError(t, err)
	cases := []struct {
		name   string
		data   func(t *testing.T) []byte
		pg     PreGate
		reason pregate.FallbackReason
		from   int // the unit from which every unit must be decoded
	}{
		{"gop longer than the buffer", func(*testing.T) []byte { return scene },
			PreGate{Gate: pregate.Config{MaxBufferBytes: 4 << 10}}, pregate.FallbackGOPOverflow, 0},
		{"corrupt slice header", func(t *testing.T) []byte { return corruptSliceHeaders(t, scene, 100) },
			PreGate{}, pregate.FallbackCorrupt, 100},
		{"no IDR", func(t *testing.T) []byte {
			if _, err := exec.LookPath("ffmpeg"); err != nil {
				t.Skip("ffmpeg CLI not found")
			}
			// One IDR at the start, then 12 s of P pictures.
			cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-i", sceneClip, "-c:v", "libx264",
				"-preset", "superfast", "-x264-params", "keyint=infinite:scenecut=0:bframes=0", "-f", "h264", "-")
			out, err := cmd.Output()
			require.NoError(t, err)
			return out
		}, PreGate{Gate: pregate.Config{MaxIDRInterval: time.Second}}, pregate.FallbackNoIDR, 15},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeTemp(t, "bad.264", c.data(t))
			plain, _, _ := runFileFrames(t, path, nil)
			pg := c.pg
			gated, _, st := runFileFrames(t, path, &pg)
			require.Positive(t, st.Fallbacks[c.reason], "fallback counted as %s: %+v", c.reason, st.Fallbacks)
			require.NotEmpty(t, st.Fallback, "still decoding every unit at the end")
			// From the fallback on every unit is decoded; the decoder may conceal or drop a picture it
			// cannot parse either way.
			since := func(pts []time.Duration) int {
				n := 0
				for _, p := range pts {
					if p >= plain[c.from] {
						n++
					}
				}
				return n
			}
			require.InDelta(t, since(plain), since(gated), 2, "plain decoding from unit %d on", c.from)
		})
	}
}

func TestKeyframeDecoderSkipsTheLoopFilterOnly(t *testing.T) {
	data, err := os.ReadFile(sceneClip)
	require.NoError(t, err)
	aus, err := ingest.ParseAnnexB(data, 15)
	require.NoError(t, err)
	decodeY := func(cfg demux.DecoderConfig) []byte {
		d, err := demux.NewDecoder(media.CodecH264, cfg)
		require.NoError(t, err)
		defer d.Close()
		var y []byte
		keep := func(f *media.Frame) error {
			if y == nil {
				y = make([]byte, 0, f.Width*f.Height)
				for r := range f.Height {
					y = append(y, f.Y[r*f.YStride:r*f.YStride+f.Width]...)
				}
			}
			return nil
		}
		require.NoError(t, d.Decode(aus[0], keep))
		require.NoError(t, d.Flush(keep))
		require.NotNil(t, y)
		return y
	}
	full := decodeY(demux.DecoderConfig{Pixels: true, Threads: 1})
	fast := decodeY(keyframeDecoderConfig(demux.DecoderConfig{}))
	require.NotEqual(t, full, fast, "the deblocking filter was skipped")
	var sum int
	for i := range full {
		sum += max(int(full[i])-int(fast[i]), int(fast[i])-int(full[i]))
	}
	mad := float64(sum) / float64(len(full))
	t.Logf("mean |difference| without the loop filter: %.3f grey levels", mad)
	require.Less(t, mad, 1.0, "block means, which the check compares, hardly move")
}
