package testcam

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/ingest"
)

// fleetChildEnv makes the test binary a fleet child (TestFleetChild) instead of running the tests.
const fleetChildEnv = "MVWATCH_TESTCAM_FLEET_CHILD"

// TestFleetChild is the child process of TestRemoteFleet: two cameras driven over stdin/stdout.
func TestFleetChild(t *testing.T) {
	if os.Getenv(fleetChildEnv) == "" {
		t.Skip("runs only as TestRemoteFleet's child")
	}
	next := ingest.PhasedSources(DefaultClip(), ingest.AnnexBOptions{}, 7)
	f, err := StartFleet(2, func(int) (Source, error) { return next() }, nil)
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, f.ServeControl(os.Stdin, os.Stdout))
}

func TestRemoteFleet(t *testing.T) {
	ffprobe, err := exec.LookPath("ffprobe")
	if err != nil {
		t.Skip("ffprobe not installed")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestFleetChild$")
	cmd.Env = append(os.Environ(), fleetChildEnv+"=1")
	cmd.Stderr = os.Stderr
	r, err := StartRemoteFleet(cmd)
	require.NoError(t, err)
	defer func() { require.NoError(t, r.Close()) }()
	require.Len(t, r.URLs(), 2)
	require.NotEqual(t, r.URLs()[0], r.URLs()[1], "each camera on its own port")
	st, err := r.Stats()
	require.NoError(t, err)
	require.Equal(t, []uint64{0, 0}, st.Sent, "nothing sent before a reader plays")

	// A real RTSP client reads the second camera from the other process.
	out, err := exec.Command(ffprobe, "-v", "error", "-rtsp_transport", "tcp", "-show_entries", "stream=codec_name,width,height",
		"-of", "csv=p=0", r.URLs()[1]).CombinedOutput()
	require.NoError(t, err, string(out))
	require.Equal(t, "h264,640,360", strings.TrimSpace(string(out)))
	require.Eventually(t, func() bool {
		st, err = r.Stats()
		return err == nil && st.Sent[1] > 0
	}, 10*time.Second, 20*time.Millisecond)
	require.Zero(t, st.Sent[0], "the camera nobody read sent nothing")
}

func TestFleetControlRefusesUnknownRequests(t *testing.T) {
	f, err := StartFleet(1, func(int) (Source, error) { return annexB(t, DefaultClip()), nil }, nil)
	require.NoError(t, err)
	defer f.Close()
	var out strings.Builder
	err = f.ServeControl(strings.NewReader("stats\nreboot\n"), &out)
	require.ErrorContains(t, err, `unknown request "reboot"`)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 2, "the hello and one stats line")
	require.Contains(t, lines[0], `"urls":["rtsp://127.0.0.1:`)
	require.Equal(t, `{"sent":[0],"dropped":[0]}`, lines[1])
}
