package diffusion

import (
	"fmt"
	"strings"
	"time"
)

// Event labels of the service's event model (models/mfcd) that EventPrompt maps to thumbnail prompts.
const (
	EventObjectLeft   = "object_left"
	EventObjectRight  = "object_right"
	EventMultiObject  = "multi_object"
	EventPan          = "pan"
	EventZoom         = "zoom"
	EventShake        = "shake"
	EventIllumination = "illumination"
	EventTamper       = "tamper"
	EventSceneChange  = "scene_change"
	EventDefocus      = "defocus"
)

// eventScenes maps each scene word of models/thumbnail's vocabulary to its place phrase.
var eventScenes = map[string]string{
	"street":   "on the street",
	"driveway": "in the driveway",
	"park":     "in the park",
}

// EventPrompt is the thumbnail prompt for one detection of the service's event model, in the
// vocabulary models/thumbnail was trained on. scene is the camera's configured scene word (street,
// driveway, park; empty or unknown -> street); at decides day or night.
//
// Day is 06:00 to 17:59 in at's own location, night the rest. The model knows people and cars moving
// left, right or standing, crowds, rain and snow, empty scenes, tampered and defocused cameras, but no
// camera motion, zoom or light change: object_left / object_right become a person moving left / right,
// multi_object two people standing still, tamper a covered lens, defocus an out-of-focus camera; pan,
// zoom, shake, illumination, scene_change and any unknown label become the empty scene (the closest
// picture the model can draw of them).
func EventPrompt(label, scene string, at time.Time) string {
	scene = strings.ToLower(strings.TrimSpace(scene))
	place, ok := eventScenes[scene]
	if !ok {
		scene, place = "street", eventScenes["street"]
	}
	t := "night"
	if h := at.Hour(); h >= 6 && h < 18 {
		t = "day"
	}
	switch strings.ToLower(strings.TrimSpace(label)) {
	case EventObjectLeft:
		return fmt.Sprintf("a person moving left %s at %s", place, t)
	case EventObjectRight:
		return fmt.Sprintf("a person moving right %s at %s", place, t)
	case EventMultiObject:
		return fmt.Sprintf("two people standing still %s at %s", place, t)
	case EventTamper:
		return fmt.Sprintf("camera tampered, lens covered, %s at %s", scene, t)
	case EventDefocus:
		return fmt.Sprintf("camera out of focus, %s at %s", scene, t)
	default:
		return fmt.Sprintf("empty %s at %s", scene, t)
	}
}
