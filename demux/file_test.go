package demux

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/internal/media"
	"github.com/mvwatch/mvwatch/internal/peer"
)

// decodeAll decodes path and returns, per output frame, its picture type and the hash of its MV bytes.
func decodeAll(t *testing.T, path string, cfg DecoderConfig) (types []byte, counts []int, hashes [][32]byte) {
	t.Helper()
	f, err := OpenFile(path, cfg)
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, f.Run(context.Background(), func(fr *media.Frame) error {
		require.Equal(t, len(types), fr.Index)
		types = append(types, fr.PictType)
		counts = append(counts, len(fr.MotionVectors)/40)
		hashes = append(hashes, sha256.Sum256(withoutPadding(fr.MotionVectors)))
		return nil
	}))
	return types, counts, hashes
}

// withoutPadding copies AVMotionVector records with their struct padding (bytes 14-15 and 34-39, which
// FFmpeg leaves uninitialised) zeroed, so equal vectors hash equal.
func withoutPadding(b []byte) []byte {
	c := bytes.Clone(b)
	for i := 0; i+40 <= len(c); i += 40 {
		clear(c[i+14 : i+16])
		clear(c[i+34 : i+40])
	}
	return c
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return strings.Fields(string(b))
}

// TestPeerFrameTypesAndCounts checks picture types and per-frame vector counts against mv-extractor's
// references. (Row-for-row equality of the vectors is checked by cmd/mvwatch's extract tests.)
func TestPeerFrameTypesAndCounts(t *testing.T) {
	for _, s := range peer.Sets {
		t.Run(s.Name, func(t *testing.T) {
			types, counts, _ := decodeAll(t, filepath.Join(peer.Dir(t), s.Video), DecoderConfig{MotionVectors: true, Threads: 1})
			wantTypes := readLines(t, peer.Path(t, s.Name, "frame_types.txt"))
			// The rtsp reference lacks the stream's last frame (upstream's RTSP read stopped early).
			require.GreaterOrEqual(t, len(types), len(wantTypes))
			for i, w := range wantTypes {
				require.Equal(t, w, string(types[i]), "frame %d", i)
			}
			for i, line := range readLines(t, peer.Path(t, s.Name, s.Name+".mv_counts.csv")) {
				fields := strings.Split(line, ",")
				require.Len(t, fields, 2)
				n, err := strconv.Atoi(fields[1])
				require.NoError(t, err)
				require.Equal(t, n, counts[i], "frame %d", i)
			}
		})
	}
}

// TestThreadCountIndependence: the vectors do not depend on the thread count, for a P-only file (frame
// threading) and for a stream with B-frames (ThreadAuto picks slice threading there).
func TestThreadCountIndependence(t *testing.T) {
	for _, s := range []struct {
		video      string
		mayReorder bool
	}{{"vid_h264.mp4", false}, {"vid_h264.264", true}} {
		t.Run(s.video, func(t *testing.T) {
			path := filepath.Join(peer.Dir(t), s.video)
			f, err := OpenFile(path, DecoderConfig{MotionVectors: true})
			require.NoError(t, err)
			require.Equal(t, s.mayReorder, f.Info().MayReorder)
			f.Close()
			_, _, one := decodeAll(t, path, DecoderConfig{MotionVectors: true, Threads: 1})
			for _, n := range []int{2, 4} {
				for run := 0; run < 2; run++ {
					_, _, many := decodeAll(t, path, DecoderConfig{MotionVectors: true, Threads: n})
					requireSameFrames(t, one, many, "threads=%d run %d", n, run)
				}
			}
		})
	}
}

// TestPixelsMatchFFmpegCLI compares the decoded planes with the ffmpeg CLI's rawvideo output.
func TestPixelsMatchFFmpegCLI(t *testing.T) {
	path := filepath.Join(peer.Dir(t), "vid_h264.mp4")
	const frames = 5
	raw, err := exec.Command("ffmpeg", "-v", "error", "-threads", "1", "-i", path, "-frames:v", strconv.Itoa(frames),
		"-f", "rawvideo", "-pix_fmt", "yuv420p", "-").Output()
	require.NoError(t, err)
	f, err := OpenFile(path, DecoderConfig{Pixels: true, Threads: 1})
	require.NoError(t, err)
	defer f.Close()
	var got []byte
	err = f.Run(context.Background(), func(fr *media.Frame) error {
		require.Equal(t, 1280, fr.Width)
		require.Nil(t, fr.MotionVectors)
		for y := range fr.Height {
			got = append(got, fr.Y[y*fr.YStride:y*fr.YStride+fr.Width]...)
		}
		for _, p := range [][]byte{fr.Cb, fr.Cr} {
			for y := range (fr.Height + 1) / 2 {
				got = append(got, p[y*fr.CStride:y*fr.CStride+(fr.Width+1)/2]...)
			}
		}
		if fr.Index == frames-1 {
			return errStopTest
		}
		return nil
	})
	require.ErrorIs(t, err, errStopTest)
	require.True(t, bytes.Equal(raw, got), "decoded planes differ from ffmpeg's")
}

// requireSameFrames compares per-frame hashes and names the first frame that differs.
func requireSameFrames(t *testing.T, want, got [][32]byte, msg string, args ...any) {
	t.Helper()
	require.Equal(t, len(want), len(got), fmt.Sprintf(msg, args...))
	for i := range want {
		if want[i] != got[i] {
			t.Fatalf("frame %d differs: "+msg, append([]any{i}, args...)...)
		}
	}
}

var errStopTest = errors.New("stop")

func TestBadInputs(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join(peer.Dir(t), "vid_h264.264"))
	require.NoError(t, err)

	t.Run("missing file", func(t *testing.T) {
		_, err := OpenFile(filepath.Join(dir, "nope.mp4"), DecoderConfig{MotionVectors: true})
		require.ErrorContains(t, err, "nope.mp4")
		require.ErrorContains(t, err, "No such file")
	})
	t.Run("random bytes", func(t *testing.T) {
		p := filepath.Join(dir, "random.mp4")
		r := rand.New(rand.NewPCG(1, 2))
		b := make([]byte, 64<<10)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		require.NoError(t, os.WriteFile(p, b, 0o644))
		_, err := OpenFile(p, DecoderConfig{MotionVectors: true})
		require.Error(t, err)
		require.Contains(t, err.Error(), "random.mp4")
	})
	t.Run("truncated stream decodes what is there", func(t *testing.T) {
		p := filepath.Join(dir, "cut.264")
		require.NoError(t, os.WriteFile(p, src[:len(src)*2/5], 0o644))
		types, _, _ := decodeAll(t, p, DecoderConfig{MotionVectors: true, Threads: 1})
		require.Greater(t, len(types), 50)
		require.Less(t, len(types), 337)
	})
	t.Run("corrupt middle is skipped", func(t *testing.T) {
		b := bytes.Clone(src)
		r := rand.New(rand.NewPCG(3, 4))
		for i := len(b) / 3; i < len(b)/3+4000; i++ {
			b[i] = byte(r.Uint32())
		}
		p := filepath.Join(dir, "corrupt.264")
		require.NoError(t, os.WriteFile(p, b, 0o644))
		types, _, _ := decodeAll(t, p, DecoderConfig{MotionVectors: true, Threads: 1})
		require.Greater(t, len(types), 300)
	})
	t.Run("unsupported codec for vectors", func(t *testing.T) {
		p := filepath.Join(dir, "mjpeg.mkv")
		ffmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10", "-t", "1", "-c:v", "mjpeg", p)
		_, err := OpenFile(p, DecoderConfig{MotionVectors: true})
		require.ErrorIs(t, err, ErrNoMotionVectors)
		require.ErrorContains(t, err, "mjpeg")
		f, err := OpenFile(p, DecoderConfig{Pixels: true}) // pixels alone are fine
		require.NoError(t, err)
		f.Close()
	})
	t.Run("no video stream", func(t *testing.T) {
		p := filepath.Join(dir, "audio.mka")
		ffmpeg(t, "-f", "lavfi", "-i", "sine=frequency=440", "-t", "0.5", p)
		_, err := OpenFile(p, DecoderConfig{MotionVectors: true})
		require.ErrorContains(t, err, "has no video stream")
	})
	t.Run("bad config", func(t *testing.T) {
		_, err := OpenFile(filepath.Join(peer.Dir(t), "vid_h264.mp4"), DecoderConfig{HWAccel: "metal"})
		require.ErrorContains(t, err, `unknown hardware decoder "metal"`)
	})
}

// TestHardwareFallback: no machine here has QSV, VAAPI or CUDA devices, so every hardware choice must
// fall back to software with a log line and still decode the same pixels.
func TestHardwareFallback(t *testing.T) {
	path := filepath.Join(peer.Dir(t), "vid_h264.mp4")
	for _, hw := range []HWAccel{HWQSV, HWVAAPI, HWCUDA, HWAuto} {
		t.Run(string(hw), func(t *testing.T) {
			var logs bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&logs, nil))
			f, err := OpenFile(path, DecoderConfig{Pixels: true, HWAccel: hw, Threads: 1, Logger: logger})
			require.NoError(t, err)
			defer f.Close()
			st := f.HW()
			if !st.Fallback() {
				t.Skipf("%s hardware present on this machine", st.Active)
			}
			require.Equal(t, hw, st.Requested)
			require.NotEmpty(t, st.Reason)
			require.Contains(t, logs.String(), "decoding in software")
			n := 0
			require.NoError(t, f.Run(context.Background(), func(fr *media.Frame) error { n++; return nil }))
			require.Equal(t, 337, n)
		})
	}
	t.Run("vectors force software", func(t *testing.T) {
		f, err := OpenFile(path, DecoderConfig{MotionVectors: true, HWAccel: HWAuto, Logger: slog.New(slog.DiscardHandler)})
		require.NoError(t, err)
		defer f.Close()
		require.True(t, f.HW().Fallback())
		require.Equal(t, errNoMVsInHardware.Error(), f.HW().Reason)
	})
}

func TestRunCancel(t *testing.T) {
	f, err := OpenFile(filepath.Join(peer.Dir(t), "vid_h264.mp4"), DecoderConfig{MotionVectors: true, Threads: 1})
	require.NoError(t, err)
	defer f.Close()
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	err = f.Run(ctx, func(fr *media.Frame) error {
		n++
		if n == 10 {
			cancel()
		}
		return nil
	})
	require.ErrorIs(t, err, context.Canceled)
	require.Less(t, n, 337)
}

func TestCPointers(t *testing.T) {
	f, err := OpenFile(filepath.Join(peer.Dir(t), "vid_h264.mp4"), DecoderConfig{MotionVectors: true})
	require.NoError(t, err)
	defer f.Close()
	require.Equal(t, f.dec.cc.Width(), codecContextWidth(f.dec.cc))
	require.Equal(t, 1280, codecContextWidth(f.dec.cc))
}

func ffmpeg(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command("ffmpeg", append([]string{"-v", "error", "-y"}, args...)...).CombinedOutput()
	require.NoError(t, err, "ffmpeg: %s", out)
}

// TestRawStreamTimestamps: a raw H.264 file carries no timestamps of its own; frames still get
// presentation times in output order from FFmpeg's best-effort timestamps.
func TestRawStreamTimestamps(t *testing.T) {
	f, err := OpenFile(filepath.Join(peer.Dir(t), "vid_h264.264"), DecoderConfig{MotionVectors: true, Threads: 1})
	require.NoError(t, err)
	defer f.Close()
	last := time.Duration(-1)
	n := 0
	require.NoError(t, f.Run(context.Background(), func(fr *media.Frame) error {
		require.Greater(t, fr.PTS, last, "frame %d", fr.Index)
		last = fr.PTS
		n++
		return nil
	}))
	require.Equal(t, 337, n)
	require.InDelta(t, 336.0/25, last.Seconds(), 0.5)
}
