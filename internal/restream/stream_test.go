package restream

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestTickConversionLongStreams(t *testing.T) {
	week := 7 * 24 * time.Hour
	require.Equal(t, int64(week/time.Second)*90000, durationToTicks(week, 90000))
	require.Equal(t, int64(6000), durationToTicks(time.Second/15, 90000), "rounded, not truncated")
}
