package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/ingest"
	"github.com/mvwatch/mvwatch/internal/testcam"
)

// TestServeSIGHUPReloadsCameras runs the real `mvwatch serve -config F`, adds a camera to F and
// removes another, sends SIGHUP and checks that the running set follows the file without a restart,
// that a broken file is reported and changes nothing, and that SIGTERM still exits cleanly.
func TestServeSIGHUPReloadsCameras(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "mvwatch")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "%s", out)
	src, err := ingest.NewAnnexBSource(testcam.DefaultClip(), ingest.AnnexBOptions{Loop: true})
	require.NoError(t, err)
	cam := testcam.New(testcam.Config{Address: "127.0.0.1:0", Source: src})
	require.NoError(t, cam.Start())
	defer cam.Close()

	cfgPath := filepath.Join(dir, "mvwatch.yaml")
	write := func(cams ...string) {
		var b bytes.Buffer
		fmt.Fprintf(&b, "listen:\n  http: 127.0.0.1:0\n  rtsp: 127.0.0.1:0\nstore:\n  path: %s\ncaptions:\n  enabled: false\nthumbnails:\n  enabled: false\ncameras:\n", filepath.Join(dir, "ev.db"))
		for _, c := range cams {
			fmt.Fprintf(&b, "  - name: %s\n    url: %s\n", c, cam.URL())
		}
		require.NoError(t, os.WriteFile(cfgPath, b.Bytes(), 0o600))
	}
	write("one", "two")
	cmd := exec.Command(bin, "serve", "-config", cfgPath, "-model", filepath.Join("..", "..", "models", "mfcd"))
	cmd.Env = append(cmd.Environ(), "MVWATCH_API_TOKEN=")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var logs syncBuffer
	cmd.Stderr = &logs
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill() }()
	addrRE := regexp.MustCompile(`API http://(\S+)`)
	lines := bufio.NewScanner(stdout)
	var addr string
	for addr == "" && lines.Scan() {
		if m := addrRE.FindStringSubmatch(lines.Text()); m != nil {
			addr = m[1]
		}
	}
	require.NotEmpty(t, addr, "serve printed no address; stderr:\n%s", logs.String())
	go func() {
		for lines.Scan() { // drain stdout until the process ends
		}
	}()
	names := func() []string {
		res, err := http.Get("http://" + addr + "/api/v1/cameras")
		if err != nil {
			return nil
		}
		defer res.Body.Close()
		var list struct{ Cameras []struct{ Name string } }
		if json.NewDecoder(res.Body).Decode(&list) != nil {
			return nil
		}
		var out []string
		for _, c := range list.Cameras {
			out = append(out, c.Name)
		}
		slices.Sort(out)
		return out
	}
	require.Eventually(t, func() bool { return slices.Equal(names(), []string{"one", "two"}) }, 20*time.Second, 50*time.Millisecond)

	write("two", "three")
	require.NoError(t, cmd.Process.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool { return slices.Equal(names(), []string{"three", "two"}) }, 20*time.Second, 50*time.Millisecond,
		"cameras after SIGHUP: %v\n%s", names(), logs.String())
	require.Eventually(t, func() bool {
		return bytes.Contains([]byte(logs.String()), []byte("cameras added [three], removed [one]"))
	},
		5*time.Second, 50*time.Millisecond, "%s", logs.String())

	require.NoError(t, os.WriteFile(cfgPath, []byte("cameras: [oops\n"), 0o600))
	require.NoError(t, cmd.Process.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool { return bytes.Contains([]byte(logs.String()), []byte("reload: config not applied")) },
		10*time.Second, 50*time.Millisecond, "%s", logs.String())
	require.Equal(t, []string{"three", "two"}, names(), "a broken file changes nothing")

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait(), "serve exits cleanly on SIGTERM after reloads; stderr:\n%s", logs.String())
}

// syncBuffer is a bytes.Buffer safe for the process's writer and the test's reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }
