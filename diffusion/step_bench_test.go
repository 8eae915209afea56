package diffusion

import (
	"context"
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestStepBench(t *testing.T) {
	p := openTinySD(t, "testdata/tiny-sd")
	pred, err := LoadStepPredictor("testdata/steppred", 1)
	require.NoError(t, err)
	defer func() { require.NoError(t, pred.Close()) }()
	// The tiny predictor says 50 DDIM steps for the first prompt and 20 for the second.
	prompts := []string{"a person walking left to right at night", "car enters the driveway"}
	r, err := StepBench{Pipeline: p, Predictor: pred, Scheduler: "ddim", Seed: 1}.Run(context.Background(), prompts)
	require.NoError(t, err)
	require.Equal(t, 50, r.DefaultSteps)
	require.Equal(t, 100, r.FixedEvaluations)
	require.Equal(t, 70, r.AutoEvaluations)
	require.InDelta(t, 35, r.AutoStepsMean, 1e-9)
	require.InDelta(t, 0.3, r.SavedFraction, 1e-9)
	require.Equal(t, 35, r.EqualCostSteps)
	require.Equal(t, 70, r.EqualCostEvaluations)
	require.InDelta(t, 0.9, r.Tolerance, 1e-9)
	// Prompt 1 ran at the default: its auto image is the fixed one, so auto similarity is at least 1/2.
	require.GreaterOrEqual(t, r.AutoSimilarity, 0.5)
	require.LessOrEqual(t, r.AutoSimilarity, 1+1e-9)
	require.Greater(t, r.EqualCostSimilarity, 0.0)
	b, err := json.Marshal(r)
	require.NoError(t, err)
	require.Contains(t, string(b), `"saved_fraction":0.3`)

	// Two seeds per prompt: twice the images, the same choices, and a paired standard error.
	r2, err := StepBench{Pipeline: p, Predictor: pred, Scheduler: "ddim", Seed: 1, Seeds: 2}.Run(context.Background(), prompts)
	require.NoError(t, err)
	require.Equal(t, 2, r2.Seeds)
	require.Equal(t, 200, r2.FixedEvaluations)
	require.Equal(t, 140, r2.AutoEvaluations)
	require.Equal(t, 35, r2.EqualCostSteps)
	require.Greater(t, r2.AutoMinusEqualCostSE, 0.0)
	require.NotEqual(t, r.AutoSimilarity, r2.AutoSimilarity) // the second seed of each prompt adds new images

	// Auto's cost is exactly 35 steps: both brackets are 35 and the interpolation is the equal-cost figure.
	require.Equal(t, [2]int{35, 35}, r.BracketSteps)
	require.InDelta(t, r.EqualCostSimilarity, r.InterpSimilarity, 1e-12)

	// Heun costs 2n-1 evaluations: the equal-cost count is found on evaluations, not steps.
	n, err := equalCostSteps(p, "heun", 50, 39)
	require.NoError(t, err)
	require.Equal(t, 20, n)
	br, costs, err := bracketSteps(p, "heun", 50, 38)
	require.NoError(t, err)
	require.Equal(t, [2]int{19, 20}, br)
	require.Equal(t, [2]float64{37, 39}, costs)
	require.InDelta(t, 1/math.Sqrt(3), meanSE([]float64{1, 2, 3}), 1e-12) // sd 1 over 3 values

	_, err = StepBench{Pipeline: p, Predictor: pred}.Run(context.Background(), nil)
	require.ErrorIs(t, err, ErrBadInput)
	_, err = StepBench{Pipeline: p, Predictor: pred, Scheduler: "heun"}.Run(context.Background(), prompts)
	require.ErrorIs(t, err, ErrUnknownScheduler) // the predictor has no Heun head
}
