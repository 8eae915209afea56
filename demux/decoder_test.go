package demux

import (
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/ingest"
	"github.com/mvwatch/mvwatch/internal/media"
	"github.com/mvwatch/mvwatch/internal/peer"
)

// TestDecoderAccessUnits: decoding the peer's raw H.264 as access units (the path RTSP input takes)
// gives the same frames and vectors as FFmpeg's own demuxer on the file.
func TestDecoderAccessUnits(t *testing.T) {
	path := filepath.Join(peer.Dir(t), "vid_h264.264")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	aus, err := ingest.ParseAnnexB(data, 25)
	require.NoError(t, err)
	require.Len(t, aus, 337)
	wantTypes, _, wantHashes := decodeAll(t, path, DecoderConfig{MotionVectors: true, Threads: 1})

	d, err := NewDecoder(media.CodecH264, DecoderConfig{MotionVectors: true, Threads: 2})
	require.NoError(t, err)
	defer d.Close()
	var types []byte
	var hashes [][32]byte
	collect := func(f *media.Frame) error {
		require.Equal(t, len(types), f.Index)
		types = append(types, f.PictType)
		hashes = append(hashes, sha256.Sum256(withoutPadding(f.MotionVectors)))
		return nil
	}
	for _, au := range aus {
		require.NoError(t, d.Decode(au, collect))
	}
	require.NoError(t, d.Flush(collect))
	require.Equal(t, wantTypes, types)
	requireSameFrames(t, wantHashes, hashes, "access units vs file")
	require.Equal(t, int64(337), d.Stats().Frames)
}

// TestDecoderWaitsForRandomAccess: a stream joined mid-GOP is dropped until its next IDR, then decodes.
func TestDecoderWaitsForRandomAccess(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(peer.Dir(t), "vid_h264.264"))
	require.NoError(t, err)
	aus, err := ingest.ParseAnnexB(data, 25)
	require.NoError(t, err)
	d, err := NewDecoder(media.CodecH264, DecoderConfig{MotionVectors: true, Threads: 1})
	require.NoError(t, err)
	defer d.Close()
	n, skipped := 0, 0
	for _, au := range aus[5:] {
		err := d.Decode(au, func(*media.Frame) error { n++; return nil })
		if errors.Is(err, ErrNoRandomAccess) {
			skipped++
			continue
		}
		require.NoError(t, err)
	}
	require.NoError(t, d.Flush(func(*media.Frame) error { n++; return nil }))
	require.Positive(t, skipped)
	require.Equal(t, int64(skipped), d.Stats().Skipped)
	require.Equal(t, len(aus)-5-skipped, n)
}

func TestNewDecoderRejectsUnknownCodec(t *testing.T) {
	_, err := NewDecoder("vp8", DecoderConfig{})
	require.ErrorContains(t, err, `unsupported codec "vp8"`)
}
