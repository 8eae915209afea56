package diffusion

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// badSchedulerConfigs are configs NewScheduler must refuse with ErrBadConfig; they seed FuzzNewScheduler.
var badSchedulerConfigs = []struct {
	name, scheduler, config string
}{
	{"not json", "ddim", `{"beta_start": `},
	{"not an object", "euler", `[1,2,3]`},
	{"wrong type", "euler", `{"num_train_timesteps": "many"}`},
	{"beta schedule", "ddim", `{"beta_schedule": "quadratic"}`},
	{"prediction type", "heun", `{"prediction_type": "noise"}`},
	{"spacing", "unipc", `{"timestep_spacing": "middle"}`},
	{"thresholding", "ddim", `{"thresholding": true}`},
	{"zero snr", "euler", `{"rescale_betas_zero_snr": true}`},
	{"exponential sigmas", "heun", `{"use_exponential_sigmas": true}`},
	{"flow sigmas", "unipc", `{"use_flow_sigmas": true}`},
	{"sde dpm", "dpmpp_2m", `{"algorithm_type": "sde-dpmsolver++"}`},
	{"dpm order 3", "dpmpp_2m", `{"solver_order": 3}`},
	{"unipc order 4", "unipc", `{"solver_order": 4}`},
	{"unipc nan final", "unipc", `{"solver_type": "bh1"}`},
	{"interpolation", "euler", `{"interpolation_type": "log_linear"}`},
	{"learned variance", "dpmpp_2m", `{"variance_type": "learned_range"}`},
	{"one train step", "ddim", `{"num_train_timesteps": 1}`},
	{"beta above 1", "euler", `{"beta_end": 1.5}`},
	{"trained betas length", "ddim", `{"num_train_timesteps": 3, "trained_betas": [0.1, 0.2]}`},
	{"ancestral sample", "euler_a", `{"prediction_type": "sample"}`},
	{"final sigmas", "euler", `{"final_sigmas_type": "sigma_max"}`},
	{"steps offset", "ddim", `{"steps_offset": -1}`},
}

func TestNewSchedulerRejectsBadConfigs(t *testing.T) {
	for _, tc := range badSchedulerConfigs {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewScheduler(tc.scheduler, []byte(tc.config))
			require.ErrorIs(t, err, ErrBadConfig)
		})
	}
}

func TestNewSchedulerUnknownName(t *testing.T) {
	_, err := NewScheduler("lms", nil)
	require.ErrorIs(t, err, ErrUnknownScheduler)
	require.Contains(t, err.Error(), "dpm2_karras") // lists the known names
}

func TestNewSchedulerNames(t *testing.T) {
	for _, name := range append(SchedulerNames(), "DDIMScheduler", "KDPM2DiscreteScheduler", "Euler-A", " UniPC ") {
		s, err := NewScheduler(name, nil)
		require.NoError(t, err, name)
		n, err := Evaluations(s, 10)
		require.NoError(t, err)
		require.Contains(t, []int{10, 11, 19}, n, name) // PNDM: N+1
	}
	s, err := NewScheduler("heun", nil)
	require.NoError(t, err)
	n, err := Evaluations(s, 25)
	require.NoError(t, err)
	require.Equal(t, 49, n)
	require.Equal(t, "ddim", SchedulerClass([]byte(`{"_class_name": "DDIMScheduler"}`)))
	require.Equal(t, "pndm", SchedulerClass([]byte(`{"_class_name": "PNDMScheduler"}`)))
	require.Equal(t, "", SchedulerClass([]byte(`{"_class_name": "LMSDiscreteScheduler"}`)))
}

func TestNewSchedulerIgnoresKeysOfOtherClasses(t *testing.T) {
	// DDIM's set_alpha_to_one/clip_sample mean nothing to Euler; diffusers' from_config drops them.
	s, err := NewScheduler("euler", []byte(`{"_class_name": "PNDMScheduler", "skip_prk_steps": true,
		"set_alpha_to_one": false, "clip_sample": true, "solver_order": 9}`))
	require.NoError(t, err)
	require.NoError(t, s.SetTimesteps(5))
}

func TestSchedulerStepErrors(t *testing.T) {
	s, err := NewScheduler("unipc", nil)
	require.NoError(t, err)
	x := []float64{1, 2, 3}
	_, err = s.Step(0, x, x, nil)
	require.ErrorIs(t, err, ErrStepOrder, "step before SetTimesteps")
	require.ErrorIs(t, s.SetTimesteps(0), ErrBadConfig)
	require.ErrorIs(t, s.SetTimesteps(1001), ErrBadConfig)
	require.NoError(t, s.SetTimesteps(4))
	_, err = s.Step(1, x, x, nil)
	require.ErrorIs(t, err, ErrStepOrder, "skipped step 0")
	_, err = s.Step(0, x[:2], x, nil)
	require.ErrorIs(t, err, ErrBadInput)
	_, err = s.Step(7, x, x, nil)
	require.ErrorIs(t, err, ErrStepOrder)
	_, err = s.ScaleModelInput(-1, x)
	require.ErrorIs(t, err, ErrStepOrder)

	ea, err := NewScheduler("euler_a", nil)
	require.NoError(t, err)
	require.NoError(t, ea.SetTimesteps(3))
	_, err = ea.Step(0, x, x, nil)
	require.ErrorIs(t, err, ErrBadInput, "ancestral sampling needs noise")

	d, err := NewScheduler("ddim", nil)
	require.NoError(t, err)
	require.ErrorIs(t, d.(*DDIM).SetEta(-1), ErrBadConfig)
}

func FuzzNewScheduler(f *testing.F) {
	for _, tc := range badSchedulerConfigs {
		f.Add(tc.scheduler, tc.config, 7)
	}
	f.Add("dpm2_karras", `{"beta_schedule": "scaled_linear", "use_karras_sigmas": true}`, 3)
	f.Add("unipc", `{"solver_order": 3, "final_sigmas_type": "sigma_min"}`, 12)
	f.Fuzz(func(t *testing.T, name, config string, steps int) {
		s, err := NewScheduler(name, []byte(config))
		if err != nil {
			if !errors.Is(err, ErrBadConfig) && !errors.Is(err, ErrUnknownScheduler) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		steps = steps%60 + 1
		if err := s.SetTimesteps(steps); err != nil {
			return
		}
		x := []float64{0.5, -1, 2}
		noise := NewGaussianNoise(1)
		for i := range s.Timesteps() {
			in, err := s.ScaleModelInput(i, x)
			if err != nil {
				t.Fatal(err)
			}
			if x, err = s.Step(i, in, x, noise); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestPNDMConfig(t *testing.T) {
	// Stable Diffusion 1.x's scheduler_config.json: PLMS, N+1 evaluations.
	sd := []byte(`{"_class_name": "PNDMScheduler", "beta_schedule": "scaled_linear", "beta_start": 0.00085,
		"beta_end": 0.012, "skip_prk_steps": true, "set_alpha_to_one": false, "steps_offset": 1}`)
	require.Equal(t, "pndm", SchedulerClass(sd))
	s, err := NewScheduler("pndm", sd)
	require.NoError(t, err)
	n, err := Evaluations(s, 50)
	require.NoError(t, err)
	require.Equal(t, 51, n)
	// The Runge-Kutta warm-up is not implemented: an explicit false is a clear error.
	_, err = NewScheduler("PNDMScheduler", []byte(`{"skip_prk_steps": false}`))
	require.ErrorIs(t, err, ErrBadConfig)
	require.Contains(t, err.Error(), "skip_prk_steps")
	_, err = NewScheduler("pndm", []byte(`{"skip_prk_steps": true, "prediction_type": "sample"}`))
	require.ErrorIs(t, err, ErrBadConfig)
	// PLMS keeps history: steps must come in order.
	require.NoError(t, s.SetTimesteps(5))
	x := make([]float64, 8)
	_, err = s.Step(1, x, x, nil)
	require.ErrorIs(t, err, ErrStepOrder)
}
