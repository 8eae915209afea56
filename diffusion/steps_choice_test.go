package diffusion

import (
	"testing"

	"github.com/mvwatch/mvwatch/inference"
	"github.com/stretchr/testify/require"
)

func TestChooseSteps(t *testing.T) {
	require.NoError(t, inference.Init(inference.RuntimeConfig{}))
	pred, err := LoadStepPredictor("testdata/steppred", 1)
	require.NoError(t, err)
	defer func() { require.NoError(t, pred.Close()) }()

	n, err := ChooseSteps(nil, "x", "ddim", "", 50)
	require.NoError(t, err)
	require.Equal(t, 50, n)
	n, err = ChooseSteps(nil, "x", "ddim", " 12 ", 50)
	require.NoError(t, err)
	require.Equal(t, 12, n)
	n, err = ChooseSteps(pred, "car enters the driveway", "ddim", "AUTO", 50)
	require.NoError(t, err)
	require.Equal(t, 20, n) // steppred_reference.json
	for _, bad := range []string{"0", "-3", "1001", "many", "auto"} {
		_, err := ChooseSteps(nil, "x", "ddim", bad, 50)
		require.ErrorIs(t, err, ErrBadConfig, bad)
	}
	_, err = ChooseSteps(nil, "x", "ddim", "", 0)
	require.ErrorIs(t, err, ErrBadConfig)
	_, err = ChooseSteps(pred, "", "ddim", "auto", 50)
	require.ErrorIs(t, err, ErrEmptyPrompt)
	_, err = ChooseSteps(pred, "x", "plms", "auto", 50)
	require.ErrorIs(t, err, ErrUnknownScheduler)
}
