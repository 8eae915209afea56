package ingest

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/mvwatch/mvwatch/internal/media"
	"github.com/pion/rtp"
	"github.com/stretchr/testify/require"
)

// rtpFuzzInput packs RTP packets for FuzzRTPAssembly: a codec byte (even: H.264, odd: H.265), then
// packets, each behind a 2-byte big-endian length. A zero length marks a loss.
func rtpFuzzInput(h265 bool, pkts [][]byte) []byte {
	out := []byte{0}
	if h265 {
		out[0] = 1
	}
	for _, p := range pkts {
		out = binary.BigEndian.AppendUint16(out, uint16(len(p)))
		out = append(out, p...)
	}
	return out
}

// FuzzRTPAssembly drives the packet path: bytes -> rtp.Packet -> depacketiser -> access units.
func FuzzRTPAssembly(f *testing.F) {
	f.Add([]byte{0})
	f.Add([]byte{1, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		var forma format.Format = &format.H264{PayloadTyp: 96, PacketizationMode: 1}
		codec := media.CodecH264
		if data[0]%2 == 1 {
			forma, codec = &format.H265{PayloadTyp: 96}, media.CodecH265
		}
		asm, err := newAssembler(forma, 0)
		require.NoError(t, err)
		rest := data[1:]
		for len(rest) >= 2 {
			n := int(binary.BigEndian.Uint16(rest))
			rest = rest[2:]
			if n == 0 {
				asm.lost()
				continue
			}
			if n > len(rest) {
				n = len(rest)
			}
			var pkt rtp.Packet
			raw := rest[:n]
			rest = rest[n:]
			if pkt.Unmarshal(raw) != nil {
				continue
			}
			au, ok, err := asm.push(&pkt)
			if err != nil {
				require.False(t, ok)
				continue
			}
			if !ok {
				continue
			}
			require.Equal(t, codec, au.Codec)
			require.NotEmpty(t, au.NALUs)
			for _, n := range au.NALUs {
				require.NotEmpty(t, n)
			}
		}
	})
}

// FuzzAnnexB drives the Annex-B splitter, the access-unit grouping and the slice header and POC parser.
func FuzzAnnexB(f *testing.F) {
	for _, seed := range [][]byte{
		nil,
		[]byte("hello world"),
		{0, 0, 0, 1, 0x67, 0x42},
		{0, 0, 1, 0x65, 0xB8, 0x84},
		{0, 0, 1, 0xE5, 0x88},
		{0, 0, 0, 1, 9, 0xF0, 0, 0, 0, 0, 1, 0x67, 1, 0, 0, 1, 0x68, 2},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		nalus, splitErr := SplitAnnexB(data)
		aus, err := ParseAnnexB(data, 25)
		if err != nil {
			return
		}
		require.NoError(t, splitErr)
		total := 0
		for _, au := range aus {
			require.NotEmpty(t, au.NALUs)
			require.GreaterOrEqual(t, int64(au.PTS), int64(0))
			total += len(au.NALUs)
		}
		require.LessOrEqual(t, total, len(nalus))
	})
}

// TestWriteFuzzCorpus regenerates the committed seed corpora from tiny clips made with the ffmpeg CLI.
// Run with MVWATCH_WRITE_CORPUS=1.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("MVWATCH_WRITE_CORPUS") == "" {
		t.Skip("set MVWATCH_WRITE_CORPUS=1 to regenerate testdata/fuzz")
	}
	clip := func(args ...string) []byte {
		path := filepath.Join(t.TempDir(), "c.bin")
		base := []string{"-v", "error", "-f", "lavfi", "-i", "testsrc2=s=64x48:r=10:d=0.5"}
		out, err := exec.Command("ffmpeg", append(append(base, args...), path)...).CombinedOutput()
		require.NoError(t, err, string(out))
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		return data
	}
	h264B := clip("-c:v", "libx264", "-x264-params", "keyint=3:bframes=2", "-f", "h264")
	h264Base := clip("-c:v", "libx264", "-profile:v", "baseline", "-x264-params", "keyint=4", "-f", "h264")
	h265 := clip("-c:v", "libx265", "-x265-params", "keyint=3:bframes=0:log-level=error", "-f", "hevc")

	write := func(target, name string, data []byte) {
		dir := filepath.Join("testdata", "fuzz", target)
		require.NoError(t, os.MkdirAll(dir, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", data), 0o644))
	}
	write("FuzzAnnexB", "poc0-bframes", h264B)
	write("FuzzAnnexB", "poc2-baseline", h264Base)
	write("FuzzAnnexB", "truncated", h264B[:len(h264B)/3])

	packetise := func(forma format.Format, nalus [][]byte, maxSize int) [][]byte {
		var enc interface {
			Encode(au [][]byte) ([]*rtp.Packet, error)
		}
		switch f := forma.(type) {
		case *format.H264:
			e, err := f.CreateEncoder()
			require.NoError(t, err)
			e.PayloadMaxSize = maxSize
			enc = e
		case *format.H265:
			e, err := f.CreateEncoder()
			require.NoError(t, err)
			e.PayloadMaxSize = maxSize
			enc = e
		}
		var out [][]byte
		for i, n := range nalus {
			pkts, err := enc.Encode([][]byte{n})
			require.NoError(t, err)
			for _, p := range pkts {
				p.Timestamp = uint32(i) * 9000
				b, err := p.Marshal()
				require.NoError(t, err)
				out = append(out, b)
			}
		}
		return out
	}
	aus, err := ParseAnnexB(h264B, 10)
	require.NoError(t, err)
	var stream [][]byte
	for _, au := range aus[:4] {
		stream = append(stream, packetise(&format.H264{PayloadTyp: 96, PacketizationMode: 1}, au.NALUs, 300)...)
	}
	write("FuzzRTPAssembly", "h264-fua", rtpFuzzInput(false, stream))
	withLoss := append(append(append([][]byte{}, stream[:3]...), []byte{}), stream[4:]...)
	write("FuzzRTPAssembly", "h264-loss", rtpFuzzInput(false, withLoss))
	nalus, err := SplitAnnexB(h265)
	require.NoError(t, err)
	write("FuzzRTPAssembly", "h265", rtpFuzzInput(true, packetise(&format.H265{PayloadTyp: 96}, nalus[:min(len(nalus), 8)], 300)))
}
