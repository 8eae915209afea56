package ingest

import (
	"time"

	"github.com/mvwatch/mvwatch/internal/media"
)

// State is where a Client is in its life.
type State string

// Client states.
const (
	// StateIdle: not started yet.
	StateIdle State = "idle"
	// StateConnecting: opening the RTSP session (DESCRIBE, SETUP, PLAY).
	StateConnecting State = "connecting"
	// StateStreaming: playing; access units are being delivered.
	StateStreaming State = "streaming"
	// StateBackoff: the last session failed (Reason says why); waiting before the next attempt.
	StateBackoff State = "backoff"
	// StateFailed: a permanent error (Reason says which); the client has stopped.
	StateFailed State = "failed"
	// StateClosed: stopped by Close or by its context.
	StateClosed State = "closed"
)

// ClientState is a snapshot of a Client: its state with the reason for it, and its counters since the
// client was created. No field ever holds credentials.
type ClientState struct {
	State State
	// Reason is the error behind StateBackoff or StateFailed, and the last error otherwise.
	Reason string
	// Since is when the client entered State.
	Since time.Time
	// NextAttempt is when the next connection attempt starts, in StateBackoff.
	NextAttempt time.Time
	// URL is the stream's URL with credentials redacted.
	URL string
	// Codec and Transport of the current or last session ("tcp" or "udp").
	Codec     media.Codec
	Transport string

	// Reconnects counts connection attempts after the first.
	Reconnects uint64
	// PacketsReceived counts RTP packets received; Bytes their size in bytes.
	PacketsReceived uint64
	Bytes           uint64
	// PacketsLost counts RTP packets missing from the sequence numbers.
	PacketsLost uint64
	// DecodeErrors counts RTP packets that could not be depacketised (garbage, broken fragments).
	DecodeErrors uint64
	// AUsDelivered counts access units handed to OnAccessUnit.
	AUsDelivered uint64
	// AUsDropped counts access units dropped: incomplete after a loss or a decode error, over
	// ClientConfig.MaxAccessUnitBytes, or the delivery queue was full (units or bytes).
	AUsDropped uint64
	// AUsOversized counts the access units (and endless NAL units) cut off at
	// ClientConfig.MaxAccessUnitBytes; they are counted in AUsDropped too.
	AUsOversized uint64
	// AUsSkipped counts access units discarded while waiting for the first random-access unit.
	AUsSkipped uint64
}
