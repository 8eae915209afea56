package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/internal/config"

	"github.com/mvwatch/mvwatch/internal/store"

	"github.com/mvwatch/mvwatch/internal/event/eventtest"
)

// FuzzParseEventQuery feeds arbitrary query strings to the events query parser, then runs every query
// it accepts against a real store: parsing never panics and an accepted query never fails.
func FuzzParseEventQuery(f *testing.F) {
	for _, s := range []string{
		"", "limit=5&order=asc", "camera=door&label=person&min_score=0.5",
		"from=2026-11-26T09:00:00Z&to=2026-11-26T11:00:00.5+01:00", "cursor=18eb8ffe93b7400087c28f04",
		"min_score=NaN", "limit=-1", "order=sideways", "from=0001-01-01T00:00:00Z", "to=9999-12-31T23:59:59Z",
		"cursor=%00", "min_score=1e400&limit=1001",
	} {
		f.Add(s)
	}
	s, err := store.Open(filepath.Join(f.TempDir(), "ev.db"), store.Options{})
	require.NoError(f, err)
	f.Cleanup(func() { require.NoError(f, s.Close()) })
	require.NoError(f, s.Publish(f.Context(), eventtest.New("door", "person", 0.9, eventtest.T0)))
	f.Fuzz(func(t *testing.T, raw string) {
		r := &http.Request{URL: &url.URL{RawQuery: raw}}
		q, err := parseEventQuery(r)
		if err != nil {
			return
		}
		require.True(t, q.Limit >= 0 && q.Limit <= 1000)
		require.True(t, q.MinScore >= 0 && q.MinScore <= 1)
		page, err := s.Query(q)
		require.NoError(t, err)
		require.LessOrEqual(t, len(page.Events), 1)
	})
}

// FuzzCameraJSON feeds arbitrary bodies to the camera decoder and validator used by POST and PUT:
// no panic, and an accepted camera has a valid name, URL and enums.
func FuzzCameraJSON(f *testing.F) {
	for _, s := range []string{
		`{"name":"door","url":"rtsp://u:p@127.0.0.1:8554/door"}`,
		`{"name":"yard","url":"rtsps://h/x","transport":"udp","enabled":false,"hwaccel":"qsv","gate":{"alpha":0.2,"min_hold":"3s"}}`,
		`{"name":"f","url":"file:///clips/a.mp4","gate":{"min_hold":2.5}}`,
		`{"name":"","url":""}`, `{"name":"x","url":"rtsp://[::1"}`, `{"gate":{"on_factor":-1}}`, `[]`, `null`, `{"name":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var c config.Camera
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if dec.Decode(&c) != nil {
			return
		}
		err := c.Validate(config.DefaultGate())
		if err != nil {
			require.True(t, errors.Is(err, config.ErrInvalid))
			return
		}
		require.True(t, config.ValidName(c.Name))
		require.NoError(t, config.CheckCameraURL(c.URL))
		require.Contains(t, []string{"tcp", "udp", "auto"}, c.Transport)
		again := c
		require.NoError(t, again.Validate(config.DefaultGate()), "validation is idempotent")
		// The redacted view still validates and keeps the name.
		r := c.Redacted()
		require.Equal(t, c.Name, r.Name)
		require.NoError(t, config.CheckCameraURL(r.URL))
	})
}
