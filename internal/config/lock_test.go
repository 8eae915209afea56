package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const testHash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

// lockErrorCases are invalid users, HTTP limits, listen addresses and camera policies with the exact
// problem each must report; they seed the fuzzer.
var lockErrorCases = []struct {
	name, in, want string
}{
	{"user name", "users:\n  - name: 'a b'\n    token_sha256: " + testHash + "\n", `c.yaml:2: users[0].name: must be 1 to 64 of A-Z a-z 0-9 _ -, not "a b"`},
	{"user missing name", "users:\n  - token_sha256: " + testHash + "\n", `c.yaml:2: users[0].name: required`},
	{"user dup", "users:\n  - name: a\n    token_sha256: " + testHash + "\n  - name: a\n    token_sha256: " + testHash + "\n", `c.yaml:4: users[1].name: duplicate user name "a" (also users[0])`},
	{"user role", "users:\n  - name: a\n    role: root\n    token_sha256: " + testHash + "\n", `c.yaml:3: users[0].role: must be viewer or admin, not "root"`},
	{"user token missing", "users:\n  - name: a\n", `c.yaml:2: users[0].token_sha256: required (mvwatch hash-token makes a token and its hash)`},
	{"user token plain", "users:\n  - name: a\n    token_sha256: hunter2\n", `c.yaml:3: users[0].token_sha256: must be 64 hex digits (the SHA-256 of the token)`},
	{"user digest", "users:\n  - name: a\n    token_sha256: " + testHash + "\n    rtsp_digest_md5: xyz\n", `c.yaml:4: users[0].rtsp_digest_md5: must be 32 hex digits (the MD5 of "NAME:mvwatch:TOKEN")`},
	{"user unknown field", "users:\n  - name: a\n    token: hunter2\n", `c.yaml:3: users[0]: unknown field "token"`},
	{"max conns", "http:\n  max_connections: -1\n", "c.yaml:2: http.max_connections: must be 1..100000, not -1"},
	{"sse cap", "http:\n  max_sse_subscribers: 1000000\n", "c.yaml:2: http.max_sse_subscribers: must be 1..100000, not 1000000"},
	{"sse below conns", "http:\n  max_connections: 10\n  max_sse_subscribers: 10\n", "c.yaml:3: http.max_sse_subscribers: must be below http.max_connections (10), or streams can take every connection"},
	{"allowed host", "http:\n  allowed_hosts: [nvr.lan, 'a b']\n", `c.yaml:2: http.allowed_hosts[1]: want a host name such as nvr.lan (letters, digits, '.', '-'), got "a b"`},
	{"udp odd", "listen:\n  rtsp_udp: ':8001'\n", "c.yaml:2: listen.rtsp_udp: the RTP port must be even and below 65535 (RTCP uses the next one), not 8001"},
	{"udp bad", "listen:\n  rtsp_udp: 'on'\n", `c.yaml:2: listen.rtsp_udp: want host:port such as ":8080", got "on" (or "off")`},
	{"policy scheme", "camera_policy:\n  schemes: [rtsp, http]\n", `c.yaml:2: camera_policy.schemes[1]: must be one of rtsp, rtsps, not "http"`},
	{"policy no scheme", "camera_policy:\n  schemes: []\n", `c.yaml:2: camera_policy.schemes: must list at least one of rtsp, rtsps`},
	{"policy port", "camera_policy:\n  ports: [554, 70000]\n", `c.yaml:2: camera_policy.ports[1]: must be 1..65535, not 70000`},
	{"policy cidr", "camera_policy:\n  deny_networks: [10.0.0.0/33]\n", `c.yaml:2: camera_policy.deny_networks[0]: want a CIDR range such as 169.254.0.0/16, got "10.0.0.0/33"`},
	{"metadata camera", "cameras:\n  - name: a\n    url: rtsp://169.254.169.254/latest\n", `c.yaml:3: cameras[0].url: address 169.254.169.254 is in 169.254.0.0/16 of camera_policy.deny_networks: denied by camera_policy`},
	{"mapped metadata camera", "cameras:\n  - name: a\n    url: 'rtsp://[::ffff:169.254.169.254]/x'\n", `c.yaml:3: cameras[0].url: address 169.254.169.254 is in 169.254.0.0/16 of camera_policy.deny_networks: denied by camera_policy`},
	{"decimal ip camera", "cameras:\n  - name: a\n    url: rtsp://2852039166/x\n", `c.yaml:3: cameras[0].url: host looks like an IP address in a non-standard form: write it as a dotted quad (a.b.c.d)`},
	{"rtsps denied", "camera_policy:\n  schemes: [rtsp]\ncameras:\n  - name: a\n    url: rtsps://h/x\n", `c.yaml:5: cameras[0].url: scheme must be one of rtsp, not "rtsps"`},
	{"port denied", "camera_policy:\n  ports: [554, 8554]\ncameras:\n  - name: a\n    url: rtsp://h:22/x\n", `c.yaml:5: cameras[0].url: port 22 is not in camera_policy.ports: denied by camera_policy`},
	{"default port denied", "camera_policy:\n  ports: [8554]\ncameras:\n  - name: a\n    url: rtsp://h/x\n", `c.yaml:5: cameras[0].url: port 554 is not in camera_policy.ports: denied by camera_policy`},
}

func TestParseLockErrors(t *testing.T) {
	for _, tc := range lockErrorCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(tc.in), Options{})
			require.ErrorIs(t, err, ErrInvalid)
			require.Contains(t, strings.Split(err.Error(), "\n"), tc.want, "all problems:\n%v", err)
		})
	}
}

func TestUsersParse(t *testing.T) {
	in := "users:\n  - name: alice\n    token_sha256: " + testHash + "\n  - name: bob\n    role: admin\n    token_sha256: " + strings.ToUpper(testHash) +
		"\n    rtsp_digest_md5: 0123456789abcdef0123456789abcdef\n"
	cfg, err := Parse("c.yaml", []byte(in), Options{})
	require.NoError(t, err)
	require.Equal(t, []User{
		{Name: "alice", Role: RoleViewer, TokenSHA256: testHash},
		{Name: "bob", Role: RoleAdmin, TokenSHA256: strings.ToUpper(testHash), RTSPDigestMD5: "0123456789abcdef0123456789abcdef"},
	}, cfg.Users)
	require.True(t, cfg.AuthConfigured())
	require.Equal(t, ":8080", cfg.Listen.HTTP, "users configured: all interfaces")
	require.Equal(t, ":8554", cfg.Listen.RTSP)
	require.Equal(t, ":8000", cfg.Listen.RTSPUDP)
	r := cfg.String()
	require.NotContains(t, r, "0123456789abcdef0123456789abcdef", "the digest is token-equivalent")
	back, err := Parse("c.yaml", []byte(r), Options{})
	require.NoError(t, err)
	require.Equal(t, "", back.Users[1].RTSPDigestMD5)
}

// TestListenDefaults: loopback unless a credential is configured (file, env) or the address is given.
func TestListenDefaults(t *testing.T) {
	env := func(kv ...string) func(string) (string, bool) {
		return func(k string) (string, bool) {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1], true
				}
			}
			return "", false
		}
	}
	for _, tc := range []struct {
		name, in  string
		opts      Options
		http, udp string
	}{
		{"nothing", "", Options{}, "127.0.0.1:8080", "127.0.0.1:8000"},
		{"token in file", "api_token: abc\n", Options{}, ":8080", ":8000"},
		{"token in env", "", Options{LookupEnv: env("MVWATCH_API_TOKEN", "abc")}, ":8080", ":8000"},
		{"explicit", "listen:\n  http: ':8080'\n  rtsp: '[::1]:0'\n", Options{}, ":8080", "[::1]:0"},
		{"flag", "", Options{Flags: Flags{HTTP: "0.0.0.0:9000", RTSP: "10.1.1.1:554"}}, "0.0.0.0:9000", "10.1.1.1:8000"},
		{"udp off", "listen:\n  rtsp_udp: 'off'\n", Options{}, "127.0.0.1:8080", "off"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse("c.yaml", []byte(tc.in), tc.opts)
			require.NoError(t, err)
			require.Equal(t, tc.http, cfg.Listen.HTTP)
			require.Equal(t, tc.udp, cfg.Listen.RTSPUDP)
		})
	}
}

func TestCameraPolicy(t *testing.T) {
	var def CameraPolicy // zero: the defaults
	for _, tc := range []struct {
		url  string
		deny bool
	}{
		{"rtsp://10.0.0.5:554/s", false},
		{"rtsp://127.0.0.1:8554/s", false},
		{"rtsps://cam.local/s", false},
		{"rtsp://169.254.169.254/", true},
		{"rtsp://[fe80::1%25eth0]:554/", true},
		{"rtsp://[fd00:ec2::254]/", true},
		{"rtsp://0.0.0.0:554/", true},
		{"rtsp://239.1.1.1/", true},
	} {
		err := def.CheckURL(tc.url)
		if tc.deny {
			require.ErrorIs(t, err, ErrCameraDenied, tc.url)
		} else {
			require.NoError(t, err, tc.url)
		}
	}
	require.Error(t, def.CheckURL("file:///etc/passwd"))
	require.Error(t, def.CheckURL("http://h/"))
	err := def.CheckURL("rtsp://u:hunter2@169.254.169.254/")
	require.NotContains(t, err.Error(), "hunter2")

	// The dialer check, after resolution.
	require.ErrorIs(t, def.DialControl("tcp", "169.254.169.254:554", nil), ErrCameraDenied)
	require.ErrorIs(t, def.DialControl("tcp6", "[::ffff:169.254.169.254]:554", nil), ErrCameraDenied)
	require.NoError(t, def.DialControl("tcp", "192.168.1.20:554", nil))
	ports := CameraPolicy{Ports: []int{554}}
	require.ErrorIs(t, ports.DialControl("tcp", "192.168.1.20:22", nil), ErrCameraDenied)
	open := CameraPolicy{DenyNetworks: []string{}}
	require.NoError(t, open.CheckURL("rtsp://169.254.1.1/"), "an empty deny list denies nothing")

	// A policy from the config.
	cfg, err := Parse("c.yaml", []byte("camera_policy:\n  deny_networks: [10.0.0.0/8]\n"), Options{})
	require.NoError(t, err)
	require.ErrorIs(t, cfg.CameraPolicy.CheckURL("rtsp://10.2.3.4/"), ErrCameraDenied)
	require.NoError(t, cfg.CameraPolicy.CheckURL("rtsp://169.254.169.254/"), "the list replaces the defaults")
	require.True(t, errors.Is(cfg.CameraPolicy.DialControl("tcp", "10.9.9.9:554", nil), ErrCameraDenied))
}

func FuzzCameraPolicyCheckURL(f *testing.F) {
	for _, s := range []string{"rtsp://10.0.0.5:554/s", "rtsp://169.254.169.254/", "rtsp://[::ffff:a9fe:a9fe]/", "rtsp://0x7f.1/", "rtsps://u:p@h:0/"} {
		f.Add(s)
	}
	var p CameraPolicy
	f.Fuzz(func(t *testing.T, raw string) {
		err := p.CheckURL(raw)
		if err == nil {
			require.NoError(t, CheckCameraURL(raw), "the policy only narrows what validation accepts")
		}
	})
}
