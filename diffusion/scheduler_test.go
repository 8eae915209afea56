package diffusion

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// schedulerFixture is diffusion/testdata/schedulers.json, written by
// training/fixtures/schedulers.py from diffusers.
type schedulerFixture struct {
	Diffusers string `json:"diffusers"`
	Tables    map[string]struct {
		Config        json.RawMessage `json:"config"`
		AlphasCumprod []float64       `json:"alphas_cumprod"`
	} `json:"tables"`
	Cases []struct {
		Name      string          `json:"name"`
		Scheduler string          `json:"scheduler"`
		Config    json.RawMessage `json:"config"`
		Eta       float64         `json:"eta"`
		Steps     []struct {
			N              int         `json:"n"`
			Timesteps      []float64   `json:"timesteps"`
			Sigmas         []float64   `json:"sigmas"`
			InitNoiseSigma float64     `json:"init_noise_sigma"`
			XInit          []float64   `json:"x_init"`
			Outputs        [][]float64 `json:"outputs"`
		} `json:"steps"`
	} `json:"cases"`
}

func loadSchedulerFixture(t testing.TB) schedulerFixture {
	t.Helper()
	b, err := os.ReadFile("testdata/schedulers.json")
	require.NoError(t, err)
	var f schedulerFixture
	require.NoError(t, json.Unmarshal(b, &f))
	require.NotEmpty(t, f.Cases)
	return f
}

// tol is the agreement required with diffusers: 1e-5, relative for values above 1 in magnitude (timesteps and
// sigmas run up to 1000 and ~15, where float32 tables alone differ by more than 1e-5 absolute).
const tol = 1e-5

func closeTo(got, want float64) bool {
	if math.IsNaN(want) || math.IsInf(want, 0) {
		return got == want || (math.IsNaN(got) && math.IsNaN(want))
	}
	return math.Abs(got-want) <= tol*math.Max(1, math.Abs(want))
}

// worstErr records the largest scaled difference seen by requireClose (reported by the fixture test).
var worstErr float64

func requireClose(t *testing.T, got, want []float64, what string) {
	t.Helper()
	require.Len(t, got, len(want), what)
	for i := range want {
		if d := math.Abs(got[i]-want[i]) / math.Max(1, math.Abs(want[i])); d > worstErr {
			worstErr = d
		}
		if !closeTo(got[i], want[i]) {
			require.Failf(t, "mismatch", "%s[%d]: got %.10g want %.10g (diff %.3g)", what, i, got[i], want[i],
				got[i]-want[i])
		}
	}
}

// fixture model and noise: the same functions as the generator.
func fixturePattern(i, size int) []float64 {
	p := make([]float64, size)
	for j := range p {
		p[j] = math.Sin(1.3*float64(j) + 0.7*float64(i) + 0.1)
	}
	return p
}

type fixtureNoise struct{ i int }

func (n *fixtureNoise) Fill(dst []float64) {
	for j := range dst {
		dst[j] = 1.2 * math.Sin(2.1*float64(j)+1.7*float64(n.i)+0.3)
	}
}

func fixtureModel(scaled []float64, i int) []float64 {
	p := fixturePattern(i, len(scaled))
	out := make([]float64, len(scaled))
	for j := range out {
		out[j] = 0.6*scaled[j] + 0.4*p[j]
	}
	return out
}

func TestNoiseScheduleMatchesDiffusers(t *testing.T) {
	f := loadSchedulerFixture(t)
	for name, tab := range f.Tables {
		c, err := resolveConfig(kindDDIM, tab.Config)
		require.NoError(t, err)
		ns, err := newNoiseSchedule(c)
		require.NoError(t, err)
		requireClose(t, ns.alphasCumprod, tab.AlphasCumprod, name)
	}
}

func TestSchedulersMatchDiffusers(t *testing.T) {
	f := loadSchedulerFixture(t)
	seen := map[string]bool{}
	for _, tc := range f.Cases {
		t.Run(tc.Name, func(t *testing.T) {
			seen[tc.Scheduler] = true
			s, err := NewScheduler(tc.Scheduler, tc.Config)
			require.NoError(t, err)
			if tc.Eta > 0 {
				require.NoError(t, s.(*DDIM).SetEta(tc.Eta))
			}
			for _, st := range tc.Steps {
				require.NoError(t, s.SetTimesteps(st.N))
				requireClose(t, s.Timesteps(), st.Timesteps, fmt.Sprintf("n=%d timesteps", st.N))
				if st.Sigmas != nil {
					requireClose(t, s.Sigmas(), st.Sigmas, fmt.Sprintf("n=%d sigmas", st.N))
				}
				require.True(t, closeTo(s.InitNoiseSigma(), st.InitNoiseSigma), "n=%d init_noise_sigma %v want %v",
					st.N, s.InitNoiseSigma(), st.InitNoiseSigma)
				evals, err := Evaluations(s, st.N)
				require.NoError(t, err)
				require.Equal(t, len(st.Timesteps), evals)
				if st.Outputs == nil {
					continue
				}
				// Single steps: every step starts from diffusers' own previous sample.
				x := st.XInit
				for i, want := range st.Outputs {
					scaled, err := s.ScaleModelInput(i, x)
					require.NoError(t, err)
					out, err := s.Step(i, fixtureModel(scaled, i), x, &fixtureNoise{i: i})
					require.NoError(t, err)
					requireClose(t, out, want, fmt.Sprintf("n=%d step %d", st.N, i))
					x = want
				}
				// A whole run on Go's own samples ends at the same place.
				require.NoError(t, s.SetTimesteps(st.N))
				x = st.XInit
				for i := range st.Outputs {
					scaled, err := s.ScaleModelInput(i, x)
					require.NoError(t, err)
					x, err = s.Step(i, fixtureModel(scaled, i), x, &fixtureNoise{i: i})
					require.NoError(t, err)
				}
				requireClose(t, x, st.Outputs[len(st.Outputs)-1], fmt.Sprintf("n=%d chained final", st.N))
			}
		})
	}
	t.Logf("largest difference from diffusers: %.3g (scaled by max(1,|value|))", worstErr)
	for _, name := range []string{"ddim", "euler", "euler_a", "heun", "dpm2", "dpm2_karras", "unipc", "dpmpp_2m", "pndm"} {
		require.True(t, seen[name], "no fixture for %s", name)
	}
}
