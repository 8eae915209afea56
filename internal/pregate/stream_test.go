package pregate

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/stretchr/testify/require"
)

// This file holds the test helpers that make real streams with the ffmpeg CLI, split them into
// access units the way an RTSP depacketiser hands them over, and read ffprobe's picture types.

// requireFFmpeg skips the test when the ffmpeg CLI (or ffprobe) is not installed.
func requireFFmpeg(t testing.TB) {
	t.Helper()
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
}

// encode runs ffmpeg with a lavfi source graph and encoder arguments and returns the path of the
// raw Annex-B output (format h264 or hevc after the codec).
func encode(t testing.TB, codec Codec, graph string, encArgs ...string) string {
	t.Helper()
	requireFFmpeg(t)
	format, ext := "h264", ".264"
	if codec == CodecH265 {
		format, ext = "hevc", ".265"
	}
	out := filepath.Join(t.TempDir(), "stream"+ext)
	args := []string{"-v", "error", "-y", "-f", "lavfi", "-i", graph}
	args = append(args, encArgs...)
	args = append(args, "-f", format, out)
	cmd := exec.Command("nice", append([]string{"ffmpeg"}, args...)...)
	msg, err := cmd.CombinedOutput()
	require.NoError(t, err, "ffmpeg %s: %s", strings.Join(args, " "), msg)
	return out
}

// splitAccessUnits splits an Annex-B stream into access units of NAL units without start codes.
// A new access unit starts at the first slice of a picture (H.264 first_mb_in_slice == 0, H.265
// first_slice_segment_in_pic_flag) or at an AUD, SEI or parameter set that follows a slice.
func splitAccessUnits(t testing.TB, codec Codec, data []byte) [][][]byte {
	t.Helper()
	var nalus h264.AnnexB
	require.NoError(t, nalus.Unmarshal(data))
	var aus [][][]byte
	var cur [][]byte
	haveVCL := false
	for _, n := range nalus {
		if len(n) < 3 {
			continue
		}
		var vcl, firstSlice, opensAU bool
		if codec == CodecH264 {
			typ := n[0] & 0x1f
			vcl = typ == 1 || typ == 5
			firstSlice = vcl && n[1]&0x80 != 0
			opensAU = typ == 6 || typ == 7 || typ == 8 || typ == 9
		} else {
			typ := (n[0] >> 1) & 0x3f
			vcl = typ < 32
			firstSlice = vcl && n[2]&0x80 != 0
			opensAU = typ >= 32 && typ <= 39
		}
		if haveVCL && (firstSlice || opensAU) {
			aus = append(aus, cur)
			cur, haveVCL = nil, false
		}
		cur = append(cur, n)
		haveVCL = haveVCL || vcl
	}
	if len(cur) > 0 {
		aus = append(aus, cur)
	}
	return aus
}

// readAccessUnits reads and splits a stream file.
func readAccessUnits(t testing.TB, codec Codec, path string) [][][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return splitAccessUnits(t, codec, data)
}

// probedFrame is what ffprobe says about one decoded frame.
type probedFrame struct {
	pos int
	key bool
	typ string
}

// probeFrames returns ffprobe's key_frame and pict_type of every frame in decoding order (frames
// sorted by their packet's byte position).
func probeFrames(t testing.TB, path string) []probedFrame {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v", "-show_frames",
		"-show_entries", "frame=key_frame,pkt_pos,pict_type", "-of", "csv=p=0", path).Output()
	require.NoError(t, err)
	var frames []probedFrame
	for _, line := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
		fields := strings.Split(strings.TrimSpace(string(line)), ",")
		if len(fields) < 3 {
			continue
		}
		pos, err := strconv.Atoi(fields[1])
		require.NoError(t, err, "ffprobe line %q", line)
		frames = append(frames, probedFrame{pos: pos, key: fields[0] == "1", typ: fields[2]})
	}
	sort.Slice(frames, func(i, j int) bool { return frames[i].pos < frames[j].pos })
	return frames
}
