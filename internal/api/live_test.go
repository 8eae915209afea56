package api

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/internal/event"

	"github.com/mvwatch/mvwatch/internal/event/eventtest"
)

// sseEvent is one parsed Server-Sent Event.
type sseEvent struct{ id, event, data string }

// sseReader parses an event stream, skipping comments and retry fields.
type sseReader struct{ r *bufio.Reader }

func (s *sseReader) next() (sseEvent, error) {
	var ev sseEvent
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return ev, err
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if ev.event != "" || ev.data != "" {
				return ev, nil
			}
		case strings.HasPrefix(line, ":"), strings.HasPrefix(line, "retry:"):
		case strings.HasPrefix(line, "id: "):
			ev.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			ev.event = line[7:]
		case strings.HasPrefix(line, "data: "):
			ev.data = line[6:]
		}
	}
}

func (f *apiFixture) openLive(t *testing.T, query string, hdr ...string) (*http.Response, *sseReader) {
	t.Helper()
	req, err := http.NewRequest("GET", f.srv.URL+"/api/v1/events/live"+query, nil)
	require.NoError(t, err)
	if f.token != "" {
		req.Header.Set("Authorization", "Bearer "+f.token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := f.srv.Client().Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	return resp, &sseReader{r: bufio.NewReader(resp.Body)}
}

func TestAPILiveEvents(t *testing.T) {
	f := newAPIFixture(t, "secret-token")
	_, all := f.openLive(t, "")
	_, yard := f.openLive(t, "?camera=yard&min_score=0.8")
	require.Eventually(t, func() bool { return f.hub.Subscribers() == 2 }, 5*time.Second, time.Millisecond)

	a := eventtest.New("door", "person", 0.9, eventtest.T0)
	b := eventtest.New("yard", "car", 0.85, eventtest.T0.Add(time.Second))
	c := eventtest.New("yard", "car", 0.5, eventtest.T0.Add(2*time.Second))
	for _, ev := range []event.Event{a, b, c} {
		f.publish(t, ev)
	}
	for _, want := range []event.Event{a, b, c} {
		got, err := all.next()
		require.NoError(t, err)
		require.Equal(t, "event", got.event)
		require.Equal(t, want.ID, got.id)
		var ev event.Event
		require.NoError(t, json.Unmarshal([]byte(got.data), &ev))
		require.Equal(t, want.Label, ev.Label)
	}
	got, err := yard.next()
	require.NoError(t, err)
	require.Equal(t, b.ID, got.id, "filters apply")

	// A client resuming with Last-Event-ID first gets the stored events after it.
	_, resumed := f.openLive(t, "", "Last-Event-ID", a.ID)
	for _, want := range []string{b.ID, c.ID} {
		got, err := resumed.next()
		require.NoError(t, err)
		require.Equal(t, want, got.id)
	}

	// Closing the hub (shutdown) ends every stream.
	f.hub.Close()
	_, err = all.next()
	require.ErrorIs(t, err, io.EOF)
}

func TestAPILiveSlowClientIsToldAboutDrops(t *testing.T) {
	f := newAPIFixture(t, "")
	resp, _ := f.openLive(t, "")
	require.Eventually(t, func() bool { return f.hub.Subscribers() == 1 }, 5*time.Second, time.Millisecond)
	// Publish far more than the subscriber buffer (4) plus the socket buffers hold, without reading.
	big := strings.Repeat("x", 60<<10)
	for i := 0; i < 200; i++ {
		ev := eventtest.New("door", "person", 0.9, eventtest.T0.Add(time.Duration(i)*time.Millisecond))
		ev.Caption = big
		f.hub.Publish(ev)
	}
	require.Greater(t, testutil.ToFloat64(f.hubM.Drops), 0.0)
	// Now read: somewhere in the stream a "dropped" event tells the client.
	r := &sseReader{r: bufio.NewReaderSize(resp.Body, 1<<20)}
	sawDropped := false
	for i := 0; i < 200 && !sawDropped; i++ {
		ev, err := r.next()
		require.NoError(t, err)
		sawDropped = ev.event == "dropped"
	}
	require.True(t, sawDropped)
}

func TestAPIHubCloseUnblocksServerShutdown(t *testing.T) {
	f := newAPIFixture(t, "")
	f.openLive(t, "")
	require.Eventually(t, func() bool { return f.hub.Subscribers() == 1 }, 5*time.Second, time.Millisecond)
	done := make(chan struct{})
	go func() { f.hub.Close(); f.srv.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("server did not close with a live stream open")
	}
}
