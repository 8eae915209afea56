package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/demux"
	"github.com/mvwatch/mvwatch/ingest"
	"github.com/mvwatch/mvwatch/internal/media"
	"github.com/mvwatch/mvwatch/internal/peer"
	"github.com/mvwatch/mvwatch/internal/testcam"
	"github.com/mvwatch/mvwatch/mvextract"
)

// featuresClipFile encodes a small moving test clip with x264 (bframes B-frames) into dir.
func featuresClipFile(t *testing.T, frames, bframes int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "in.mp4")
	out, err := exec.Command("ffmpeg", "-v", "error", "-y", "-f", "lavfi",
		"-i", "testsrc2=s=160x96:r=25", "-frames:v", strconv.Itoa(frames), "-c:v", "libx264", "-preset", "veryfast",
		"-bf", strconv.Itoa(bframes), "-g", "12", "-pix_fmt", "yuv420p", path).CombinedOutput()
	require.NoError(t, err, "ffmpeg: %s", out)
	return path
}

// readNPYFloat32 reads a float32 .npy file: its shape and data.
func readNPYFloat32(t *testing.T, path string) ([]int, []float32) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(b, []byte("\x93NUMPY\x01\x00")))
	hl := int(binary.LittleEndian.Uint16(b[8:]))
	hdr := string(b[10 : 10+hl])
	require.Contains(t, hdr, "'descr': '<f4'")
	m := regexp.MustCompile(`'shape': \(([0-9, ]*)\)`).FindStringSubmatch(hdr)
	require.NotNil(t, m, hdr)
	var shape []int
	for _, s := range strings.Split(m[1], ",") {
		if s = strings.TrimSpace(s); s != "" {
			n, err := strconv.Atoi(s)
			require.NoError(t, err)
			shape = append(shape, n)
		}
	}
	body := b[10+hl:]
	data := make([]float32, len(body)/4)
	for i := range data {
		data[i] = math.Float32frombits(binary.LittleEndian.Uint32(body[4*i:]))
	}
	return shape, data
}

func TestFeaturesCommand(t *testing.T) {
	in := featuresClipFile(t, 22, 0)
	out := filepath.Join(t.TempDir(), "clips.npy")
	require.Equal(t, 0, runFeatures([]string{in, "--out", out, "--clip-len", "4", "--size", "32x16", "--stride", "5"}))
	shape, data := readNPYFloat32(t, out)
	require.Equal(t, []int{4, 3, 4, 16, 32}, shape) // clips start at frames 0, 5, 10, 15
	require.Len(t, data, 4*3*4*16*32)

	var meta mvextract.FeaturesMeta
	b, err := os.ReadFile(filepath.Join(filepath.Dir(out), "clips.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &meta))
	require.Equal(t, shape, meta.Shape)
	require.Equal(t, []string{"dx", "dy", "residual"}, meta.Channels)
	require.Equal(t, 22, meta.Frames)
	require.Equal(t, 160, meta.SourceWidth)
	require.Len(t, meta.Clips, 4)
	require.Equal(t, []int{5, 6, 7, 8}, meta.Clips[1].Frames)
	require.Equal(t, 15, meta.Clips[3].First)
	require.Equal(t, 18, meta.Clips[3].Last)
	require.Equal(t, "IPPP", meta.Clips[0].PictTypes)
	require.Equal(t, []int64{0, 40, 80, 120}, meta.Clips[0].PTS)

	// The file holds exactly what the library computes: training and serving share the code.
	ex := mvextract.NewExtractor(mvextract.ExtractorConfig{})
	cl, err := mvextract.NewClipper(mvextract.ClipConfig{Length: 4, Stride: 5, Width: 32, Height: 16})
	require.NoError(t, err)
	var want []float32
	f, err := demux.OpenFile(in, demux.DecoderConfig{MotionVectors: true, Pixels: true, Threads: 1})
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, f.Run(context.Background(), func(fr *media.Frame) error {
		ft, err := ex.Process(fr)
		if err != nil {
			return err
		}
		c, err := cl.Push(ft)
		if c != nil {
			want = append(want, c.Data...)
		}
		return err
	}))
	require.Equal(t, want, data)
	var moving int
	for _, v := range data[:4*16*32] { // channel dx of clip 0
		if v != 0 {
			moving++
		}
	}
	require.Positive(t, moving, "testsrc2 has moving parts")
}

// TestFeaturesThreadsInvariant checks that a clip with B-frames gives the same features with one and two
// decoder threads, with accumulation and the fourth channel on.
func TestFeaturesThreadsInvariant(t *testing.T) {
	in := featuresClipFile(t, 30, 2)
	dir := t.TempDir()
	var outs [][]byte
	for _, threads := range []string{"1", "2"} {
		out := filepath.Join(dir, "t"+threads+".npy")
		require.Equal(t, 0, runFeatures([]string{"--threads", threads, "--accumulate", "--abs-residual", "--chroma",
			"--size", "24x24", "--interp", "h264", in, "--out", out}))
		b, err := os.ReadFile(out)
		require.NoError(t, err)
		outs = append(outs, b)
	}
	require.Equal(t, outs[0], outs[1])
	shape, _ := readNPYFloat32(t, filepath.Join(dir, "t1.npy"))
	require.Equal(t, []int{3, 6, 8, 24, 24}, shape)
	b, err := os.ReadFile(filepath.Join(dir, "t1.json"))
	require.NoError(t, err)
	require.Contains(t, string(b), `"abs_residual",`)
	require.Contains(t, string(b), `"cr_residual"`)
	require.Contains(t, string(b), `"accumulate": true`)
	require.Contains(t, string(b), `"interpolation": "h264"`)
	require.Contains(t, string(b), `"reference": "anchor"`)
	require.Regexp(t, `"pict_types": "I[PB]+"`, string(b))
}

func TestFeaturesBadInvocations(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "x.npy")
	require.Equal(t, 2, runFeatures(nil))
	require.Equal(t, 2, runFeatures([]string{"in.mp4"}))
	require.Equal(t, 2, runFeatures([]string{"in.mp4", "--out", out, "--size", "64"}))
	require.Equal(t, 2, runFeatures([]string{"a.mp4", "b.mp4", "--out", out}))
	require.Equal(t, 2, runFeatures([]string{"a.mp4", "--out", out, "--interp", "bicubic"}))
	require.Equal(t, 2, runFeatures([]string{"a.mp4", "--out", out, "--reference", "next"}))
	require.Equal(t, 1, runFeatures([]string{filepath.Join(dir, "missing.mp4"), "--out", out}))
	require.Equal(t, 1, runFeatures([]string{"--clip-len", "-3", filepath.Join(dir, "missing.mp4"), "--out", out}))
	junk := filepath.Join(dir, "junk.mp4")
	require.NoError(t, os.WriteFile(junk, bytes.Repeat([]byte{0x42, 0x17}, 5000), 0o644))
	require.Equal(t, 1, runFeatures([]string{junk, "--out", out}))
}

// TestFeaturesRTSPMatchesFile serves the peer's raw H.264 stream (B-frames, three references) from the
// built-in test camera and checks that the features read over RTSP equal those of the file, byte for
// byte: the serving path and the training path give the model the same input.
func TestFeaturesRTSPMatchesFile(t *testing.T) {
	stream := filepath.Join(peer.Dir(t), "vid_h264.264")
	src, err := ingest.OpenAnnexB(stream, ingest.AnnexBOptions{})
	require.NoError(t, err)
	cam := testcam.New(testcam.Config{Address: "127.0.0.1:0", Source: src, Fast: true})
	require.NoError(t, cam.Start())
	defer cam.Close()
	dir := t.TempDir()
	args := []string{"--clip-len", "4", "--size", "32x32", "--stride", "16"}
	require.Equal(t, 0, runFeatures(append([]string{cam.URL(), "--out", filepath.Join(dir, "rtsp.npy"), "--idle", "1s"}, args...)))
	require.Equal(t, 0, runFeatures(append([]string{stream, "--out", filepath.Join(dir, "file.npy")}, args...)))
	fromRTSP, err := os.ReadFile(filepath.Join(dir, "rtsp.npy"))
	require.NoError(t, err)
	fromFile, err := os.ReadFile(filepath.Join(dir, "file.npy"))
	require.NoError(t, err)
	shape, _ := readNPYFloat32(t, filepath.Join(dir, "file.npy"))
	require.Equal(t, []int{21, 3, 4, 32, 32}, shape) // 337 frames: clips at 0, 16, ..., 320
	require.True(t, bytes.Equal(fromFile, fromRTSP), "features over RTSP differ from the file's")
}
