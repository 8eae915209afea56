package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/internal/event"
	evstore "github.com/mvwatch/mvwatch/internal/store"
)

// TestServeSIGTERMKeepsEvents runs the real `mvwatch serve` (default: the built-in camera playing the
// scripted scene, the shipped models), reads live events over SSE until one comes back captioned (the
// default config turns captions on), sends SIGTERM, and checks that the process exits cleanly and that
// every event it had sent live is in the store afterwards, captions included.
func TestServeSIGTERMKeepsEvents(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "mvwatch")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "%s", out)
	store := filepath.Join(dir, "events.db")
	cmd := exec.Command(bin, "serve", "-http", "127.0.0.1:0", "-rtsp", "127.0.0.1:0", "-store", store,
		"-model", filepath.Join("..", "..", "models", "mfcd"))
	cmd.Env = append(cmd.Environ(), "MVWATCH_API_TOKEN=")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
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
	require.NotEmpty(t, addr, "serve printed no address")
	go func() { // keep draining stdout
		for lines.Scan() {
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/api/v1/events/live", nil)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var mu sync.Mutex
	var seen []event.Event
	gotCaption := make(chan struct{}, 1)
	go func() {
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var ev event.Event
				if json.Unmarshal([]byte(data), &ev) == nil {
					mu.Lock()
					seen = append(seen, ev)
					mu.Unlock()
					if ev.Caption != "" {
						select {
						case gotCaption <- struct{}{}:
						default:
						}
					}
				}
			}
		}
	}()
	select {
	case <-gotCaption:
	case <-ctx.Done():
		t.Fatal("no captioned live event within a minute")
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait(), "serve exits cleanly on SIGTERM")

	st, err := evstore.Open(store, evstore.Options{})
	require.NoError(t, err)
	defer st.Close()
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, seen)
	for _, ev := range seen {
		got, err := st.Get(ev.ID)
		require.NoError(t, err, "event %s (%s) was sent live but is not stored", ev.ID, ev.Label)
		require.Equal(t, ev.Label, got.Label)
		if ev.Caption != "" {
			require.Equal(t, ev.Caption, got.Caption, "a caption sent live is stored")
		}
	}
}

// TestServeExplicitStageWithoutModelFails: a stage enabled explicitly in the config whose model is
// missing stops `mvwatch serve` at start-up with an error naming the stage and the directory.
func TestServeExplicitStageWithoutModelFails(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "mvwatch")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "%s", out)
	missing := filepath.Join(dir, "no-caption-model")
	cfg := filepath.Join(dir, "mvwatch.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("listen:\n  http: 127.0.0.1:0\n  rtsp: 127.0.0.1:0\n"+
		"store:\n  path: "+filepath.Join(dir, "ev.db")+"\ncaptions:\n  enabled: true\n  target_dir: "+missing+"\n"), 0o600))
	cmd := exec.Command(bin, "serve", "-config", cfg, "-model", filepath.Join("..", "..", "models", "mfcd"))
	out, err = cmd.CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "%s", out)
	require.Equal(t, 1, exit.ExitCode())
	require.Contains(t, string(out), "captions enabled but not available")
	require.Contains(t, string(out), missing)
}
