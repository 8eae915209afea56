package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
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

	"github.com/mvwatch/mvwatch/ingest"
	"github.com/mvwatch/mvwatch/internal/event"
	"github.com/mvwatch/mvwatch/internal/testcam"
)

// The fleet tests run mvwatch as separate processes on the loopback: an events node and two
// workers sharing NATS JetStream, watching built-in test cameras that play the scripted scene (two
// events per camera every 12.8 s). They kill -9 a worker (its cameras must run on the other within
// 10 s), kill -9 and restart the events node, and check that every event a worker's publish was
// acknowledged for ("event published" in its log) is in the store exactly once, and that events go
// on after each kill.

// buildMvwatch builds the mvwatch binary into a temporary directory.
func buildMvwatch(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "mvwatch")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "%s", out)
	return bin
}

// freePort returns a loopback host:port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

// node is one mvwatch process of the fleet.
type node struct {
	t    *testing.T
	name string
	bin  string
	args []string
	env  []string
	log  *os.File

	mu        sync.Mutex
	cmd       *exec.Cmd
	api       string          // the events node's API host:port
	metrics   string          // host:port of /metrics
	published map[string]bool // event ids the stream acknowledged, from the log
	started   map[string]time.Time
	exited    chan struct{}
	lines     []string
}

func newNode(t *testing.T, name, bin string, args, env []string) *node {
	f, err := os.Create(filepath.Join(t.TempDir(), name+".log"))
	require.NoError(t, err)
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(f.Name())
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			t.Logf("--- %s log (last 25 lines) ---\n%s", name, strings.Join(lines[max(0, len(lines)-25):], "\n"))
		}
		f.Close()
	})
	return &node{t: t, name: name, bin: bin, args: args, env: env, log: f, published: map[string]bool{}, started: map[string]time.Time{}}
}

var (
	apiRE     = regexp.MustCompile(`API http://(\S+)`)
	metricsRE = regexp.MustCompile(`metrics http://(\S+)/metrics`)
)

// start starts the process and reads its output.
func (n *node) start() {
	n.t.Helper()
	cmd := exec.Command(n.bin, n.args...)
	cmd.Env = append(os.Environ(), append([]string{"MVWATCH_LOG_FORMAT=json", "MVWATCH_API_TOKEN="}, n.env...)...)
	stdout, err := cmd.StdoutPipe()
	require.NoError(n.t, err)
	stderr, err := cmd.StderrPipe()
	require.NoError(n.t, err)
	require.NoError(n.t, cmd.Start())
	exited := make(chan struct{})
	n.mu.Lock()
	n.cmd, n.api, n.exited = cmd, "", exited
	n.mu.Unlock()
	var wg sync.WaitGroup
	read := func(r io.Reader) {
		defer wg.Done()
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			n.line(sc.Text())
		}
	}
	wg.Add(2)
	go read(stdout)
	go read(stderr)
	go func() {
		wg.Wait()
		_ = cmd.Wait()
		close(exited)
	}()
	n.t.Cleanup(func() { n.kill() })
}

func (n *node) line(l string) {
	fmt.Fprintln(n.log, l)
	n.mu.Lock()
	defer n.mu.Unlock()
	if m := apiRE.FindStringSubmatch(l); m != nil {
		n.api = m[1]
	}
	if m := metricsRE.FindStringSubmatch(l); m != nil {
		n.metrics = m[1]
	}
	var rec struct {
		Msg    string `json:"msg"`
		Event  string `json:"event"`
		Camera string `json:"camera"`
		Level  string `json:"level"`
	}
	if json.Unmarshal([]byte(l), &rec) != nil {
		return
	}
	switch rec.Msg {
	case "event published":
		n.published[rec.Event] = true
	case "camera started on this node":
		n.started[rec.Camera] = time.Now()
	}
	if rec.Level == "ERROR" {
		n.lines = append(n.lines, l)
	}
}

// kill9 kills the process at once and waits for it.
func (n *node) kill9() {
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-exited
}

// stop sends SIGTERM and waits (up to 30 s) for a clean exit.
func (n *node) stop() {
	n.t.Helper()
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.mu.Unlock()
	require.NoError(n.t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		n.t.Fatalf("%s did not exit after SIGTERM", n.name)
	}
	require.True(n.t, cmd.ProcessState.Success(), "%s exit: %v", n.name, cmd.ProcessState)
}

func (n *node) kill() {
	n.mu.Lock()
	cmd := n.cmd
	n.mu.Unlock()
	if cmd != nil && cmd.ProcessState == nil {
		_ = cmd.Process.Kill()
	}
}

func (n *node) apiAddr() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.api
}

func (n *node) publishedIDs() map[string]bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make(map[string]bool, len(n.published))
	for id := range n.published {
		out[id] = true
	}
	return out
}

// getJSON GETs the events node's API path into v.
func getJSON(addr, path string, v any) error {
	c := http.Client{Timeout: 5 * time.Second}
	res, err := c.Get("http://" + addr + path)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, res.Status)
	}
	return json.NewDecoder(res.Body).Decode(v)
}

// camState is what the test reads of GET /api/v1/cameras.
type camState struct {
	Name  string `json:"name"`
	State *struct {
		State string `json:"state"`
		Node  string `json:"node"`
	} `json:"state"`
}

func cameraNodes(addr string) (map[string]string, error) {
	var out struct {
		Cameras []camState `json:"cameras"`
	}
	if err := getJSON(addr, "/api/v1/cameras", &out); err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, c := range out.Cameras {
		if c.State != nil && c.State.State == "running" {
			m[c.Name] = c.State.Node
		} else {
			m[c.Name] = ""
		}
	}
	return m, nil
}

// storedIDs returns every event id in the store, counting each time it appears (pages followed).
func storedIDs(addr string) (map[string]int, error) {
	ids := map[string]int{}
	cursor := ""
	for {
		var page event.Page
		q := "/api/v1/events?order=asc&limit=1000"
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		if err := getJSON(addr, q, &page); err != nil {
			return nil, err
		}
		for _, ev := range page.Events {
			ids[ev.ID]++
		}
		if page.NextCursor == "" {
			return ids, nil
		}
		cursor = page.NextCursor
	}
}

// poll calls f every 100 ms until it is true or d passed.
func poll(t *testing.T, d time.Duration, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// topology says how the nodes reach NATS.
type topology struct {
	// events, w1, w2 are each node's extra serve arguments (NATS flags).
	events, w1, w2 []string
	// config is added to every node's config file (e.g. nats.replicas).
	config string
	// together starts the workers with the events node (a cluster of embedded servers needs a
	// majority up before any of them serves JetStream), not after its API is up.
	together bool
}

// fleetRun is the whole fleet scenario on a topology.
func fleetRun(t *testing.T, bin string, top topology) {
	const cameras = 4
	var camYAML strings.Builder
	for i := range cameras {
		src, err := ingest.NewAnnexBSource(testcam.SceneClip(), ingest.AnnexBOptions{Loop: true, FrameRate: testcam.SceneFrameRate})
		require.NoError(t, err)
		cam := testcam.New(testcam.Config{Address: "127.0.0.1:0", Path: fmt.Sprintf("/cam%d", i), Source: src})
		require.NoError(t, cam.Start())
		t.Cleanup(cam.Close)
		fmt.Fprintf(&camYAML, "  - name: cam%d\n    url: %s\n", i, cam.URL())
	}
	dir := t.TempDir()
	base := "captions: {enabled: false}\nthumbnails: {enabled: false}\nlisten: {rtsp_udp: \"off\"}\n"
	base += "clips: {max_bytes: 268435456}\n" // the clip bucket's bound (and each worker's clip folder's)
	base += top.config
	evCfg := filepath.Join(dir, "events.yaml")
	require.NoError(t, os.WriteFile(evCfg, []byte(base+"cameras:\n"+camYAML.String()), 0o600))
	wCfg := filepath.Join(dir, "worker.yaml")
	require.NoError(t, os.WriteFile(wCfg, []byte(base), 0o600))
	for _, n := range []string{"events", "w1", "w2"} { // each node's data directory (store, NATS)
		require.NoError(t, os.Mkdir(filepath.Join(dir, n), 0o700))
	}
	model := filepath.Join("..", "..", "models", "mfcd")
	common := []string{"-http", "127.0.0.1:0", "-rtsp", "127.0.0.1:0", "-model", model}

	events := newNode(t, "events", bin, append(append([]string{"serve", "--role", "events", "-config", evCfg,
		"-store", filepath.Join(dir, "events", "events.db")}, common...), top.events...), nil)
	w1 := newNode(t, "w1", bin, append(append([]string{"serve", "--role", "worker", "-config", wCfg, "-node", "w1",
		"-store", filepath.Join(dir, "w1", "w1.db")}, common...), top.w1...), nil)
	w2 := newNode(t, "w2", bin, append(append([]string{"serve", "--role", "worker", "-config", wCfg, "-node", "w2",
		"-store", filepath.Join(dir, "w2", "w2.db")}, common...), top.w2...), nil)
	begin := time.Now()
	events.start()
	if top.together {
		w1.start()
		w2.start()
	}
	// A worker refuses to start without NATS (a clear error, no silent wait): start them once the
	// events node (its embedded server) is up.
	poll(t, 90*time.Second, "the events node's API", func() bool { return events.apiAddr() != "" })
	if !top.together {
		w1.start()
		w2.start()
	}
	var nodes map[string]string
	poll(t, 60*time.Second, "4 cameras running, 2 on each worker", func() bool {
		var err error
		nodes, err = cameraNodes(events.apiAddr())
		per := map[string]int{}
		for _, n := range nodes {
			per[n]++
		}
		return err == nil && len(nodes) == cameras && per["w1"] == 2 && per["w2"] == 2
	})
	t.Logf("fleet up in %v: %v", time.Since(begin).Round(time.Millisecond), nodes)
	stored := func() map[string]int {
		ids, err := storedIDs(events.apiAddr())
		if err != nil {
			return nil
		}
		return ids
	}
	poll(t, 60*time.Second, "events from both workers stored", func() bool {
		ids := stored()
		in := func(p map[string]bool) bool {
			for id := range p {
				if ids[id] > 0 {
					return true
				}
			}
			return false
		}
		return in(w1.publishedIDs()) && in(w2.publishedIDs())
	})

	// The events node, which records no clip, serves a worker's clip from the clip bucket: clip_ref
	// on the event, the MP4 whole and by Range, h264 with a duration for ffprobe.
	checkClip(t, events.apiAddr())

	// kill -9 a worker: its cameras run on the other within 10 s (w2 started them: its log), and
	// the events node's API shows them running there.
	var onW1 []string
	for c, n := range nodes {
		if n == "w1" {
			onW1 = append(onW1, c)
		}
	}
	killed := time.Now()
	w1.kill9()
	var shown time.Duration
	poll(t, 20*time.Second, "w1's cameras running on w2 in the API", func() bool {
		n, err := cameraNodes(events.apiAddr())
		if err != nil {
			return false
		}
		for _, c := range n {
			if c != "w2" {
				return false
			}
		}
		shown = time.Since(killed)
		return true
	})
	var moved time.Duration
	w2.mu.Lock()
	for _, c := range onW1 {
		at, ok := w2.started[c]
		require.True(t, ok, "w2 never started %s", c)
		moved = max(moved, at.Sub(killed))
	}
	w2.mu.Unlock()
	t.Logf("w1 killed: its cameras started on w2 after %v, shown running there by the API after %v",
		moved.Round(time.Millisecond), shown.Round(time.Millisecond))
	require.Less(t, moved, 10*time.Second, "takeover")
	// The events node's metrics show the fleet's camera states too.
	poll(t, 10*time.Second, "mvwatch_bus_camera_state on the events node", func() bool {
		res, err := http.Get("http://" + events.apiAddr() + "/metrics")
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return strings.Count(string(b), `node="w2",state="running"} 1`) == cameras
	})
	before := len(w2.publishedIDs())
	poll(t, 60*time.Second, "events go on after the worker's kill", func() bool {
		ids := stored()
		n := 0
		for id := range w2.publishedIDs() {
			if ids[id] > 0 {
				n++
			}
		}
		return n >= before+2
	})

	// kill -9 the events node (and its embedded server) and start it again.
	events.kill9()
	time.Sleep(2 * time.Second) // the worker buffers meanwhile
	events.start()
	poll(t, 60*time.Second, "the events node's API again", func() bool { return events.apiAddr() != "" })
	after := len(w2.publishedIDs())
	poll(t, 60*time.Second, "events go on after the events node's restart", func() bool {
		ids := stored()
		n := 0
		for id := range w2.publishedIDs() {
			if ids[id] > 0 {
				n++
			}
		}
		return n >= after+2
	})

	// The worker's own /metrics shows the bus: every camera held, events published.
	w2.mu.Lock()
	maddr := w2.metrics
	w2.mu.Unlock()
	res, err := http.Get("http://" + maddr + "/metrics")
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Contains(t, string(body), fmt.Sprintf("mvwatch_bus_cameras_owned %d\n", cameras))
	require.Regexp(t, `mvwatch_bus_published_total [1-9]`, string(body))
	require.Regexp(t, `mvwatch_bus_clips_put_total [1-9]`, string(body), "clips put into the clip bucket")

	// Stop the last worker cleanly (its open events are sent), then compare.
	w2.stop()
	want := w1.publishedIDs()
	for id := range w2.publishedIDs() {
		want[id] = true
	}
	var ids map[string]int
	poll(t, 30*time.Second, "every published event stored", func() bool {
		ids = stored()
		if ids == nil {
			return false
		}
		for id := range want {
			if ids[id] == 0 {
				return false
			}
		}
		return true
	})
	for id, n := range ids {
		require.Equal(t, 1, n, "event %s stored %d times", id, n)
		require.True(t, want[id], "event %s stored but never published", id)
	}
	require.Len(t, ids, len(want))
	t.Logf("%d events published and stored exactly once (w1 %d, w2 %d), in %v", len(want), len(w1.publishedIDs()),
		len(w2.publishedIDs()), time.Since(begin).Round(time.Second))
	events.stop()
}

// checkClip waits for a stored event with a clip_ref, fetches its clip from the API at addr and
// checks it with ffprobe.
func checkClip(t *testing.T, addr string) {
	t.Helper()
	began := time.Now()
	var ref string
	poll(t, 60*time.Second, "an event with a clip_ref on the events node", func() bool {
		var page event.Page
		if err := getJSON(addr, "/api/v1/events?limit=100", &page); err != nil {
			return false
		}
		for _, ev := range page.Events {
			if ev.ClipRef != "" {
				ref = ev.ClipRef
				return true
			}
		}
		return false
	})
	res, err := http.Get("http://" + addr + ref)
	require.NoError(t, err)
	clip, err := io.ReadAll(res.Body)
	res.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode, "%s: %s", ref, clip)
	require.Equal(t, "video/mp4", res.Header.Get("Content-Type"))
	req, err := http.NewRequest("GET", "http://"+addr+ref, nil)
	require.NoError(t, err)
	req.Header.Set("Range", "bytes=100-199")
	res, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	part, err := io.ReadAll(res.Body)
	res.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusPartialContent, res.StatusCode)
	require.Equal(t, clip[100:200], part)
	path := filepath.Join(t.TempDir(), "clip.mp4")
	require.NoError(t, os.WriteFile(path, clip, 0o600))
	out, err := exec.Command("/usr/bin/ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
		"stream=codec_name:format=duration", "-of", "json", path).Output()
	require.NoError(t, err, "ffprobe")
	var probe struct {
		Streams []struct {
			Codec string `json:"codec_name"`
		} `json:"streams"`
		Format struct {
			Duration string `json:"duration"`
		} `json:"format"`
	}
	require.NoError(t, json.Unmarshal(out, &probe), "%s", out)
	require.Len(t, probe.Streams, 1)
	require.Equal(t, "h264", probe.Streams[0].Codec)
	var dur float64
	_, err = fmt.Sscan(probe.Format.Duration, &dur)
	require.NoError(t, err)
	require.Positive(t, dur)
	t.Logf("clip %s from the events node: %d bytes, h264, %.2f s (waited %v)", ref, len(clip), dur,
		time.Since(began).Round(time.Millisecond))
}

// TestFleetEmbeddedServer: the events node runs the embedded NATS server on a loopback port; the
// workers connect to it.
func TestFleetEmbeddedServer(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process fleet")
	}
	bin := buildMvwatch(t)
	addr := freePort(t)
	url := "nats://" + addr
	fleetRun(t, bin, topology{
		events: []string{"-nats-listen", addr, "-node", "events"},
		w1:     []string{"-nats-url", url},
		w2:     []string{"-nats-url", url},
	})
}

// long skips a fleet variant unless MVWATCH_LONG=1 (each takes 30 to 60 s of three processes).
func long(t *testing.T) {
	if os.Getenv("MVWATCH_LONG") != "1" {
		t.Skip("MVWATCH_LONG=1 runs this fleet variant")
	}
}

// TestFleetClusterOfThreeEmbeddedServers: each node runs an embedded server, the three clustered
// with routes, streams and buckets with 3 replicas; each node connects in-process to its own. The
// worker's kill -9 takes one server down (two keep the majority); the events node's takes a second
// one (no majority: the last worker buffers its events until the events node is back).
func TestFleetClusterOfThreeEmbeddedServers(t *testing.T) {
	long(t)
	bin := buildMvwatch(t)
	client := []string{freePort(t), freePort(t), freePort(t)}
	route := []string{freePort(t), freePort(t), freePort(t)}
	args := func(i int) []string {
		var others []string
		for j, r := range route {
			if j != i {
				others = append(others, "nats-route://"+r)
			}
		}
		return []string{"-nats-listen", client[i], "-nats-cluster-listen", route[i], "-nats-cluster", strings.Join(others, ",")}
	}
	fleetRun(t, bin, topology{
		events:   append(args(0), "-node", "events"),
		w1:       args(1),
		w2:       args(2),
		config:   "nats: {replicas: 3}\n",
		together: true,
	})
}

// TestFleetStandaloneNATSServer: the three nodes connect to a real standalone nats-server built
// from the module (JetStream on, its own store); no node runs a server.
func TestFleetStandaloneNATSServer(t *testing.T) {
	long(t)
	bin := buildMvwatch(t)
	srvBin := filepath.Join(t.TempDir(), "nats-server")
	cmd := exec.Command("go", "build", "-o", srvBin, "github.com/nats-io/nats-server/v2")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build nats-server: %s", out)
	addr := freePort(t)
	host, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	srv := exec.Command(srvBin, "-js", "-sd", t.TempDir(), "-a", host, "-p", port)
	logf, err := os.Create(filepath.Join(t.TempDir(), "nats-server.log"))
	require.NoError(t, err)
	defer logf.Close()
	srv.Stdout, srv.Stderr = logf, logf
	require.NoError(t, srv.Start())
	t.Cleanup(func() {
		_ = srv.Process.Kill()
		_ = srv.Wait()
	})
	poll(t, 20*time.Second, "nats-server listening", func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	url := "nats://" + addr
	fleetRun(t, bin, topology{
		events: []string{"-nats-url", url, "-node", "events"},
		w1:     []string{"-nats-url", url},
		w2:     []string{"-nats-url", url},
	})
}
