package pipeline

import (
	"github.com/mvwatch/mvwatch/internal/bus"
	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/pregate"
	"github.com/mvwatch/mvwatch/internal/source"
)

// sourcePreGate turns the pre-gate section into a source's pre-gate; nil when it is off.
func sourcePreGate(c config.PreGate, m *Metrics) *source.PreGate {
	if !c.IsEnabled() {
		return nil
	}
	c = c.WithDefaults()
	pg := &source.PreGate{
		Gate: pregate.Config{
			MaxBufferBytes: c.BufferBytes,
			MaxIDRInterval: c.MaxIDRInterval.D(),
			Gate:           pregate.GateConfig{Hold: c.Hold.D(), WakeMargin: c.WakeMargin},
		},
		KeyframeEvery: c.KeyframeEvery,
		LumaShift:     c.LumaShift,
	}
	if m != nil {
		pg.Metrics = m.PreGate
	}
	return pg
}

// preGateState is the API's view of a source's pre-gate; nil when it has none.
func preGateState(src *source.Source) *bus.PreGateState {
	st, ok := src.PreGateState()
	if !ok {
		return nil
	}
	var fallbacks uint64
	for _, n := range st.Fallbacks {
		fallbacks += n
	}
	return &bus.PreGateState{
		Asleep:              !st.Awake,
		WakeUps:             st.WakeUps,
		KeyframeWakeUps:     st.KeyframeWakeUps,
		AccessUnits:         st.AccessUnits,
		BufferedAccessUnits: st.BufferedUnits,
		BufferedBytes:       st.BufferedBytes,
		DecodeFraction:      st.DecodeFraction(),
		Fallback:            string(st.Fallback),
		Fallbacks:           fallbacks,
	}
}
