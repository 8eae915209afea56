// Package event holds the Event value type that camera workers emit and the event service stores,
// streams and delivers, with its ID scheme, validation, query type and the rules that merge a clip into
// an event or add a stage's result to it. It is a leaf: it imports only the standard library,
// internal/config (for the camera and zone name rules) and internal/zone (the box of a track).
package event

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/zone"
)

// ErrNotFound is returned (wrapped) for an event, keyframe or thumbnail that is not stored.
var ErrNotFound = errors.New("not found")

// ErrInvalidEvent is wrapped by the errors that sinks return for an event that fails Event.Validate.
var ErrInvalidEvent = errors.New("invalid event")

// MaxKeyframeBytes bounds the keyframe JPEG attached to an event.
const MaxKeyframeBytes = 4 << 20

// MaxThumbnailBytes bounds an event's thumbnail PNG.
const MaxThumbnailBytes = 4 << 20

// MaxCaptionBytes bounds an event's caption.
const MaxCaptionBytes = 2048

var pngMagic = []byte("\x89PNG\r\n\x1a\n")

// Event is one detection: what happened (Label, Score), where (Camera), when (Start, End) and how the
// model decided (ExitStage). It is the JSON object of the API, the SSE stream and webhooks.
type Event struct {
	// ID is unique and sorts by Start (NewEventID).
	ID string `json:"id"`
	// Camera is the camera's configured name.
	Camera string `json:"camera"`
	// Label is the class the model gave the clip.
	Label string `json:"label"`
	// Score is the model's confidence in Label, 0 to 1.
	Score float64 `json:"score"`
	// Start and End bound the clip in wall-clock time.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// ExitStage is the model stage whose early-exit head decided (0 = first stage).
	ExitStage int `json:"exit_stage"`
	// KeyframeRef is the API path of the event's keyframe JPEG, empty when it has none.
	KeyframeRef string `json:"keyframe_ref,omitempty"`
	// Caption is a short text description written by the caption stage after the event is stored;
	// empty until then (or when captions are off).
	Caption string `json:"caption,omitempty"`
	// ThumbnailRef is the API path of the event's illustrative thumbnail PNG (drawn by the thumbnail
	// stage after the event is stored); empty when it has none.
	ThumbnailRef string `json:"thumbnail_ref,omitempty"`
	// Zones names the camera's zones that the event's moving objects were in (issue 14); empty when
	// none, or when the camera has no zones.
	Zones []string `json:"zones,omitempty"`
	// NoAlert marks an event that the camera's zones do not alert for: some zone restricts labels and
	// no zone the event touched lists its label. It is stored and shown; webhooks skip it.
	NoAlert bool `json:"no_alert,omitempty"`
	// Tracks are the objects followed during the event, from the motion vectors.
	Tracks []EventTrack `json:"tracks,omitempty"`
	// ClipRef is the API path of the event's MP4 clip (issue 16), set by the API when the clip is
	// stored; empty while it is still being recorded, or when there is none. It is not stored with
	// the event.
	ClipRef string `json:"clip_ref,omitempty"`
	// Keyframe is the JPEG itself; stores keep it apart from the event (see AttachKeyframe).
	Keyframe []byte `json:"-"`
}

// MaxEventTracks bounds an event's tracks.
const MaxEventTracks = 32

// EventTrack is one object followed during an event (internal/track).
type EventTrack struct {
	// ID identifies the track within its camera's session.
	ID uint64 `json:"id"`
	// Box is the object's last box in normalised picture coordinates (0..1, origin top-left).
	Box zone.Box `json:"box"`
	// Direction is where it was heading: left, right, up or down; empty when still.
	Direction string `json:"direction,omitempty"`
	// Speed is its speed in picture sizes per second.
	Speed float64 `json:"speed"`
	// Seconds is how long it was followed.
	Seconds float64 `json:"seconds"`
	// Class is the object's class from its compressed-domain features (TrackClasses), empty when
	// unknown; ClassScore is its probability.
	Class      string  `json:"class,omitempty"`
	ClassScore float64 `json:"class_score,omitempty"`
}

// TrackClasses are the object classes a track may carry.
var TrackClasses = []string{"person", "vehicle", "other"}

// NewEventID returns a new event ID for an event starting at start: 16 hex digits of the start time in
// Unix nanoseconds then 8 random hex digits, so IDs sort by start time.
func NewEventID(start time.Time) string {
	var b [12]byte
	binary.BigEndian.PutUint64(b[:8], uint64(max(start.UnixNano(), 0)))
	if _, err := rand.Read(b[8:]); err != nil {
		panic(err) // crypto/rand never fails on Linux; a failure means the system is unusable
	}
	return hex.EncodeToString(b[:])
}

// TimeKey is the ID prefix for time t: IDs >= TimeKey(t) start at or after t.
func TimeKey(t time.Time) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(max(t.UnixNano(), 0)))
	return []byte(hex.EncodeToString(b[:]))
}

// ValidID reports whether id has the NewEventID form.
func ValidID(id string) bool {
	if len(id) != 24 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// KeyframePath returns the API path that serves the keyframe of event id.
func KeyframePath(id string) string { return "/api/v1/events/" + id + "/keyframe" }

// ThumbnailPath returns the API path that serves the thumbnail of event id.
func ThumbnailPath(id string) string { return "/api/v1/events/" + id + "/thumbnail" }

// ClipPath returns the API path that serves the clip of event id.
func ClipPath(id string) string { return "/api/v1/events/" + id + "/clip" }

// AttachKeyframe sets the event's keyframe JPEG and its KeyframeRef. Set ID first.
func (e *Event) AttachKeyframe(jpeg []byte) {
	e.Keyframe = jpeg
	e.KeyframeRef = KeyframePath(e.ID)
}

// Validate checks the event's fields; errors wrap ErrInvalidEvent.
func (e *Event) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidEvent, fmt.Sprintf(format, a...))
	}
	switch {
	case !ValidID(e.ID):
		return bad("id %q is not 24 lower-case hex digits (use NewEventID)", e.ID)
	case !config.ValidName(e.Camera):
		return bad("camera %q is not a valid camera name", e.Camera)
	case e.Label == "" || len(e.Label) > 128:
		return bad("label must be 1 to 128 bytes")
	case math.IsNaN(e.Score) || e.Score < 0 || e.Score > 1:
		return bad("score %g is not in [0, 1]", e.Score)
	case e.Start.IsZero() || e.End.Before(e.Start):
		return bad("start must be set and end not before it")
	case e.ExitStage < 0:
		return bad("exit_stage must not be negative")
	case len(e.Keyframe) > MaxKeyframeBytes:
		return bad("keyframe is %d bytes, more than %d", len(e.Keyframe), MaxKeyframeBytes)
	case len(e.Keyframe) > 0 && !bytes.HasPrefix(e.Keyframe, []byte{0xFF, 0xD8, 0xFF}):
		return bad("keyframe is not a JPEG")
	case len(e.Caption) > MaxCaptionBytes:
		return bad("caption is %d bytes, more than %d", len(e.Caption), MaxCaptionBytes)
	case len(e.Zones) > config.MaxZones:
		return bad("%d zones, more than %d", len(e.Zones), config.MaxZones)
	case len(e.Tracks) > MaxEventTracks:
		return bad("%d tracks, more than %d", len(e.Tracks), MaxEventTracks)
	}
	for _, t := range e.Tracks {
		if t.Class != "" && !slices.Contains(TrackClasses, t.Class) {
			return bad("track %d: class %q is not one of %v", t.ID, t.Class, TrackClasses)
		}
	}
	for _, z := range e.Zones {
		if !config.ValidName(z) {
			return bad("zone %q is not a valid zone name", z)
		}
	}
	return nil
}

// Query selects stored events. Zero fields do not filter.
type Query struct {
	// From and To bound Start: From <= Start < To.
	From, To time.Time
	// Camera and Label match exactly.
	Camera, Label string
	// Zone keeps events whose Zones include it.
	Zone string
	// Class keeps events with a track of this class.
	Class string
	// MinScore keeps events with Score >= MinScore.
	MinScore float64
	// Limit is the page size. It defaults to 100 and is capped at 1000.
	Limit int
	// Cursor continues a previous query: pass its NextCursor.
	Cursor string
	// Ascending returns the oldest first; the default is newest first.
	Ascending bool
}

// Page is one page of query results.
type Page struct {
	Events []Event `json:"events"`
	// NextCursor continues the query; empty when there are no more events.
	NextCursor string `json:"next_cursor,omitempty"`
}

// Matches reports whether e passes q's camera, label, zone, class and score filters (not its time range or
// cursor).
func (q Query) Matches(e Event) bool {
	return (q.Camera == "" || e.Camera == q.Camera) && (q.Label == "" || e.Label == q.Label) && e.Score >= q.MinScore &&
		(q.Zone == "" || slices.Contains(e.Zones, q.Zone)) && (q.Class == "" || e.hasClass(q.Class))
}

func (e Event) hasClass(class string) bool {
	for _, t := range e.Tracks {
		if t.Class == class {
			return true
		}
	}
	return false
}

// Extend merges a later clip that ended at end with the given score into the event: the event lasts
// until end and keeps its best score.
func (e *Event) Extend(end time.Time, score float64) {
	e.End = end
	e.Score = max(e.Score, score)
}

// CheckCaption checks a caption a stage wants to add to an event; errors wrap ErrInvalidEvent.
func CheckCaption(caption string) error {
	if len(caption) > MaxCaptionBytes {
		return fmt.Errorf("%w: caption is %d bytes, more than %d", ErrInvalidEvent, len(caption), MaxCaptionBytes)
	}
	return nil
}

// CheckThumbnail checks a thumbnail PNG a stage wants to add to an event; errors wrap ErrInvalidEvent.
func CheckThumbnail(png []byte) error {
	if len(png) == 0 || len(png) > MaxThumbnailBytes || !bytes.HasPrefix(png, pngMagic) {
		return fmt.Errorf("%w: not a PNG of at most %d bytes", ErrInvalidEvent, MaxThumbnailBytes)
	}
	return nil
}
