package evaluate

import (
	"encoding/json"
	"fmt"
	"os"
)

// Entry kinds of a timeline.
const (
	KindEnter       = "enter"        // an object comes into view and stays
	KindLeave       = "leave"        // an object in view goes out of it
	KindCross       = "cross"        // an object comes in and goes out again
	KindCameraMove  = "camera_move"  // the camera itself moves (pan, tilt, zoom, shake, driving)
	KindLightChange = "light_change" // exposure or lighting changes with no object behind it
	KindSceneCut    = "scene_cut"    // the picture is replaced (an edit, a cover, a re-aim)
	KindNothing     = "nothing"      // explicitly nothing happens (documentation only)
)

// Groups a timeline entry or a model label belongs to.
const (
	GroupObject = "object"
	GroupCamera = "camera_motion"
	GroupScene  = "illumination_tamper"
	GroupNone   = ""
)

// Groups lists the scored groups in report order.
var Groups = []string{GroupObject, GroupCamera, GroupScene}

// Timeline is the hand-made account of what happens in one clip, in seconds from its first frame.
type Timeline struct {
	Clip     string  `json:"clip"`
	Duration float64 `json:"duration"`
	// Method says how the timeline was made.
	Method  string  `json:"method,omitempty"`
	Entries []Entry `json:"entries"`
}

// Entry is one interval of a timeline.
type Entry struct {
	Start float64 `json:"start"`
	End   float64 `json:"end"`
	Kind  string  `json:"kind"`
	// Class is person, vehicle or other for object kinds.
	Class string `json:"class,omitempty"`
	// Count is how many objects the interval holds, when more than one.
	Count int    `json:"count,omitempty"`
	Note  string `json:"note,omitempty"`
}

// Group is the scored group of the entry's kind.
func (e Entry) Group() string {
	switch e.Kind {
	case KindEnter, KindLeave, KindCross:
		return GroupObject
	case KindCameraMove:
		return GroupCamera
	case KindLightChange, KindSceneCut:
		return GroupScene
	}
	return GroupNone
}

// LabelGroup maps an MFCD-Net label to the group it is scored in: object labels, camera-motion labels,
// and illumination/tamper labels (scene change and defocus count as tamper). idle and unknown labels
// map to GroupNone.
func LabelGroup(label string) string {
	switch label {
	case "object_left", "object_right", "multi_object", "object":
		return GroupObject
	case "pan", "zoom", "shake", "tilt":
		return GroupCamera
	case "illumination", "tamper", "scene_change", "defocus":
		return GroupScene
	}
	return GroupNone
}

// LoadTimeline reads and checks a timeline file.
func LoadTimeline(path string) (*Timeline, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("evaluate: read timeline: %w", err)
	}
	var t Timeline
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("evaluate: parse timeline %s: %w", path, err)
	}
	for i, e := range t.Entries {
		if e.End < e.Start || e.Start < 0 || (t.Duration > 0 && e.Start > t.Duration) {
			return nil, fmt.Errorf("evaluate: timeline %s: entry %d: bad interval %.2f-%.2f", path, i, e.Start, e.End)
		}
		if e.Group() == GroupNone && e.Kind != KindNothing {
			return nil, fmt.Errorf("evaluate: timeline %s: entry %d: unknown kind %q", path, i, e.Kind)
		}
		if e.Group() == GroupObject && e.Class != "person" && e.Class != "vehicle" && e.Class != "other" {
			return nil, fmt.Errorf("evaluate: timeline %s: entry %d: class %q, want person, vehicle or other", path, i, e.Class)
		}
	}
	return &t, nil
}
