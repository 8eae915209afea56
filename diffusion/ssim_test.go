package diffusion

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSSIMMatchesReference(t *testing.T) {
	b, err := os.ReadFile("testdata/ssim.json")
	require.NoError(t, err)
	var f struct {
		Cases []struct {
			Name                    string
			Height, Width, Channels int
			A, B                    []float32
			SSIM                    float64
		} `json:"cases"`
	}
	require.NoError(t, json.Unmarshal(b, &f))
	require.NotEmpty(t, f.Cases)
	for _, c := range f.Cases {
		got, err := SSIM(c.A, c.B, c.Height, c.Width, c.Channels)
		require.NoError(t, err)
		require.InDelta(t, c.SSIM, got, 1e-6, c.Name)
		back, err := SSIM(c.B, c.A, c.Height, c.Width, c.Channels)
		require.NoError(t, err)
		require.InDelta(t, got, back, 1e-12, "symmetric")
	}
}

func TestSSIMErrors(t *testing.T) {
	a := make([]float32, 12*12*3)
	_, err := SSIM(a, a[:10], 12, 12, 3)
	require.ErrorIs(t, err, ErrBadInput)
	_, err = SSIM(a, a, 12, 12, 2)
	require.ErrorIs(t, err, ErrBadInput)
	_, err = SSIM(a[:10*10*3], a[:10*10*3], 10, 10, 3) // too small for the 11-tap window
	require.ErrorIs(t, err, ErrBadInput)
	s, err := SSIM(a, a, 12, 12, 3)
	require.NoError(t, err)
	require.False(t, math.IsNaN(s))
	require.InDelta(t, 1, s, 1e-12)
}
