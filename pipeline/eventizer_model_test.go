package pipeline

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/internal/event"
)

// crossingGraph is one box of w x h pixels crossing the scripted scene's idle background left to right
// in seconds, starting at 1 s, with a second of idle after it, as [out].
func crossingGraph(w, h, seconds int) string {
	return fmt.Sprintf("[0:v]trim=end_frame=1,loop=loop=%d:size=1:start=0,setpts=N/15/TB,noise=alls=4:allf=t[bg];"+
		"color=c=0x2050d0:s=%dx%d:r=15:d=%d[box];"+
		"[bg][box]overlay=x='-%d+(448+%d)*(t-1)/%d':y='(256-%d)/2':enable='between(t,1,%d)':shortest=1[out]",
		(seconds+3)*15-1, w, h, seconds+3, w, w, seconds, h, seconds+1)
}

// TestOneCrossingIsOneEvent runs real clips through the shipped model and the serving path: one object
// crossing the view must give one object event, overlapping the crossing. The large box is the case
// that used to split into three events (object_right, a confident multi_object clip, object_right).
func TestOneCrossingIsOneEvent(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg CLI not found")
	}
	m := loadShippedModel(t)
	dir := t.TempDir()
	for _, c := range []struct {
		name       string
		build      func(t *testing.T, path string)
		start, end float64 // the crossing, seconds
	}{
		{"scripted scene", loopScene(1), 2.4, 5.6},
		{"large box", func(t *testing.T, p string) { ffmpegScene(t, p, crossingGraph(160, 160, 4)) }, 1, 5},
		{"small slow box", func(t *testing.T, p string) { ffmpegScene(t, p, crossingGraph(48, 64, 8)) }, 1, 9},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-")+".264")
			c.build(t, path)
			evs, _ := analyzeEvents(t, m, path, true)
			var objects []event.Event
			for _, ev := range evs {
				if strings.HasPrefix(ev.Label, "object_") || ev.Label == "multi_object" {
					objects = append(objects, ev)
				}
			}
			require.Len(t, objects, 1, "one crossing, one object event; events:\n%s", describe(evs))
			epoch := time.Unix(0, 0)
			start, end := objects[0].Start.Sub(epoch).Seconds(), objects[0].End.Sub(epoch).Seconds()
			require.Less(t, start, c.end, "event [%.2f, %.2f] overlaps the crossing [%.1f, %.1f]", start, end, c.start, c.end)
			require.Greater(t, end, c.start, "event [%.2f, %.2f] overlaps the crossing [%.1f, %.1f]", start, end, c.start, c.end)
		})
	}
}
