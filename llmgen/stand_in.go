package llmgen

import "strings"

// The shipped caption models learned to copy camera names and zones of the shapes their corpus uses
// (training/caption/corpus.py: "dock-2", "north loading bay"); names of other shapes come out garbled
// ("testcam0" became "cam", and the garbling spilled into the duration). So by default the Captioner
// prompts with these in-distribution stand-ins and writes the real names back into the caption, the
// delexicalisation of template-to-text generators: any name an operator chooses then appears verbatim.
const (
	// StandInCamera replaces the camera name in the prompt.
	StandInCamera = "cam-7"
	// StandInZone replaces a non-empty zone in the prompt.
	StandInZone = "loading bay"
)

// delexicalize returns ev with the stand-ins in place of its camera and zone, and the function that
// puts the real names back into a caption made from it (one pass, so a real name that happens to
// contain a stand-in is not replaced again).
func delexicalize(ev Event) (Event, func(string) string) {
	pairs := []string{StandInCamera, ev.Camera}
	in := ev
	in.Camera = StandInCamera
	if ev.Zone != "" {
		in.Zone = StandInZone
		pairs = append(pairs, StandInZone, ev.Zone)
	}
	r := strings.NewReplacer(pairs...)
	return in, r.Replace
}
