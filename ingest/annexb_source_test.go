package ingest

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/mvwatch/mvwatch/internal/media"
	"github.com/mvwatch/mvwatch/internal/testcam"
	"github.com/stretchr/testify/require"
)

const peerH264 = "../../shared/peer/mv-extractor/vid_h264.264"

// peerFile returns the peer clip or skips when the shared folder is absent.
func peerFile(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(peerH264); err != nil {
		t.Skipf("peer clip not available: %v", err)
	}
	return peerH264
}

// ffprobeDecodeOrder returns, for each output frame in display order, its index in decoding order,
// as FFmpeg's decoder reports it.
func ffprobeDecodeOrder(t *testing.T, path string) []int {
	t.Helper()
	if _, err := exec.LookPath("ffprobe"); err != nil {
		t.Skip("ffprobe not installed")
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-threads", "1", "-show_entries", "frame=coded_picture_number",
		"-of", "csv=p=0", path).Output()
	require.NoError(t, err)
	var order []int
	for _, line := range strings.Fields(string(out)) {
		n, err := strconv.Atoi(strings.Trim(line, ","))
		require.NoError(t, err)
		order = append(order, n)
	}
	return order
}

// displayOrder sorts access unit indices by PTS.
func displayOrder(aus []media.AccessUnit) []int {
	idx := make([]int, len(aus))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return int(aus[a].PTS - aus[b].PTS) })
	return idx
}

func TestAnnexBPeerClipMatchesFFmpeg(t *testing.T) {
	path := peerFile(t)
	src, err := OpenAnnexB(path, AnnexBOptions{})
	require.NoError(t, err)
	require.Equal(t, 337, src.Len())
	require.Equal(t, 40*time.Millisecond, src.FrameDuration()) // 25 fps from the SPS VUI

	var aus []media.AccessUnit
	for {
		au, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		aus = append(aus, au)
	}
	require.Len(t, aus, 337)
	require.True(t, aus[0].RandomAccess)

	// Every NAL unit of the file, in the same order, exactly once.
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var ref h264.AnnexB
	require.NoError(t, ref.Unmarshal(data))
	var got [][]byte
	for _, au := range aus {
		got = append(got, au.NALUs...)
	}
	require.Equal(t, [][]byte(ref), got)

	// PTS are distinct multiples of the frame duration, 0..336, and their order is FFmpeg's output order.
	order := displayOrder(aus)
	for rank, i := range order {
		require.Equal(t, time.Duration(rank)*40*time.Millisecond, aus[i].PTS)
	}
	require.Equal(t, ffprobeDecodeOrder(t, path), order)
}

func TestAnnexBDefaultClip(t *testing.T) {
	src := defaultSource(t, false)
	require.Equal(t, 150, src.Len())
	require.Equal(t, time.Second/15, src.FrameDuration())
	aus, err := ParseAnnexB(testcam.DefaultClip(), 0)
	require.NoError(t, err)
	ra := 0
	for _, au := range aus {
		if au.RandomAccess {
			ra++
		}
	}
	require.Equal(t, 5, ra) // one IDR every 2 s

	dir := t.TempDir()
	path := dir + "/clip.264"
	require.NoError(t, os.WriteFile(path, testcam.DefaultClip(), 0o600))
	require.Equal(t, ffprobeDecodeOrder(t, path), displayOrder(aus))
}

func TestAnnexBLoopKeepsTimeIncreasing(t *testing.T) {
	src := defaultSource(t, true)
	maxPTS := time.Duration(-1)
	for i := 0; i < 3*src.Len(); i++ {
		au, err := src.Next()
		require.NoError(t, err)
		if i%src.Len() == 0 {
			require.True(t, au.RandomAccess)
			require.Greater(t, au.PTS, maxPTS, "a loop starts after the previous one")
		}
		maxPTS = max(maxPTS, au.PTS)
	}
	require.Equal(t, time.Duration(3*src.Len()-1)*src.FrameDuration(), maxPTS)
}

func TestAnnexBStartAtPhase(t *testing.T) {
	whole := defaultSource(t, true)
	first, err := whole.Next()
	require.NoError(t, err)
	// 45 is inside the second GOP (IDRs at 0, 30, 60, ...): the stream starts at the IDR at 30.
	src, err := NewAnnexBSource(testcam.DefaultClip(), AnnexBOptions{Loop: true, Start: 45})
	require.NoError(t, err)
	au, err := src.Next()
	require.NoError(t, err)
	require.True(t, au.RandomAccess)
	require.Equal(t, 30*src.FrameDuration(), au.PTS-first.PTS)
	last := au.PTS
	for i := 1; i < 2*src.Len(); i++ {
		au, err = src.Next()
		require.NoError(t, err)
		if au.RandomAccess {
			require.Greater(t, au.PTS, last, "an IDR never goes back in time across the loop")
			last = au.PTS
		}
	}
	// Out-of-range starts are clamped, not refused.
	src, err = NewAnnexBSource(testcam.DefaultClip(), AnnexBOptions{Start: 1 << 20})
	require.NoError(t, err)
	au, err = src.Next()
	require.NoError(t, err)
	require.True(t, au.RandomAccess)
}

// encodeClip makes a short H.264 stream with the ffmpeg CLI.
func encodeClip(t *testing.T, x264Params string, extra ...string) []byte {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed")
	}
	path := t.TempDir() + "/c.264"
	args := []string{"-v", "error", "-f", "lavfi", "-i", "testsrc2=s=160x96:r=10:d=3", "-c:v", "libx264",
		"-x264-params", x264Params}
	args = append(args, extra...)
	args = append(args, "-f", "h264", path)
	out, err := exec.Command("ffmpeg", args...).CombinedOutput()
	require.NoError(t, err, string(out))
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return data
}

func TestAnnexBPOCTypes(t *testing.T) {
	cases := []struct {
		name   string
		params string
		extra  []string
	}{
		{"poc0-bframes", "keyint=12:bframes=3:b-pyramid=normal", nil},
		{"poc2-baseline", "keyint=10:bframes=0", []string{"-profile:v", "baseline"}},
		{"poc0-slices", "keyint=10:bframes=2:slices=3", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := encodeClip(t, tc.params, tc.extra...)
			aus, err := ParseAnnexB(data, 10)
			require.NoError(t, err)
			require.Len(t, aus, 30)
			path := t.TempDir() + "/c.264"
			require.NoError(t, os.WriteFile(path, data, 0o600))
			require.Equal(t, ffprobeDecodeOrder(t, path), displayOrder(aus))
			for _, au := range aus {
				require.Equal(t, au.RandomAccess, h264.IsRandomAccess(au.NALUs))
			}
		})
	}
}

func TestAnnexBBadInput(t *testing.T) {
	cases := map[string][]byte{
		"empty":         nil,
		"no start code": []byte("hello world"),
		"garbage first": append([]byte{1, 2, 3}, 0, 0, 1, 0x65),
		"only sps":      {0, 0, 0, 1, 0x67, 0x42},
		"slice no pps":  {0, 0, 1, 0x65, 0xB8, 0x84},
		"forbidden bit": {0, 0, 1, 0xE5, 0x88},
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := NewAnnexBSource(data, AnnexBOptions{})
			require.Error(t, err)
		})
	}
	_, err := NewAnnexBSource([]byte{0, 0, 1, 0x65, 0xB8, 0x84}, AnnexBOptions{})
	require.ErrorIs(t, err, ErrMissingParams)
	_, err = OpenAnnexB("/nonexistent/x.264", AnnexBOptions{})
	require.ErrorContains(t, err, "x.264")
}

func TestSplitAnnexBTrailingZeros(t *testing.T) {
	nalus, err := SplitAnnexB([]byte{0, 0, 0, 1, 9, 0xF0, 0, 0, 0, 0, 1, 0x67, 1, 0, 0, 1, 0x68, 2})
	require.NoError(t, err)
	require.Equal(t, [][]byte{{9, 0xF0}, {0x67, 1}, {0x68, 2}}, nalus)
	require.True(t, bytes.Equal(nalus[2], []byte{0x68, 2}))
}
