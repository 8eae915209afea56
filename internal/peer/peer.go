// Package peer finds the peer reference material (../shared/peer/mv-extractor beside the repository) for
// the tests of several packages. It lives under internal/ because only tests use it and no top-level room
// of the service fits a test-only helper.
package peer

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir returns the mv-extractor peer directory: $MVWATCH_PEER_DIR, else shared/peer/mv-extractor found
// beside the repository (walking up from the working directory). The test fails when it is missing: CI
// always has it, so a missing copy is a broken checkout, not a reason to skip.
func Dir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("MVWATCH_PEER_DIR"); d != "" {
		return d
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		for _, c := range []string{filepath.Join(d, "shared", "peer", "mv-extractor"), filepath.Join(d, "..", "shared", "peer", "mv-extractor")} {
			if st, err := os.Stat(c); err == nil && st.IsDir() {
				return c
			}
		}
		if filepath.Dir(d) == d {
			t.Fatalf("peer reference not found: set MVWATCH_PEER_DIR or put shared/peer/mv-extractor beside the repository")
		}
	}
}

// Set is one reference set: the video and the folder of its expected outputs.
type Set struct {
	Name  string // h264, mpeg4_part2, rtsp
	Video string // file name in Dir
}

// Sets lists the three reference sets.
var Sets = []Set{
	{Name: "h264", Video: "vid_h264.mp4"},
	{Name: "mpeg4_part2", Video: "vid_mpeg4_part2.mp4"},
	{Name: "rtsp", Video: "vid_h264.264"},
}

// Path returns a file of a reference set, e.g. Path(t, "h264", "frame_types.txt").
func Path(t testing.TB, set, file string) string {
	return filepath.Join(Dir(t), "reference", set, file)
}
