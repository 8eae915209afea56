package ingest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mvwatch/mvwatch/internal/media"
	"github.com/mvwatch/mvwatch/internal/testcam"
	"github.com/stretchr/testify/require"
)

// querySecret is the token and password that cameras take in their URL's query string in these
// tests; no log line, state or error may show it.
const querySecret = "s3cret"

// refusingCamera is an RTSP server that answers every request with 404 and a status text that echoes
// the request's URL, query string included, as some cameras do: the client's reason for the retry then
// quotes the secret unless it is redacted.
func refusingCamera(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer conn.Close()
				_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
				r := textproto.NewReader(bufio.NewReader(conn))
				for {
					line, err := r.ReadLine()
					if err != nil {
						return
					}
					hdr, err := r.ReadMIMEHeader()
					if err != nil {
						return
					}
					_, rest, _ := strings.Cut(line, " ")
					u, _, _ := strings.Cut(rest, " ")
					if _, err := fmt.Fprintf(conn, "RTSP/1.0 404 No stream at %s\r\nCSeq: %s\r\n\r\n", u, hdr.Get("Cseq")); err != nil {
						return
					}
				}
			})
		}
	})
	return ln.Addr().String()
}

// requireNoSecret fails if the secret shows in the logs, the client's state or err.
func requireNoSecret(t *testing.T, logs string, st ClientState, err error) {
	t.Helper()
	require.NotContains(t, logs, querySecret, "logs")
	require.NotContains(t, st.URL, querySecret, "state URL")
	require.NotContains(t, st.Reason, querySecret, "state reason")
	require.NotContains(t, fmt.Sprintf("%+v", st), querySecret, "state")
	if err != nil {
		require.NotContains(t, err.Error(), querySecret, "error")
	}
}

// TestClientRetriesHideQuerySecrets runs real clients against cameras that are absent or refuse the
// stream, with a token and a password in the query string: they retry, and neither the captured log
// output nor the state's URL and reason show the secret.
func TestClientRetriesHideQuerySecrets(t *testing.T) {
	for name, addr := range map[string]string{"absent": closedPort(t), "refusing": refusingCamera(t)} {
		t.Run(name, func(t *testing.T) {
			logger, logs := captureLog()
			url := "rtsp://" + addr + "/live?channel=1&token=" + querySecret + "&password=" + querySecret
			c := newTestClient(t, ClientConfig{URL: url, OnAccessUnit: func(media.AccessUnit) {}, Log: logger})
			c.Start()
			eventually(t, 10*time.Second, func() bool { return c.State().Reconnects >= 2 }, "retries")
			st := c.State()
			require.NoError(t, c.Close())
			require.NotEmpty(t, st.Reason)
			require.Contains(t, logs.String(), "camera unavailable, will retry")
			require.Contains(t, st.URL, "token=REDACTED")
			if name == "refusing" {
				require.Contains(t, st.Reason, "404", "the camera's answer is in the reason")
				require.Contains(t, logs.String(), "No stream at")
			}
			requireNoSecret(t, logs.String(), st, nil)
		})
	}
}

// TestClientFailuresHideQuerySecrets covers the permanent failures, whose errors Run returns: a URL
// the client refuses, and a camera that wants credentials the URL does not carry.
func TestClientFailuresHideQuerySecrets(t *testing.T) {
	cam := startCamera(t, testcam.Config{User: "viewer", Pass: "other", Path: "/private"})
	cases := map[string]struct {
		url  string
		want error
	}{
		"scheme":       {"http://" + cam.Addr() + "/private?token=" + querySecret, ErrBadURL},
		"no host":      {"rtsp:///private?password=" + querySecret, ErrBadURL},
		"unauthorized": {"rtsp://" + cam.Addr() + "/private?token=" + querySecret, ErrUnauthorized},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			logger, logs := captureLog()
			c := newTestClient(t, ClientConfig{URL: tc.url, OnAccessUnit: func(media.AccessUnit) {}, Log: logger})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := c.Run(ctx)
			require.ErrorIs(t, err, tc.want)
			st := c.State()
			require.Equal(t, StateFailed, st.State)
			require.Contains(t, logs.String(), "camera failed")
			requireNoSecret(t, logs.String(), st, err)
			require.False(t, errors.Is(err, context.DeadlineExceeded))
		})
	}
}
