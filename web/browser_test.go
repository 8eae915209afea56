package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/ingest"
	"github.com/mvwatch/mvwatch/internal/app"
	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/event"
	"github.com/mvwatch/mvwatch/internal/testcam"
	"github.com/mvwatch/mvwatch/internal/zone"
	"github.com/mvwatch/mvwatch/mvextract"
	"github.com/mvwatch/mvwatch/pipeline"
)

const testToken = "dashboard-test-token"

// burstClassifier is the test seam for the event path (not the model, which the pipeline's and cmd's
// tests run): it answers "idle" until burst is called, then "object_left" for a moment, so the test
// decides when an event happens.
type burstClassifier struct{ until atomic.Int64 }

func (c *burstClassifier) Classify(context.Context, []float32) (pipeline.Classification, error) {
	if time.Now().UnixNano() < c.until.Load() {
		return pipeline.Classification{Label: "object_left", Score: 0.95, ExitStage: 1}, nil
	}
	return pipeline.Classification{Label: "idle", Score: 0.9}, nil
}

func (c *burstClassifier) burst() { c.until.Store(time.Now().Add(time.Second).UnixNano()) }

// findChromium returns the browser to drive, or skips (fails in CI) when there is none.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("MVWATCH_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium not found: CI must run the browser tests (scripts/setup.sh installs Debian's chromium)")
	}
	t.Skip("chromium not found: skipping the browser tests (install Debian's chromium, as scripts/setup.sh does; in CI this fails)")
	return ""
}

// startService runs the real service on random ports with n built-in test cameras playing the scripted
// scene over real RTSP.
func startService(t *testing.T, cls pipeline.Classifier, n int) *app.App {
	t.Helper()
	cfg := config.Default()
	cfg.Listen.HTTP, cfg.Listen.RTSP = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Store.Path = filepath.Join(t.TempDir(), "events.db")
	cfg.APIToken = testToken
	off := false
	cfg.Gate.Enabled = &off // every clip goes to the classifier
	for i := range n {
		src, err := ingest.NewAnnexBSource(testcam.SceneClip(), ingest.AnnexBOptions{Loop: true, FrameRate: testcam.SceneFrameRate})
		require.NoError(t, err)
		cam := testcam.New(testcam.Config{Address: "127.0.0.1:0", Path: fmt.Sprintf("/testcam%d", i), Source: src})
		require.NoError(t, cam.Start())
		t.Cleanup(cam.Close)
		cfg.Cameras = append(cfg.Cameras, config.Camera{Name: fmt.Sprintf("testcam%d", i), URL: cam.URL(), Zone: "front yard"})
	}
	svc, err := app.New(app.Options{Config: cfg, Classifier: cls,
		Features: mvextract.FeatureSpec{Clip: mvextract.ClipConfig{Length: 4, Width: 16, Height: 16}},
		Registry: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	require.NoError(t, svc.Start())
	t.Cleanup(func() { require.NoError(t, svc.Close()) })
	return svc
}

// apiStatus is the status of an authenticated API GET.
func apiStatus(t *testing.T, svc *app.App, path string) int {
	t.Helper()
	req, err := http.NewRequest("GET", "http://"+svc.HTTPAddr()+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+testToken)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

// apiJSON decodes an authenticated API GET.
func apiJSON(t *testing.T, svc *app.App, path string, v any) {
	t.Helper()
	req, err := http.NewRequest("GET", "http://"+svc.HTTPAddr()+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+testToken)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.NoError(t, json.NewDecoder(res.Body).Decode(v))
}

// browser starts a headless Chromium; it stops with the test, or at the timeout.
func browser(t *testing.T, timeout time.Duration) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(findChromium(t)), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.WindowSize(1280, 860), chromedp.Flag("force-prefers-reduced-motion", true))
	ctx, cancelTimeout := context.WithTimeout(context.Background(), timeout)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancelBrowser(); cancelAlloc(); cancelTimeout() })
	require.NoError(t, chromedp.Do(bctx)) // start the browser now, so its start-up is no step's
	return bctx
}

// stepTimeout bounds each group of browser steps, so a failure names its step and shows the page.
const stepTimeout = 20 * time.Second

// do runs browser steps and fails the test on the first error, showing what the page showed.
func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(sctx, steps...); err != nil {
		page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.hash + "\n" + document.body.innerText`))
		t.Fatalf("browser: %v\npage:\n%s", err, page)
	}
}

// run runs one browser action that returns a value.
func run[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	require.NoError(t, err)
	return v
}

// css is a CSS selector (the first match).
func css(sel string) chromedp.CSS { return chromedp.CSS(sel) }

// visible waits until the element at sel is visible.
func visible(sel string) chromedp.Action[chromedp.Void] { return chromedp.WaitVisible(css(sel)) }

func click(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Click(css(sel), chromedp.NodeVisible)
}

func keys(sel, v string) chromedp.Action[chromedp.Void] {
	return chromedp.SendKeys(css(sel), v, chromedp.NodeVisible)
}

// watchCSP records the page's Content-Security-Policy violations in window.cspViolations.
func watchCSP() chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Evaluate[any](`window.cspViolations = [];
			document.addEventListener('securitypolicyviolation', (e) => window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI))`)(ctx, tg)
		return err
	})
}

// colorScheme emulates the system's light or dark setting.
func colorScheme(scheme string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
		return err
	})
}

// setValue replaces an input's value, as typing over it would.
func setValue(sel, v string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Evaluate[any](fmt.Sprintf(`document.querySelector(%q).value = %q`, sel, v))(ctx, tg)
		return err
	})
}

// screenshots saves full-page PNGs into docs/screenshots when MVWATCH_SCREENSHOTS=1.
type screenshots struct{ on bool }

func (s screenshots) take(name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if !s.on {
			return nil
		}
		png, err := chromedp.FullScreenshot(100)(ctx, tg)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join("..", "docs", "screenshots", name+".png"), png, 0o644)
	})
}

// goTo moves the page to a dashboard route (the URL fragment) and waits for sel.
func goTo(hash, sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[any](fmt.Sprintf("location.hash = %q", hash))(ctx, tg)
			return err
		}),
		visible(sel))
}

// imageLoaded waits until the image at sel has decoded pixels.
func imageLoaded(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Poll[bool](fmt.Sprintf(`(() => { const i = document.querySelector(%q); return !!i && i.complete && i.naturalWidth > 0; })()`, sel),
			chromedp.WithPollingTimeout(10*time.Second))(ctx, tg)
		return err
	})
}

// TestDashboardInBrowser drives the real dashboard in a real Chromium against the real service and its
// test cameras: log in, the fleet, a live event on the timeline, the event and camera pages, adding a
// camera with an invalid field first, removing it, logging out.
func TestDashboardInBrowser(t *testing.T) {
	start := time.Now()
	ctx := browser(t, 90*time.Second)
	cls := &burstClassifier{}
	svc := startService(t, cls, 2)
	base := "http://" + svc.HTTPAddr() + "/"
	shots := screenshots{on: os.Getenv("MVWATCH_SCREENSHOTS") == "1"}
	if shots.on {
		require.NoError(t, os.MkdirAll(filepath.Join("..", "docs", "screenshots"), 0o755))
	}

	// One event before the browser comes, so the pages have history and a keyframe: once both cameras
	// decode, burst until one is stored.
	require.Eventually(t, func() bool {
		for _, name := range []string{"testcam0", "testcam1"} {
			if st, err := svc.Fleet().State(name); err != nil || st.FramesDecoded == 0 {
				return false
			}
		}
		return true
	}, 30*time.Second, 50*time.Millisecond, "both test cameras decoding")
	var burstAt time.Time
	require.Eventually(t, func() bool {
		if time.Since(burstAt) > 4*time.Second {
			cls.burst()
			burstAt = time.Now()
		}
		page, err := svc.Store().Query(event.Query{Limit: 1})
		return err == nil && len(page.Events) > 0
	}, 30*time.Second, 50*time.Millisecond, "a first event")

	// Log in: a wrong token is refused, the right one opens a session whose cookie JavaScript cannot read.
	do(t, ctx, chromedp.Navigate(base), visible("#token"), watchCSP(), shots.take("login"),
		keys("#token", "wrong"), click(`#login button[type=submit]`), visible("#login-error"))
	require.Equal(t, "Wrong token.", run(t, ctx, chromedp.Text(css("#login-error"))))
	do(t, ctx, setValue("#token", testToken), click(`#login button[type=submit]`),
		visible(`#fleet tr[data-camera="testcam0"] .badge.state-running`),
		visible(`#fleet tr[data-camera="testcam1"] .badge.state-running`),
		visible(`#live.on`))
	require.Empty(t, run(t, ctx, chromedp.Evaluate[string](`document.cookie`)), "the session cookie is HttpOnly")
	require.Equal(t, "[0,0]", run(t, ctx, chromedp.Evaluate[string](`JSON.stringify([localStorage.length, sessionStorage.length])`)),
		"the token is kept in no storage of the page")
	do(t, ctx, visible(`#fleet tr[data-camera="testcam0"] a[href^="#/events/"]`), // its last event
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error { // fps from two polls
			_, err := chromedp.Poll[bool](`parseFloat(document.querySelector('#fleet tr[data-camera="testcam0"] td.num').textContent) > 1`,
				chromedp.WithPollingTimeout(10*time.Second))(ctx, tg)
			return err
		}),
		shots.take("fleet"))
	// The dark theme follows the system setting.
	do(t, ctx, colorScheme("dark"))
	require.Equal(t, "rgb(15, 18, 22)", run(t, ctx, chromedp.Evaluate[string](`getComputedStyle(document.body).backgroundColor`)))
	do(t, ctx, shots.take("fleet-dark"), colorScheme("light"))
	require.Equal(t, "rgb(246, 247, 249)", run(t, ctx, chromedp.Evaluate[string](`getComputedStyle(document.body).backgroundColor`)))
	fleetText := run(t, ctx, chromedp.Text(css("#fleet")))
	require.Contains(t, fleetText, "object_left")
	require.Contains(t, fleetText, "front yard")

	// The timeline: a new event arrives live (SSE), without a reload, and opens.
	do(t, ctx, goTo("#/events", "#timeline li"))
	require.Zero(t, run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll('#timeline li.new').length`)))
	cls.burst()
	do(t, ctx, visible("#timeline li.new"), imageLoaded("#timeline li.new img.thumb"))
	require.Equal(t, "object_left", run(t, ctx, chromedp.Text(css("#timeline li.new .label"))))
	do(t, ctx, shots.take("events"), click("#timeline li.new a"), visible("#event-keyframe"), imageLoaded("#event-keyframe"))
	// Its clip plays (stored a post-roll after the event; the page asks until it is): the video's
	// time advances and a decoded frame is not blank; the track boxes' canvas lies over it.
	evID := run(t, ctx, chromedp.Evaluate[string](`location.hash.split('/').pop()`))
	do(t, ctx, visible("#event-clip"), poll(`(() => {
			const v = document.getElementById('event-clip');
			if (!v || v.readyState < 2 || v.currentTime < 1 || v.videoWidth === 0) return false;
			const c = document.createElement('canvas'); c.width = 64; c.height = 36;
			const g = c.getContext('2d'); g.drawImage(v, 0, 0, 64, 36);
			const d = g.getImageData(0, 0, 64, 36).data;
			let lo = 255, hi = 0;
			for (let i = 0; i < d.length; i += 4) { const y = 0.3 * d[i] + 0.59 * d[i + 1] + 0.11 * d[i + 2]; lo = Math.min(lo, y); hi = Math.max(hi, y); }
			return hi - lo > 40;
		})()`), visible("#event-boxes"), imageLoaded("#event-keyframe"), shots.take("event"))
	clip := run(t, ctx, chromedp.Evaluate[[]float64](`(() => { const v = document.getElementById('event-clip');
		return [v.currentTime, v.duration, v.videoWidth, v.videoHeight]; })()`))
	t.Logf("event clip in the browser: played to %.2f s of %.2f s, %gx%g", clip[0], clip[1], clip[2], clip[3])
	require.Positive(t, clip[1])
	require.Equal(t, []float64{448, 256}, clip[2:], "the clip has the camera's picture size")
	var withClip event.Event
	apiJSON(t, svc, "/api/v1/events/"+evID, &withClip)
	require.Equal(t, event.ClipPath(evID), withClip.ClipRef)
	// An event with a tracked object: its box is drawn over the playing clip (yellow on the canvas).
	tracked := withClip
	tracked.ID, tracked.ClipRef = event.NewEventID(withClip.Start.Add(time.Millisecond)), ""
	tracked.Tracks = []event.EventTrack{{ID: 7, Box: zone.Box{X0: 0.3, Y0: 0.3, X1: 0.6, Y1: 0.7}, Direction: "right", Speed: 0.2, Seconds: 1.5}}
	require.NoError(t, svc.Store().Publish(context.Background(), tracked))
	f, _, err := svc.Clips().Store().Open(evID)
	require.NoError(t, err)
	_, err = svc.Clips().Store().Put(tracked.ID, func(path string) error {
		data, err := io.ReadAll(f)
		if err != nil {
			return err
		}
		return os.WriteFile(path, data, 0o600)
	})
	require.NoError(t, f.Close())
	require.NoError(t, err)
	do(t, ctx, goTo("#/events/"+tracked.ID, "#event-clip"), poll(`(() => {
			const v = document.getElementById('event-clip'), c = document.getElementById('event-boxes');
			if (!v || v.currentTime < 0.5 || !c.width) return false;
			const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
			let yellow = 0;
			for (let i = 0; i < d.length; i += 4) if (d[i] > 200 && d[i + 1] > 180 && d[i + 2] < 80 && d[i + 3] > 200) yellow++;
			return yellow > 100;
		})()`), shots.take("event-tracked"))
	require.Contains(t, run(t, ctx, chromedp.Text(css("#event-media"))), "Track boxes (1")

	// The camera page: state, reconnects and the latest keyframe.
	// And its live video over WebRTC: time advances and a decoded frame is not blank.
	do(t, ctx, goTo("#/cameras/testcam0", "#camera-state dl"), visible("#snapshot"), imageLoaded("#snapshot"),
		poll(`(() => {
			const v = document.getElementById('live-video');
			if (!v || v.readyState < 2 || v.currentTime < 1) return false;
			const c = document.createElement('canvas'); c.width = 64; c.height = 36;
			const g = c.getContext('2d'); g.drawImage(v, 0, 0, 64, 36);
			const d = g.getImageData(0, 0, 64, 36).data;
			let lo = 255, hi = 0;
			for (let i = 0; i < d.length; i += 4) { const y = 0.3 * d[i] + 0.59 * d[i + 1] + 0.11 * d[i + 2]; lo = Math.min(lo, y); hi = Math.max(hi, y); }
			return hi - lo > 40 && v.videoWidth > 0;
		})()`),
		shots.take("camera"))
	require.Contains(t, run(t, ctx, chromedp.Text(css("#live-status"))), "Live")
	// The browser's share of the live view's latency: from a frame's last packet received to its
	// presentation (jitter buffer, decode, compositing), the median of 30 frames.
	recvToShow := run(t, ctx, chromedp.Evaluate[float64](`new Promise((resolve) => {
		const v = document.getElementById('live-video'), d = [];
		const f = (now, m) => {
			if (m.receiveTime !== undefined) d.push(m.presentationTime - m.receiveTime);
			if (d.length >= 30) resolve(d.sort((a, b) => a - b)[15]); else v.requestVideoFrameCallback(f);
		};
		v.requestVideoFrameCallback(f);
		setTimeout(() => resolve(-1), 5000);
	})`, chromedp.EvalAwaitPromise))
	t.Logf("live view in the browser: packet received to frame presented, median of 30 frames: %.1f ms", recvToShow)
	require.Equal(t, "0", run(t, ctx, chromedp.Text(css("#camera-reconnects"))))

	// Draw a mask on testcam1's picture and save it: the API has it after.
	do(t, ctx, goTo("#/cameras/testcam1/zones", "#zones-overlay"), imageLoaded("#zones-picture"))
	box := run(t, ctx, chromedp.Evaluate[[]float64](`(() => { const r = document.getElementById('zones-overlay').getBoundingClientRect();
		return [r.left, r.top, r.width, r.height]; })()`))
	want := [][]float64{{0.1, 0.1}, {0.4, 0.1}, {0.25, 0.5}}
	for _, p := range want {
		do(t, ctx, chromedp.MouseClickXY(box[0]+p[0]*box[2], box[1]+p[1]*box[3]))
	}
	do(t, ctx, click("#finish-polygon"), click("#save-zones"),
		poll(`document.getElementById('zones-status').textContent.startsWith('Saved 1 masks')`), shots.take("zones"))
	var saved struct{ Masks [][][]float64 }
	apiJSON(t, svc, "/api/v1/cameras/testcam1", &saved)
	require.Len(t, saved.Masks, 1)
	require.Len(t, saved.Masks[0], 3)
	for i, p := range want {
		require.InDelta(t, p[0], saved.Masks[0][i][0], 0.01)
		require.InDelta(t, p[1], saved.Masks[0][i][1], 0.01)
	}

	// Add a camera: an invalid URL first (the API's message shows by the field), then a good one.
	do(t, ctx, goTo("#/cameras/new", "#camera-form"), keys("#name", "door"), keys("#url", "http://door.example/stream"),
		keys("#zone", "back door"), click("#save"), visible("#error-url"), shots.take("camera-form"))
	require.Contains(t, run(t, ctx, chromedp.Text(css("#error-url"))), "scheme must be one of rtsp, rtsps")
	require.Equal(t, http.StatusNotFound, apiStatus(t, svc, "/api/v1/cameras/door"))
	do(t, ctx, setValue("#url", "rtsp://127.0.0.1:9/door"), click("#save"), visible("#remove-camera"),
		visible("#camera-state dl"))
	require.Equal(t, http.StatusOK, apiStatus(t, svc, "/api/v1/cameras/door"))

	// Remove it, from its page.
	do(t, ctx, click("#remove-camera"), click("#confirm-remove"), visible(`#fleet tr[data-camera="testcam0"]`))
	require.Equal(t, http.StatusNotFound, apiStatus(t, svc, "/api/v1/cameras/door"))
	require.Zero(t, run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll('#fleet tr[data-camera="door"]').length`)))

	// Edit a camera: the form sends back what it does not show (gate, zones, masks) unchanged.
	do(t, ctx, goTo("#/cameras/testcam1/edit", "#camera-form"), setValue("#zone", "porch"), click("#save"),
		visible("#remove-camera"), poll(`document.getElementById('camera-state')?.textContent.includes('porch')`))
	var edited struct {
		Zone  string
		Masks [][][]float64
	}
	apiJSON(t, svc, "/api/v1/cameras/testcam1", &edited)
	require.Equal(t, "porch", edited.Zone)
	require.Len(t, edited.Masks, 1, "the mask drawn above survives the edit")

	// The API's field-path messages map to the form's fields.
	require.JSONEq(t, `{"fields":{"url":"scheme must be one of rtsp, rtsps","gate":"gate.alpha: must be 0 to 1"},"rest":["duplicate"]}`,
		run(t, ctx, chromedp.Evaluate[string](`import('/js/api.js').then(m => JSON.stringify(m.fieldErrors(
			'invalid camera: cameras[0].url: scheme must be one of rtsp, rtsps; gate.alpha: must be 0 to 1; duplicate', ['url', 'gate'])))`,
			chromedp.EvalAwaitPromise)))
	require.Equal(t, "[]", run(t, ctx, chromedp.Evaluate[string](`JSON.stringify(window.cspViolations)`)), "the pages keep to the Content-Security-Policy")

	// Log out: the session is gone server-side, the API refuses the browser again.
	do(t, ctx, click("#logout"), visible("#token"))
	require.Equal(t, http.StatusUnauthorized,
		run(t, ctx, chromedp.Evaluate[int](`fetch('/api/v1/cameras').then(r => r.status)`, chromedp.EvalAwaitPromise)))
	t.Logf("browser test took %s", time.Since(start).Round(time.Millisecond))
}
