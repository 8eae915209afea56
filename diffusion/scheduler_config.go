package diffusion

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"sort"
	"strings"
)

// ErrBadConfig reports a scheduler configuration this package cannot honour.
var ErrBadConfig = errors.New("bad scheduler config")

// ErrUnknownScheduler reports a scheduler name that is not one of SchedulerNames.
var ErrUnknownScheduler = errors.New("unknown scheduler")

// SchedulerConfig is a diffusers scheduler_config.json resolved for one scheduler class: the keys that class
// accepts, with the class's own defaults for missing keys (what diffusers' from_config does). Keys the class
// does not accept are ignored, as diffusers ignores them.
type SchedulerConfig struct {
	NumTrainTimesteps int       // num_train_timesteps; 1000 for every class.
	BetaStart         float64   // beta_start; 0.0001 (DDIM, Euler, UniPC, DPM++) or 0.00085 (Heun, KDPM2).
	BetaEnd           float64   // beta_end; 0.02 or 0.012 as for BetaStart.
	BetaSchedule      string    // beta_schedule: linear (default), scaled_linear or squaredcos_cap_v2.
	TrainedBetas      []float64 // trained_betas; nil unless given.
	PredictionType    string    // prediction_type: epsilon (default), v_prediction or sample.
	TimestepSpacing   string    // timestep_spacing: leading for DDIM, linspace for the others; or trailing.
	StepsOffset       int       // steps_offset; 0. Only used by leading spacing.
	UseKarrasSigmas   bool      // use_karras_sigmas; false (Euler, Heun, KDPM2, UniPC, DPM++ only).
	SigmaMin          float64   // sigma_min for Karras sigmas (Euler, UniPC); NaN means the schedule's own.
	SigmaMax          float64   // sigma_max for Karras sigmas (Euler, UniPC); NaN means the schedule's own.
	SetAlphaToOne     bool      // set_alpha_to_one (DDIM, PNDM); true for DDIM, false for PNDM.
	SkipPrkSteps      bool      // skip_prk_steps (PNDM); true here (diffusers: false), and false is rejected: the Runge-Kutta warm-up is not implemented.
	ClipSample        bool      // clip_sample: true for DDIM, false for Heun.
	ClipSampleRange   float64   // clip_sample_range; 1.
	SolverOrder       int       // solver_order (UniPC, DPM++); 2.
	SolverType        string    // solver_type: midpoint/heun (DPM++, default midpoint), bh1/bh2 (UniPC, default bh2).
	LowerOrderFinal   bool      // lower_order_final (UniPC, DPM++); true.
	EulerAtFinal      bool      // euler_at_final (DPM++); false.
	FinalSigmasType   string    // final_sigmas_type (Euler, UniPC, DPM++): zero (default) or sigma_min.
	PredictX0         bool      // predict_x0 (UniPC); true.
	DisableCorrector  []int     // disable_corrector (UniPC); empty.
	LambdaMinClipped  float64   // lambda_min_clipped (DPM++); -Inf.
	AlgorithmType     string    // algorithm_type (DPM++): only dpmsolver++ is supported.
}

// schedulerKind is one diffusers scheduler class.
type schedulerKind int

const (
	kindDDIM schedulerKind = iota
	kindEuler
	kindEulerAncestral
	kindHeun
	kindKDPM2
	kindUniPC
	kindDPMSolver
	kindPNDM
)

// schedulerName maps a user-facing scheduler name to its class and any settings the name implies.
type schedulerName struct {
	kind   schedulerKind
	karras bool // the name forces use_karras_sigmas
}

var schedulerNames = map[string]schedulerName{
	"ddim":            {kind: kindDDIM},
	"euler":           {kind: kindEuler},
	"euler_karras":    {kind: kindEuler, karras: true},
	"euler_a":         {kind: kindEulerAncestral},
	"euler_ancestral": {kind: kindEulerAncestral},
	"heun":            {kind: kindHeun},
	"dpm2":            {kind: kindKDPM2},
	"dpm2_karras":     {kind: kindKDPM2, karras: true},
	"unipc":           {kind: kindUniPC},
	"dpmpp_2m":        {kind: kindDPMSolver},
	"dpmpp_2m_karras": {kind: kindDPMSolver, karras: true},
	"pndm":            {kind: kindPNDM},
}

// classNames maps diffusers' _class_name values onto scheduler names, so a scheduler_config.json's own class
// can be used.
var classNames = map[string]string{
	"DDIMScheduler":                   "ddim",
	"EulerDiscreteScheduler":          "euler",
	"EulerAncestralDiscreteScheduler": "euler_a",
	"HeunDiscreteScheduler":           "heun",
	"KDPM2DiscreteScheduler":          "dpm2",
	"UniPCMultistepScheduler":         "unipc",
	"DPMSolverMultistepScheduler":     "dpmpp_2m",
	"PNDMScheduler":                   "pndm",
}

// SchedulerNames lists the names NewScheduler accepts (diffusers class names such as "DDIMScheduler" are
// accepted too).
func SchedulerNames() []string {
	names := make([]string, 0, len(schedulerNames))
	for n := range schedulerNames {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// lookupScheduler resolves a scheduler name or diffusers class name.
func lookupScheduler(name string) (schedulerName, error) {
	key := strings.ToLower(strings.TrimSpace(name))
	if c, ok := classNames[strings.TrimSpace(name)]; ok {
		key = c
	}
	key = strings.ReplaceAll(key, "-", "_")
	sn, ok := schedulerNames[key]
	if !ok {
		return schedulerName{}, fmt.Errorf("diffusion: scheduler %q (known: %s): %w",
			name, strings.Join(SchedulerNames(), ", "), ErrUnknownScheduler)
	}
	return sn, nil
}

// defaultConfig returns the constructor defaults of a diffusers scheduler class.
func defaultConfig(k schedulerKind) SchedulerConfig {
	c := SchedulerConfig{
		NumTrainTimesteps: 1000,
		BetaStart:         0.0001,
		BetaEnd:           0.02,
		BetaSchedule:      "linear",
		PredictionType:    "epsilon",
		TimestepSpacing:   "linspace",
		SigmaMin:          math.NaN(),
		SigmaMax:          math.NaN(),
		ClipSampleRange:   1,
		SolverOrder:       2,
		LowerOrderFinal:   true,
		FinalSigmasType:   "zero",
		PredictX0:         true,
		LambdaMinClipped:  math.Inf(-1),
		AlgorithmType:     "dpmsolver++",
	}
	switch k {
	case kindDDIM:
		c.TimestepSpacing = "leading"
		c.ClipSample = true
		c.SetAlphaToOne = true
	case kindHeun, kindKDPM2:
		c.BetaStart, c.BetaEnd = 0.00085, 0.012
	case kindPNDM:
		c.TimestepSpacing = "leading"
		c.SkipPrkSteps = true
	case kindUniPC:
		c.SolverType = "bh2"
	case kindDPMSolver:
		c.SolverType = "midpoint"
	}
	return c
}

// acceptedKeys lists the scheduler_config.json keys a class's constructor takes; others are ignored.
func acceptedKeys(k schedulerKind) []string {
	common := []string{"num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas",
		"prediction_type", "timestep_spacing", "steps_offset", "rescale_betas_zero_snr"}
	sigmaKinds := []string{"use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas"}
	switch k {
	case kindDDIM:
		return append(common, "clip_sample", "clip_sample_range", "set_alpha_to_one", "thresholding")
	case kindEuler:
		return append(append(common, sigmaKinds...), "sigma_min", "sigma_max", "final_sigmas_type",
			"interpolation_type", "timestep_type")
	case kindEulerAncestral:
		return common
	case kindHeun:
		return append(append(common, sigmaKinds...), "clip_sample", "clip_sample_range")
	case kindKDPM2:
		return append(common, sigmaKinds...)
	case kindPNDM:
		return append(slices.Clone(common[:len(common)-1]), "skip_prk_steps", "set_alpha_to_one")
	case kindUniPC:
		return append(append(common, sigmaKinds...), "sigma_min", "sigma_max", "final_sigmas_type",
			"solver_order", "solver_type", "lower_order_final", "predict_x0", "disable_corrector",
			"thresholding", "use_flow_sigmas", "use_dynamic_shifting")
	default: // kindDPMSolver
		return append(append(common, sigmaKinds...), "final_sigmas_type", "solver_order", "solver_type",
			"lower_order_final", "euler_at_final", "lambda_min_clipped", "algorithm_type", "thresholding",
			"use_lu_lambdas", "use_flow_sigmas", "variance_type", "use_dynamic_shifting")
	}
}

// ReadSchedulerConfig reads a diffusers scheduler_config.json file; pass its bytes to NewScheduler.
func ReadSchedulerConfig(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("diffusion: read scheduler config: %w", err)
	}
	return b, nil
}

// SchedulerClass returns the scheduler name matching the _class_name of a scheduler_config.json, or "" when it
// has none this package knows.
func SchedulerClass(configJSON []byte) string {
	var v struct {
		ClassName string `json:"_class_name"`
	}
	if json.Unmarshal(configJSON, &v) != nil {
		return ""
	}
	return classNames[v.ClassName]
}

// resolveConfig overlays the JSON text of a scheduler_config.json (may be empty) on the class defaults.
func resolveConfig(k schedulerKind, configJSON []byte) (SchedulerConfig, error) {
	c := defaultConfig(k)
	if len(bytes.TrimSpace(configJSON)) == 0 {
		return c, nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(configJSON, &raw); err != nil {
		return c, fmt.Errorf("diffusion: scheduler config is not a JSON object: %w: %w", err, ErrBadConfig)
	}
	accepted := acceptedKeys(k)
	for key, val := range raw {
		if !slices.Contains(accepted, key) || string(bytes.TrimSpace(val)) == "null" {
			continue
		}
		if err := setConfigKey(&c, key, val); err != nil {
			return c, fmt.Errorf("diffusion: scheduler config key %q: %w", key, err)
		}
	}
	return c, nil
}

// setConfigKey decodes one key into c; keys naming features this package does not implement must be off.
func setConfigKey(c *SchedulerConfig, key string, val json.RawMessage) error {
	var target any
	var off bool // feature flags that must be false
	var offStr string
	switch key {
	case "num_train_timesteps":
		target = &c.NumTrainTimesteps
	case "beta_start":
		target = &c.BetaStart
	case "beta_end":
		target = &c.BetaEnd
	case "beta_schedule":
		target = &c.BetaSchedule
	case "trained_betas":
		target = &c.TrainedBetas
	case "prediction_type":
		target = &c.PredictionType
	case "timestep_spacing":
		target = &c.TimestepSpacing
	case "steps_offset":
		target = &c.StepsOffset
	case "use_karras_sigmas":
		target = &c.UseKarrasSigmas
	case "sigma_min":
		target = &c.SigmaMin
	case "sigma_max":
		target = &c.SigmaMax
	case "set_alpha_to_one":
		target = &c.SetAlphaToOne
	case "skip_prk_steps":
		target = &c.SkipPrkSteps
	case "clip_sample":
		target = &c.ClipSample
	case "clip_sample_range":
		target = &c.ClipSampleRange
	case "solver_order":
		target = &c.SolverOrder
	case "solver_type":
		target = &c.SolverType
	case "lower_order_final":
		target = &c.LowerOrderFinal
	case "euler_at_final":
		target = &c.EulerAtFinal
	case "final_sigmas_type":
		target = &c.FinalSigmasType
	case "predict_x0":
		target = &c.PredictX0
	case "disable_corrector":
		target = &c.DisableCorrector
	case "lambda_min_clipped":
		target = &c.LambdaMinClipped
	case "algorithm_type":
		target = &c.AlgorithmType
	case "interpolation_type":
		target, offStr = new(string), "linear"
	case "timestep_type":
		target, offStr = new(string), "discrete"
	case "variance_type":
		target = new(string)
		offStr = "-" // any non-null value is unsupported
	default: // boolean feature flags not implemented here
		target, off = new(bool), true
	}
	if err := json.Unmarshal(val, target); err != nil {
		return fmt.Errorf("%w: %w", err, ErrBadConfig)
	}
	if off && *(target.(*bool)) {
		return fmt.Errorf("true is not supported: %w", ErrBadConfig)
	}
	if offStr != "" {
		if s := *(target.(*string)); s != offStr {
			return fmt.Errorf("%q is not supported: %w", s, ErrBadConfig)
		}
	}
	return nil
}

// validate checks the values every scheduler relies on.
func (c SchedulerConfig) validate(k schedulerKind) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("diffusion: "+format+": %w", append(args, ErrBadConfig)...)
	}
	if c.NumTrainTimesteps < 2 || c.NumTrainTimesteps > 100000 {
		return bad("num_train_timesteps %d outside [2,100000]", c.NumTrainTimesteps)
	}
	if !(c.BetaStart >= 0 && c.BetaEnd > 0 && c.BetaEnd < 1 && c.BetaStart < 1) {
		return bad("beta_start %v / beta_end %v outside [0,1)", c.BetaStart, c.BetaEnd)
	}
	switch c.PredictionType {
	case "epsilon", "v_prediction":
	case "sample":
		if k == kindEulerAncestral || k == kindKDPM2 || k == kindPNDM {
			return bad("prediction_type sample is not supported by this scheduler")
		}
	default:
		return bad("prediction_type %q (want epsilon, v_prediction or sample)", c.PredictionType)
	}
	switch c.TimestepSpacing {
	case "leading", "trailing", "linspace":
	default:
		return bad("timestep_spacing %q (want leading, trailing or linspace)", c.TimestepSpacing)
	}
	if c.StepsOffset < 0 || c.StepsOffset >= c.NumTrainTimesteps {
		return bad("steps_offset %d", c.StepsOffset)
	}
	if c.ClipSampleRange <= 0 {
		return bad("clip_sample_range %v", c.ClipSampleRange)
	}
	switch c.FinalSigmasType {
	case "zero", "sigma_min":
	default:
		return bad("final_sigmas_type %q (want zero or sigma_min)", c.FinalSigmasType)
	}
	switch k {
	case kindPNDM:
		if !c.SkipPrkSteps {
			return bad("PNDM with skip_prk_steps false (Runge-Kutta warm-up steps) is not implemented; " +
				"Stable Diffusion exports set skip_prk_steps true, or pick another scheduler with --scheduler")
		}
	case kindUniPC:
		if c.SolverOrder < 1 || c.SolverOrder > 3 {
			return bad("solver_order %d (UniPC supports 1..3)", c.SolverOrder)
		}
		switch c.SolverType {
		case "bh1", "bh2":
		case "midpoint", "heun", "logrho": // diffusers maps these to bh2
		default:
			return bad("solver_type %q (want bh1 or bh2)", c.SolverType)
		}
		// With a final sigma of 0, diffusers' last UniPC step divides infinities (NaN output) unless it is a
		// first-order bh2 step in x0 space.
		if c.FinalSigmasType == "zero" && (c.SolverType == "bh1" || !c.PredictX0 ||
			(!c.LowerOrderFinal && c.SolverOrder > 1)) {
			return bad("UniPC with final_sigmas_type zero needs solver_type bh2, predict_x0 and lower_order_final " +
				"(diffusers returns NaN otherwise); use final_sigmas_type sigma_min")
		}
	case kindDPMSolver:
		if c.SolverOrder < 1 || c.SolverOrder > 2 {
			return bad("solver_order %d (DPM-Solver++ 2M supports 1 or 2)", c.SolverOrder)
		}
		switch c.SolverType {
		case "midpoint", "heun":
		case "logrho", "bh1", "bh2": // diffusers maps these to midpoint
		default:
			return bad("solver_type %q (want midpoint or heun)", c.SolverType)
		}
		switch c.AlgorithmType {
		case "dpmsolver++", "deis":
		default:
			return bad("algorithm_type %q (only dpmsolver++ is supported)", c.AlgorithmType)
		}
	}
	return nil
}
