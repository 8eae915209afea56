package llmgen

import (
	"fmt"
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
func testEvents(n int, seed uint64) []Event { return SampleEvents(n, seed) }
