package diffusion

import (
	"fmt"
	"strconv"
	"strings"
)

// ChooseSteps resolves a --steps value: "auto" asks the predictor for this prompt and scheduler, a number is
// used as given (1..1000), and "" means fixedDefault. pred may be nil unless spec is "auto".
func ChooseSteps(pred *StepPredictor, prompt, scheduler, spec string, fixedDefault int) (int, error) {
	spec = strings.TrimSpace(strings.ToLower(spec))
	switch spec {
	case "":
		if fixedDefault < 1 {
			return 0, fmt.Errorf("diffusion: default step count %d: %w", fixedDefault, ErrBadConfig)
		}
		return fixedDefault, nil
	case "auto":
		if pred == nil {
			return 0, fmt.Errorf("diffusion: --steps auto needs a step predictor model: %w", ErrBadConfig)
		}
		p, err := pred.Predict(prompt, scheduler)
		if err != nil {
			return 0, err
		}
		return p.Steps, nil
	}
	n, err := strconv.Atoi(spec)
	if err != nil || n < 1 || n > 1000 {
		return 0, fmt.Errorf("diffusion: steps %q (want auto or 1..1000): %w", spec, ErrBadConfig)
	}
	return n, nil
}
