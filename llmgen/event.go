package llmgen

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
)

// Event is what a caption describes: one detection summarised by the pipeline.
type Event struct {
	// ID is the caller's key for the event (e.g. the service's event ID). It is not part of the prompt;
	// the Caption made from the event carries it back.
	ID string `json:"id,omitempty"`
	// Camera names the camera.
	Camera string `json:"camera"`
	// Zone is the free-text place the operator configured for the camera ("loading bay"); it may be
	// empty, and the caption then names no place.
	Zone string `json:"zone"`
	// Label is the event model's label (EventLabels: "object_left", "pan", ...).
	Label string `json:"label"`
	// Direction is derived from the label (LabelDirection): left-to-right, right-to-left, mixed or none.
	Direction string `json:"direction"`
	// DurationS is the event length in whole seconds.
	DurationS int `json:"duration_s"`
	// Time is the local wall-clock time as HH:MM.
	Time string `json:"time"`
	// Confidence is the detector's confidence in [0, 1].
	Confidence float64 `json:"confidence"`
}

// Validate reports a missing or out-of-range field.
func (e Event) Validate() error {
	var bad []string
	if strings.TrimSpace(e.Camera) == "" {
		bad = append(bad, "camera is empty")
	}
	if strings.TrimSpace(e.Label) == "" {
		bad = append(bad, "label is empty")
	}
	if e.DurationS < 0 {
		bad = append(bad, "duration_s is negative")
	}
	if e.Confidence < 0 || e.Confidence > 1 {
		bad = append(bad, "confidence outside [0, 1]")
	}
	for _, f := range []string{e.Camera, e.Zone, e.Label, e.Direction, e.Time} {
		if strings.ContainsAny(f, "|\n") {
			bad = append(bad, fmt.Sprintf("field %q contains '|' or a newline", f))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("llmgen: bad event: %s", strings.Join(bad, "; "))
	}
	return nil
}

// Prompt formats the event as the caption models were trained to read it (training/caption/corpus.py
// prompt(); models/caption/*/manifest.json prompt_format).
func (e Event) Prompt() string {
	return fmt.Sprintf("camera: %s | zone: %s | label: %s | direction: %s | duration: %ds | time: %s | confidence: %.2f\ncaption:",
		e.Camera, e.Zone, e.Label, e.Direction, e.DurationS, e.Time, e.Confidence)
}

// ReadEvent reads one event from a JSON file.
func ReadEvent(path string) (Event, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Event{}, fmt.Errorf("llmgen: read event: %w", err)
	}
	var e Event
	if err := json.Unmarshal(data, &e); err != nil {
		return Event{}, fmt.Errorf("llmgen: parse event %s: %w", path, err)
	}
	if err := e.Validate(); err != nil {
		return Event{}, fmt.Errorf("%s: %w", path, err)
	}
	return e, nil
}

// EventLabels are the labels of the service's event model (models/mfcd/manifest.json without "idle",
// which never becomes an event), the vocabulary of the caption corpus.
var EventLabels = []string{"object_left", "object_right", "multi_object", "pan", "zoom", "shake",
	"illumination", "tamper", "scene_change", "defocus"}

// SampleEvents returns n seeded events drawn like the caption corpus's (training/caption/corpus.py),
// for benchmarks and tests.
func SampleEvents(n int, seed uint64) []Event {
	rng := rand.New(rand.NewPCG(seed, 1))
	cams := []string{"dock-1", "gate-north", "lobby", "lot-b", "yard", "garage", "entrance", "office-1"}
	zones := []string{"loading bay", "parking lot", "front door", "driveway", "corridor", "main gate", "ramp", ""}
	out := make([]Event, n)
	for i := range out {
		label := EventLabels[rng.IntN(len(EventLabels))]
		out[i] = Event{
			Camera: cams[rng.IntN(len(cams))], Zone: zones[rng.IntN(len(zones))],
			Label: label, Direction: LabelDirection(label),
			DurationS: 1 + rng.IntN(400), Time: fmt.Sprintf("%02d:%02d", rng.IntN(24), rng.IntN(60)),
			Confidence: float64(50+rng.IntN(50)) / 100,
		}
	}
	return out
}
