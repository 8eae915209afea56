package bench

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/internal/bus"
)

func TestBenchConfigs(t *testing.T) {
	cfgs, err := parseBenchConfigs("pregate, gate,plain")
	require.NoError(t, err)
	require.Equal(t, []benchConfig{{"pregate+gate", true, true}, {"gate", false, true}, {"plain", false, false}}, cfgs)
	_, err = parseBenchConfigs("pregate,fast")
	require.Error(t, err)

	runs := []serveRun{
		{Cameras: 24, Config: "pregate+gate", Realtime: 24, CPUSecondsPerS: 0.48, DecodeFraction: 0.1},
		{Cameras: 40, Config: "pregate+gate", Realtime: 31, CPUSecondsPerS: 1.24, DecodeFraction: 0.2},
		{Cameras: 24, Config: "gate", Realtime: 3, CPUSecondsPerS: 1.9},
	}
	sum := summarizeBenchConfigs(cfgs, runs)
	require.Equal(t, []benchConfigSummary{
		{Config: "pregate+gate", CamerasRealtime: 31, CPUPerCamera: 1.24 / 40, DecodeFraction: 0.2},
		{Config: "gate", CamerasRealtime: 3, CPUPerCamera: 1.9 / 24},
		{Config: "plain"},
	}, sum)
}

func TestBenchKeptUp(t *testing.T) {
	st := func(frames, units uint64, pregate bool) bus.CameraState {
		s := bus.CameraState{FramesDecoded: frames}
		if pregate {
			s.PreGate = &bus.PreGateState{AccessUnits: units}
		}
		return s
	}
	// Without the pre-gate the decoded frames count; with it, the access units it handled.
	require.True(t, benchKeptUp(st(0, 0, false), st(900, 0, false), 900, false))
	require.False(t, benchKeptUp(st(0, 0, false), st(800, 0, false), 900, false))
	require.True(t, benchKeptUp(st(0, 0, true), st(90, 890, true), 900, false))
	require.False(t, benchKeptUp(st(0, 0, true), st(90, 600, true), 900, false))
	require.False(t, benchKeptUp(st(0, 0, true), st(90, 900, true), 900, true), "camera drops")
}
