package llmgen

import (
	"math"
	"time"
)

// Directions that DetectionEvent derives from a label of the service's event model
// (models/mfcd/manifest.json labels; training/caption/corpus.py DIRECTION).
const (
	// DirectionLeftToRight is an object crossing the view from left to right (object_right).
	DirectionLeftToRight = "left-to-right"
	// DirectionRightToLeft is an object crossing the view from right to left (object_left).
	DirectionRightToLeft = "right-to-left"
	// DirectionMixed is several objects moving in different directions (multi_object).
	DirectionMixed = "mixed"
	// DirectionNone is an event without an object direction: a camera or image event
	// (pan, zoom, shake, illumination, tamper, scene_change, defocus) or an unknown label.
	DirectionNone = "none"
)

// LabelDirection returns the direction field the caption corpus pairs with an event label.
func LabelDirection(label string) string {
	switch label {
	case "object_left":
		return DirectionRightToLeft
	case "object_right":
		return DirectionLeftToRight
	case "multi_object":
		return DirectionMixed
	default:
		return DirectionNone
	}
}

// DetectionEvent builds the caption Event for one detection of the service's event model.
//
// Time is start formatted "15:04" in start's location; the duration is rounded to whole seconds, at
// least 1; the direction is derived from the label (LabelDirection). zone may be empty: the caption then
// names no place.
func DetectionEvent(camera, zone, label string, start time.Time, duration time.Duration, confidence float64) Event {
	secs := int(math.Round(duration.Seconds()))
	if secs < 1 {
		secs = 1
	}
	return Event{
		Camera:     camera,
		Zone:       zone,
		Label:      label,
		Direction:  LabelDirection(label),
		DurationS:  secs,
		Time:       start.Format("15:04"),
		Confidence: confidence,
	}
}
