package app

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/mvextract"
)

func apiDo(t *testing.T, svc *App, method, path, body string) int {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+svc.HTTPAddr()+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer s3cret-token")
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	return res.StatusCode
}

func fleetNames(svc *App) []string {
	var names []string
	for _, c := range svc.Fleet().List() {
		names = append(names, c.Name)
	}
	slices.Sort(names)
	return names
}

// TestAPICameraChangesSurviveRestart: cameras added, replaced and removed through the API are the
// running set after a restart on the same store, whatever the config file says.
func TestAPICameraChangesSurviveRestart(t *testing.T) {
	cam := startTestCamera(t, "127.0.0.1:0")
	defer cam.Close()
	store := filepath.Join(t.TempDir(), "events.db")
	file := []config.Camera{{Name: "a", URL: cam.URL()}, {Name: "b", URL: cam.URL()}}
	svc := newTestService(t, store, &alternatingClassifier{}, file...)
	require.Equal(t, http.StatusCreated, apiDo(t, svc, "POST", "/api/v1/cameras", fmt.Sprintf(`{"name":"late","url":%q}`, cam.URL())))
	require.Equal(t, http.StatusNoContent, apiDo(t, svc, "DELETE", "/api/v1/cameras/a", ""))
	require.Equal(t, http.StatusOK, apiDo(t, svc, "PUT", "/api/v1/cameras/b", fmt.Sprintf(`{"name":"b","url":%q,"zone":"gate"}`, cam.URL())))
	require.NoError(t, svc.Close())

	svc = newTestService(t, store, &alternatingClassifier{}, file...)
	defer svc.Close()
	require.Equal(t, []string{"b", "late"}, fleetNames(svc), "the API's changes after a restart")
	b, err := svc.Fleet().Get("b")
	require.NoError(t, err)
	require.Equal(t, "gate", b.Zone)
	eventually(t, 10*time.Second, func() bool {
		st, err := svc.Fleet().State("late")
		return err == nil && st.FramesDecoded > 5
	}, "the camera added through the API runs after the restart")
}

// TestReloadAppliesTheDifference: a reloaded file's camera changes are applied (added, removed,
// changed) with the API's recorded changes still on top, and other sections are reported.
func TestReloadAppliesTheDifference(t *testing.T) {
	cam := startTestCamera(t, "127.0.0.1:0")
	defer cam.Close()
	file := []config.Camera{{Name: "a", URL: cam.URL()}, {Name: "b", URL: cam.URL()}, {Name: "gone", URL: cam.URL()}}
	svc := newTestService(t, filepath.Join(t.TempDir(), "events.db"), &alternatingClassifier{}, file...)
	defer svc.Close()
	require.Equal(t, http.StatusNoContent, apiDo(t, svc, "DELETE", "/api/v1/cameras/gone", ""))

	next := *svc.cfg
	next.Log.Level = "debug"
	next.Cameras = []config.Camera{{Name: "b", URL: cam.URL(), Zone: "yard"}, {Name: "c", URL: cam.URL()}, {Name: "gone", URL: cam.URL()}}
	for i := range next.Cameras {
		require.NoError(t, next.Cameras[i].Validate(next.Gate))
	}
	d, err := svc.Reload(context.Background(), &next)
	require.NoError(t, err)
	require.Equal(t, "cameras added [c], removed [a], changed [b]; sections changed [log]", d.String())
	require.Equal(t, []string{"b", "c"}, fleetNames(svc), "gone stays removed: the API removed it")
	b, err := svc.Fleet().Get("b")
	require.NoError(t, err)
	require.Equal(t, "yard", b.Zone)

	// Reloading the same file again changes nothing.
	d, err = svc.Reload(context.Background(), &next)
	require.NoError(t, err)
	require.True(t, d.Empty(), "%s", d)
}

// TestReloadThroughTheAPI: POST /api/v1/config/reload applies the file as SIGHUP does, needs an admin,
// and a file that does not load answers 422 and changes nothing.
func TestReloadThroughTheAPI(t *testing.T) {
	cam := startTestCamera(t, "127.0.0.1:0")
	defer cam.Close()
	cfg := config.Default()
	cfg.Listen.HTTP, cfg.Listen.RTSP, cfg.Listen.RTSPUDP = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.Store.Path = filepath.Join(t.TempDir(), "events.db")
	cfg.APIToken = "s3cret-token"
	cfg.Cameras = []config.Camera{{Name: "a", URL: cam.URL()}}
	require.NoError(t, cfg.Cameras[0].Validate(cfg.Gate))
	var next *config.Config
	var loadErr error
	svc, err := New(Options{Config: cfg, Classifier: &alternatingClassifier{},
		Features: mvextract.FeatureSpec{Clip: mvextract.ClipConfig{Length: 4, Width: 16, Height: 16}},
		Registry: prometheus.NewRegistry(), Logger: quietLogger(),
		LoadConfig: func() (*config.Config, error) { return next, loadErr }})
	require.NoError(t, err)
	require.NoError(t, svc.Start())
	defer svc.Close()

	n := *cfg
	n.Cameras = []config.Camera{{Name: "a", URL: cam.URL()}, {Name: "b", URL: cam.URL()}}
	for i := range n.Cameras {
		require.NoError(t, n.Cameras[i].Validate(n.Gate)) // defaults applied, as config.Load does
	}
	next = &n
	post := func() (int, string) {
		req, _ := http.NewRequest("POST", "http://"+svc.HTTPAddr()+"/api/v1/config/reload", nil)
		req.Header.Set("Authorization", "Bearer s3cret-token")
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	code, body := post()
	require.Equal(t, http.StatusOK, code, body)
	require.JSONEq(t, `{"changes":"cameras added [b]","added":["b"],"removed":[],"changed":[],"restart_needed":[]}`, body)
	require.Equal(t, []string{"a", "b"}, fleetNames(svc))

	loadErr = fmt.Errorf("mvwatch.yaml:3: cameras[0].url: required")
	code, body = post()
	require.Equal(t, http.StatusUnprocessableEntity, code, body)
	require.Contains(t, body, "cameras[0].url: required")
	require.Equal(t, []string{"a", "b"}, fleetNames(svc))
}
