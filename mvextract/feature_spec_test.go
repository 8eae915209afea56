package mvextract

import (
	"flag"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseFeatureSpec(t *testing.T) {
	// The defaults are those of the flags.
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	def, err := RegisterFeatureFlags(fs).Spec()
	require.NoError(t, err)
	got, err := ParseFeatureSpec("mvwatch features INPUT --out FILE.npy --threads 2")
	require.NoError(t, err)
	require.Equal(t, def, got)
	require.Equal(t, ClipConfig{Length: 8, Stride: 8, Step: 1, Width: 64, Height: 64, MVNorm: 0.5, ResidualNorm: 128}, got.Clip)
	require.Equal(t, Bilinear, got.Extractor.Interpolation)
	require.Equal(t, PreviousAnchor, got.Extractor.Reference)

	got, err = ParseFeatureSpec("mvwatch features IN --out F.npy --clip-len 4 --size 32x16 --stride=5 --accumulate --abs-residual --chroma --interp h264 --reference previous --mv-norm 2")
	require.NoError(t, err)
	require.Equal(t, ClipConfig{Length: 4, Stride: 5, Step: 1, Width: 32, Height: 16, Accumulate: true, AbsResidual: true, Chroma: true,
		MVNorm: 2, ResidualNorm: 128}, got.Clip)
	require.Equal(t, ExtractorConfig{Interpolation: H264, Reference: PreviousFrame, Chroma: true}, got.Extractor)

	for _, bad := range []string{"--size 64", "--clip-len x", "--interp bicubic", "--reference next"} {
		_, err := ParseFeatureSpec("mvwatch features IN " + bad)
		require.Error(t, err, bad)
	}
}
