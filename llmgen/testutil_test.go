package llmgen

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/mvwatch/mvwatch/inference"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

const (
	targetDir = "../models/caption/target"
	draftDir  = "../models/caption/draft"
)

func TestMain(m *testing.M) {
	if err := inference.Init(inference.RuntimeConfig{IntraOpThreads: 1}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	goleak.VerifyTestMain(m)
}

func loadPair(t testing.TB) (*Model, *Model) {
	t.Helper()
	target, err := LoadModel(targetDir, DecoderConfig{})
	require.NoError(t, err)
	t.Cleanup(func() { target.Close() })
	draft, err := LoadModel(draftDir, DecoderConfig{})
	require.NoError(t, err)
	t.Cleanup(func() { draft.Close() })
	return target, draft
}

// testEvents returns n seeded events shaped like the training corpus.
func testEvents(n int, seed uint64) []Event {
	rng := rand.New(rand.NewPCG(seed, 1))
	cams := []string{"dock-1", "gate-north", "lobby", "lot-b", "yard", "garage", "entrance", "office-1"}
	zones := []string{"loading bay", "parking lot", "front door", "driveway", "corridor", "main gate", "ramp"}
	labels := []string{"person", "car", "truck", "bicycle", "dog", "forklift", "van", "bus"}
	dirs := []string{"left-to-right", "right-to-left", "toward-camera", "away-from-camera", "stationary", "loitering"}
	out := make([]Event, n)
	for i := range out {
		out[i] = Event{
			Camera: cams[rng.IntN(len(cams))], Zone: zones[rng.IntN(len(zones))],
			Label: labels[rng.IntN(len(labels))], Direction: dirs[rng.IntN(len(dirs))],
			DurationS: 1 + rng.IntN(400), Time: fmt.Sprintf("%02d:%02d", rng.IntN(24), rng.IntN(60)),
			Confidence: float64(50+rng.IntN(50)) / 100,
		}
	}
	return out
}
