package bus

import (
	"context"
	"errors"
	"time"

	"github.com/mvwatch/mvwatch/internal/config"
)

// Errors camera commands return; the API maps them to 404 and 409.
var (
	ErrCameraNotFound = errors.New("camera not found")
	ErrCameraExists   = errors.New("camera already exists")
)

// CameraPhase is a camera's place in its life cycle.
type CameraPhase string

// Camera phases.
const (
	// PhaseStarting: the camera was added and is connecting for the first time.
	PhaseStarting CameraPhase = "starting"
	// PhaseRunning: frames are flowing.
	PhaseRunning CameraPhase = "running"
	// PhaseReconnecting: the source dropped; the supervisor is retrying (Reason says why).
	PhaseReconnecting CameraPhase = "reconnecting"
	// PhaseFailed: the camera cannot run as configured (bad URL, unsupported codec); Reason says why.
	PhaseFailed CameraPhase = "failed"
	// PhaseStopped: the camera was stopped (removed or shutting down).
	PhaseStopped CameraPhase = "stopped"
	// PhaseDisabled: the camera is configured with enabled: false.
	PhaseDisabled CameraPhase = "disabled"
)

// CameraState is a camera's externally visible state.
type CameraState struct {
	Name  string      `json:"name"`
	Phase CameraPhase `json:"state"`
	// Node is the worker node that runs the camera, across processes (NATS); empty in one process
	// and while no worker holds the camera.
	Node string `json:"node,omitempty"`
	// Reason explains a failed or reconnecting state; it never contains the camera URL.
	Reason string `json:"reason,omitempty"`
	// Since is when the camera entered Phase.
	Since time.Time `json:"since"`
	// LastFrame is when the last frame was decoded; nil before the first.
	LastFrame     *time.Time `json:"last_frame,omitempty"`
	FramesDecoded uint64     `json:"frames_decoded"`
	Reconnects    uint64     `json:"reconnects"`
	// GateOpen reports whether the motion gate currently passes clips to inference.
	GateOpen bool `json:"gate_open"`
	// SkipRatio is the fraction of frames the motion gate skipped.
	SkipRatio float64 `json:"skip_ratio"`
	// PreGate is the pre-decode gate's state; nil when it is off or before the first access unit.
	PreGate *PreGateState `json:"pregate,omitempty"`
	// History is the camera's last state changes, oldest first, at most HistoryLen of them: its
	// reconnect history, with each change's reason (redacted: never a credential).
	History []PhaseChange `json:"history,omitempty"`
}

// HistoryLen is how many state changes a camera's History keeps; older ones are dropped.
const HistoryLen = 32

// PhaseChange is one change of a camera's phase.
type PhaseChange struct {
	At   time.Time   `json:"at"`
	From CameraPhase `json:"from"`
	To   CameraPhase `json:"to"`
	// Reason says why (the new phase's reason); empty for a camera that came up.
	Reason string `json:"reason,omitempty"`
}

// PreGateState is what the API reports of a camera's pre-decode gate (package pregate).
type PreGateState struct {
	// Asleep is true while the camera's decoder does not run (access units wait in the GOP buffer).
	Asleep bool `json:"asleep"`
	// WakeUps counts wake-ups by motion in the bitstream, KeyframeWakeUps those by the keyframe
	// check (a light, tamper).
	WakeUps         uint64 `json:"wake_ups"`
	KeyframeWakeUps uint64 `json:"keyframe_wake_ups"`
	// BufferedAccessUnits and BufferedBytes are the GOP buffer's content.
	BufferedAccessUnits int `json:"buffered_access_units"`
	BufferedBytes       int `json:"buffered_bytes"`
	// AccessUnits counts the access units the pre-gate has seen, decoded or not.
	AccessUnits uint64 `json:"access_units"`
	// DecodeFraction is the fraction of access units decoded (replays included).
	DecodeFraction float64 `json:"decode_fraction"`
	// Fallback is why the camera decodes every access unit, empty while the gate is in charge:
	// corrupt_slice_header, unsupported_bitstream, missing_parameter_set, gop_overflow or no_idr.
	Fallback string `json:"fallback,omitempty"`
	// Fallbacks counts fallbacks to plain decoding.
	Fallbacks uint64 `json:"fallbacks"`
}

// Cameras is the camera control surface: what the event service (the HTTP API) asks of the workers
// that run the cameras. Add, Replace and Remove change the running set at run time. Implementations
// return errors wrapping ErrCameraNotFound and ErrCameraExists, and config.ErrInvalid for a camera that
// fails validation.
type Cameras interface {
	// List returns the configured cameras in a stable order.
	List() []config.Camera
	// Get returns one camera's configuration.
	Get(name string) (config.Camera, error)
	// Add validates and starts a camera.
	Add(ctx context.Context, cam config.Camera) error
	// Replace swaps a running camera's configuration atomically (same name): the camera is never
	// missing, and its open event carries on under the new configuration.
	Replace(ctx context.Context, cam config.Camera) error
	// Remove stops and forgets a camera.
	Remove(ctx context.Context, name string) error
	// State returns a camera's current state.
	State(name string) (CameraState, error)
}
