package testcam

import (
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/ingest"
)

// TestMarshalH264SPS re-encodes the clip's SPS: it parses back to the same fields, edits included.
func TestMarshalH264SPS(t *testing.T) {
	aus, err := ingest.ParseAnnexB(DefaultClip(), 0)
	require.NoError(t, err)
	var orig h264.SPS
	require.NoError(t, orig.Unmarshal(aus[0].NALUs[0]))
	for _, edit := range []func(*h264.SPS){
		func(*h264.SPS) {},
		func(s *h264.SPS) { s.PicWidthInMbsMinus1, s.PicHeightInMapUnitsMinus1 = 999, 999 },
		func(s *h264.SPS) { s.MaxNumRefFrames = 1000 },
		func(s *h264.SPS) { s.FrameCropping = nil },
	} {
		want := orig
		edit(&want)
		b, err := MarshalH264SPS(&want)
		require.NoError(t, err)
		var got h264.SPS
		require.NoError(t, got.Unmarshal(b))
		require.Equal(t, want.Width(), got.Width())
		require.Equal(t, want.Height(), got.Height())
		require.Equal(t, want.MaxNumRefFrames, got.MaxNumRefFrames)
		require.Equal(t, want.Log2MaxFrameNumMinus4, got.Log2MaxFrameNumMinus4)
		require.Equal(t, want.PicOrderCntType, got.PicOrderCntType)
		require.InDelta(t, want.FPS(), got.FPS(), 1e-9)
	}
}
