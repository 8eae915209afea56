package demux

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/ingest"
	"github.com/mvwatch/mvwatch/internal/media"
	"github.com/mvwatch/mvwatch/internal/peer"
)

// probe is what ffprobe says about a clip.
type probe struct {
	Streams []struct {
		CodecName string `json:"codec_name"`
		Width     int    `json:"width"`
		Height    int    `json:"height"`
	} `json:"streams"`
	Packets []struct {
		PTSTime string `json:"pts_time"`
		DTSTime string `json:"dts_time"`
		Flags   string `json:"flags"`
	} `json:"packets"`
	Format struct {
		Duration string            `json:"duration"`
		Tags     map[string]string `json:"tags"`
	} `json:"format"`
}

func ffprobe(t *testing.T, path string) probe {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-show_streams", "-show_packets", "-show_format", "-of", "json", path).Output()
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		t.Fatalf("ffprobe %s: %v\n%s", path, err, ee.Stderr)
	}
	require.NoError(t, err)
	var p probe
	require.NoError(t, json.Unmarshal(out, &p))
	return p
}

// TestWriteMP4H264: the peer's H.264 (B-frames, in-band SPS/PPS) remuxed from an IDR on is an MP4 that
// ffprobe reads as h264 of the SPS's size, every access unit a packet, timestamps from 0, and that
// FFmpeg decodes to as many frames as it was given.
func TestWriteMP4H264(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(peer.Dir(t), "vid_h264.264"))
	require.NoError(t, err)
	aus, err := ingest.ParseAnnexB(data, 25)
	require.NoError(t, err)
	// Start at the second IDR, as a clip from a camera's buffer does.
	first := -1
	for i, au := range aus {
		if au.RandomAccess && i > 0 {
			first = i
			break
		}
	}
	require.Positive(t, first)
	clip := aus[first:min(first+120, len(aus))]
	path := filepath.Join(t.TempDir(), "clip.mp4")
	info, err := WriteMP4(path, clip, map[string]string{"comment": "hello", "title": "event"})
	require.NoError(t, err)
	require.Equal(t, len(clip), info.Packets)
	require.Equal(t, 640, info.Width)
	require.Equal(t, 360, info.Height)
	require.Equal(t, clip[0].PTS, info.FirstPTS)

	p := ffprobe(t, path)
	require.Len(t, p.Streams, 1)
	require.Equal(t, "h264", p.Streams[0].CodecName)
	require.Equal(t, 640, p.Streams[0].Width)
	require.Equal(t, "hello", p.Format.Tags["comment"])
	require.Len(t, p.Packets, len(clip))
	require.Contains(t, p.Packets[0].Flags, "K")
	dur, err := strconv.ParseFloat(p.Format.Duration, 64)
	require.NoError(t, err)
	require.InDelta(t, float64(len(clip))/25, dur, 0.1)
	minPTS := 1e9
	for _, pk := range p.Packets {
		v, err := strconv.ParseFloat(pk.PTSTime, 64)
		require.NoError(t, err)
		minPTS = min(minPTS, v)
	}
	require.InDelta(t, 0, minPTS, 1e-3, "the clip's time 0 is its first picture")

	f, err := OpenFile(path, DecoderConfig{Threads: 1})
	require.NoError(t, err)
	defer f.Close()
	n := 0
	require.NoError(t, f.Run(t.Context(), func(*media.Frame) error { n++; return nil }))
	require.Equal(t, len(clip), n)
}

// TestWriteMP4H265: an H.265 stream (made with FFmpeg's libx265) remuxes as well.
func TestWriteMP4H265(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "in.265")
	out, err := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-frames:v", "50",
		"-c:v", "libx265", "-x265-params", "keyint=25:bframes=0:log-level=error", "-f", "hevc", src).CombinedOutput()
	require.NoError(t, err, "%s", out)
	s, err := ingest.OpenAnnexB(src, ingest.AnnexBOptions{Codec: media.CodecH265, FrameRate: 25})
	require.NoError(t, err)
	var aus []media.AccessUnit
	for {
		au, err := s.Next()
		if err != nil {
			break
		}
		aus = append(aus, au)
	}
	require.Len(t, aus, 50)
	path := filepath.Join(dir, "clip.mp4")
	info, err := WriteMP4(path, aus, nil)
	require.NoError(t, err)
	require.Equal(t, 320, info.Width)
	p := ffprobe(t, path)
	require.Equal(t, "hevc", p.Streams[0].CodecName)
	require.Len(t, p.Packets, 50)
}

// TestWriteMP4Refuses: no units, or a first unit that is no random-access unit, make no clip.
func TestWriteMP4Refuses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "clip.mp4")
	_, err := WriteMP4(path, nil, nil)
	require.ErrorIs(t, err, ErrNoClip)
	_, err = WriteMP4(path, []media.AccessUnit{{Codec: media.CodecH264, NALUs: [][]byte{{0x41, 0x9a}}}}, nil)
	require.ErrorIs(t, err, ErrNoClip)
	_, err = os.Stat(path)
	require.ErrorIs(t, err, os.ErrNotExist)
}
