package pipeline

import (
	"fmt"
	"time"
)

// thumbnailPrompt is a stand-in for diffusion.EventPrompt until it lands.
func thumbnailPrompt(label, scene string, at time.Time) string {
	tod := "day"
	if h := at.Hour(); h < 7 || h >= 19 {
		tod = "night"
	}
	switch label {
	case "object_left":
		return fmt.Sprintf("a person moving left on the %s at %s", scene, tod)
	case "object_right":
		return fmt.Sprintf("a person moving right on the %s at %s", scene, tod)
	case "tamper":
		return fmt.Sprintf("camera tampered, lens covered, %s at %s", scene, tod)
	}
	return fmt.Sprintf("empty %s at %s", scene, tod)
}
