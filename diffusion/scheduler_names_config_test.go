package diffusion

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/internal/config"
)

// TestConfigSchedulerNamesMatch keeps config's plain copy of the scheduler names (config does not
// import diffusion) in step with the schedulers NewScheduler builds: the same names, the same class
// names, and the same answer for every spelling.
func TestConfigSchedulerNamesMatch(t *testing.T) {
	require.Equal(t, SchedulerNames(), config.SchedulerNames, "config.SchedulerNames must list diffusion.SchedulerNames()")
	require.Equal(t, classNames, config.SchedulerClassNames, "config.SchedulerClassNames must match diffusion's class names")
	inputs := []string{"", " ", "warp9", "DDIM", " ddim ", "Euler-A", "euler-ancestral", "DPMPP_2M_KARRAS", "ddimscheduler",
		"DDIMScheduler", " PNDMScheduler ", "UniPCMultistepScheduler", "unipc\n", "dpm2-karras", "ddim_", "eul er"}
	for _, n := range SchedulerNames() {
		inputs = append(inputs, n, strings.ToUpper(n), strings.ReplaceAll(n, "_", "-"))
	}
	for c := range classNames {
		inputs = append(inputs, c, strings.ToLower(c))
	}
	for _, in := range inputs {
		_, err := NewScheduler(in, nil)
		known := !errors.Is(err, ErrUnknownScheduler)
		require.Equal(t, known, config.KnownScheduler(in), "scheduler %q: diffusion says known=%v", in, known)
	}
}
