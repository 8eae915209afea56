package redact

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var urlCases = []struct{ in, want string }{
	{"", ""},
	{"rtsp://cam.local:554/stream", "rtsp://cam.local:554/stream"},
	{"rtsp://admin:hunter2@10.0.0.5/h264", "rtsp://admin:REDACTED@10.0.0.5/h264"},
	{"rtsp://admin:hunter2@10.0.0.5:554/stream1", "rtsp://admin:REDACTED@10.0.0.5:554/stream1"},
	{"rtsp://hunter2tok@10.0.0.5/h264", "rtsp://REDACTED@10.0.0.5/h264"},
	{"rtsp://a:b%40c@host/p?x=1", "rtsp://a:REDACTED@host/p?x=REDACTED"},
	{"rtsp://user:p@ss@host:8554/x", "rtsp://user:REDACTED@host:8554/x"},
	{"rtsp://user:pa ss@[::1/x", "rtsp://user:REDACTED@[::1/x"},
	{"rtsp://user:pa ss@[::1/x?token=hunter2&a=b", "rtsp://user:REDACTED@[::1/x?token=REDACTED&a=REDACTED"},
	{"rtsp://host/live?token=hunter2", "rtsp://host/live?token=REDACTED"},
	{"rtsp://host/live?channel=1&password=hunter2", "rtsp://host/live?channel=REDACTED&password=REDACTED"},
	{"https://hooks.example.com/alert?key=s3cr3t", "https://hooks.example.com/alert?key=REDACTED"},
	{"https://h/p?X-Amz-Signature=abc&X-Amz-Credential=def", "https://h/p?X-Amz-Signature=REDACTED&X-Amz-Credential=REDACTED"},
	{"https://h/p?access_token", "https://h/p?REDACTED"},
	{"https://h/p#access_token=abc", "https://h/p#REDACTED"},
	{"not a url user:pass@host", "REDACTED@host"},
}

func TestURL(t *testing.T) {
	for _, c := range urlCases {
		require.Equal(t, c.want, URL(c.in), c.in)
	}
}

func TestIsSecretKey(t *testing.T) {
	for _, k := range []string{"token", "password", "pass", "pwd", "key", "secret", "auth", "signature", "sig",
		"apikey", "api_key", "access_token", "X-Amz-Signature", "PASSWORD", "Authorization", "sessionid"} {
		require.True(t, IsSecretKey(k), k)
	}
	for _, k := range []string{"channel", "subtype", "width", "x", "stream"} {
		require.False(t, IsSecretKey(k), k)
	}
}

var textCases = []struct{ in, want string }{
	{"", ""},
	{"dial tcp 10.0.0.5:554: connection refused", "dial tcp 10.0.0.5:554: connection refused"},
	{`Get "https://h/x?token=abc&q=1": dial tcp: refused`, `Get "https://h/x?token=REDACTED&q=REDACTED": dial tcp: refused`},
	{"read rtsp://admin:hunter2@10.0.0.5/h264: EOF", "read rtsp://admin:REDACTED@10.0.0.5/h264: EOF"},
	{"bad request token=abc password=def channel=2", "bad request token=REDACTED password=REDACTED channel=2"},
}

func TestText(t *testing.T) {
	for _, c := range textCases {
		require.Equal(t, c.want, Text(c.in), c.in)
	}
	u, err := url.Parse("https://u:hunter2@h/x?token=abc")
	require.NoError(t, err)
	ue := &url.Error{Op: "Get", URL: u.String(), Err: errors.New("EOF")}
	got := Error(fmt.Errorf("webhook: %w", ue))
	require.NotContains(t, got, "hunter2")
	require.NotContains(t, got, "abc")
	require.Equal(t, "", Error(nil))
}

func TestSecretsScrub(t *testing.T) {
	s := NewSecrets("rtsp://admin:hunter2@10.0.0.5/h264?token=t0k3n&channel=main")
	require.Equal(t, "dial admin:REDACTED@10.0.0.5 with REDACTED failed (REDACTED), main",
		s.Scrub("dial admin:hunter2@10.0.0.5 with hunter2 failed (t0k3n), main"))
	s = NewSecrets("rtsp://admin:p%40ss%2Fw0rd@10.0.0.5/h264")
	require.Equal(t, "auth REDACTED REDACTED", s.Scrub("auth p@ss/w0rd p%40ss%2Fw0rd"))
}

// marker starts every fuzzed secret: no other part of the inputs holds it, so its presence in an
// output is a leak.
const marker = "ZQXsecret"

// positions places secret (already starting with marker) in every position the redactor must cover.
func positions(secret string) []string {
	q := url.QueryEscape(secret)
	userPass := url.UserPassword("admin", secret).String()
	user := url.User(secret).String()
	var out []string
	for _, u := range []string{
		"rtsp://" + userPass + "@10.0.0.5:554/live",
		"rtsp://" + user + "@10.0.0.5:554/live",
		"rtsp://10.0.0.5/live?token=" + q,
		"rtsp://10.0.0.5/live?channel=1&password=" + q + "&subtype=0",
		"https://hooks.example.com/x?apikey=" + q + "#sig=" + q,
		"rtsp://" + userPass + "@[::1/x?access_token=" + q, // does not parse
	} {
		out = append(out, u)
		out = append(out, (&url.Error{Op: "Get", URL: u, Err: errors.New("dial tcp: connection refused")}).Error())
		out = append(out, fmt.Sprintf("read %s: EOF", u))
	}
	out = append(out, "rtsp: 401 for token="+q+" from server")
	return out
}

func FuzzNoSecretInOutput(f *testing.F) {
	for _, c := range urlCases {
		f.Add(c.in)
	}
	for _, c := range textCases {
		f.Add(c.in)
	}
	f.Add("hunter2")
	f.Add("p@ss/w:rd?&#=% ")
	f.Fuzz(func(t *testing.T, tail string) {
		secret := marker + tail
		for _, in := range positions(secret) {
			for name, got := range map[string]string{"URL": URL(in), "Text": Text(in)} {
				if strings.Contains(got, marker) {
					t.Fatalf("%s(%q) = %q leaks the secret", name, in, got)
				}
			}
		}
		// The raw form and every escaped form, scrubbed with the URL's own Secrets.
		raw := "rtsp://" + url.UserPassword("admin", secret).String() + "@10.0.0.5/live?token=" + url.QueryEscape(secret)
		s := NewSecrets(raw)
		msg := "dial " + secret + " " + url.QueryEscape(secret) + " " + url.PathEscape(secret)
		if got := s.Scrub(msg); strings.Contains(got, marker) {
			t.Fatalf("Scrub(%q) = %q leaks the secret", msg, got)
		}
	})
}
