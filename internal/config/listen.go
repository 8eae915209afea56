package config

import (
	"fmt"
	"strconv"
)

// Listen holds the addresses mvwatch listens on. Port 0 asks the system for a free port (tests).
//
// Left out, HTTP and RTSP listen on loopback only (127.0.0.1) while no credential is configured
// (neither api_token nor users): an open API or restream is then reachable from this machine only.
// With a credential, or with an address set explicitly (file, env or flag), that address is used.
type Listen struct {
	// HTTP is the HTTP API address. It defaults to "127.0.0.1:8080", or ":8080" (all interfaces) when
	// api_token or users are set. Env: MVWATCH_HTTP_ADDR. Flag: -http.
	HTTP string `yaml:"http" json:"http"`
	// RTSP is the restream server address (TCP). It defaults to "127.0.0.1:8554", or ":8554" when
	// api_token or users are set. Env: MVWATCH_RTSP_ADDR. Flag: -rtsp.
	RTSP string `yaml:"rtsp" json:"rtsp"`
	// RTSPUDP is the restream's UDP RTP address; RTCP uses the next port, so the port must be even.
	// "off" disables UDP viewers. It defaults to the host of RTSP with port 8000 (port 0, a free pair,
	// when RTSP's port is 0).
	RTSPUDP string `yaml:"rtsp_udp" json:"rtsp_udp"`
}

// Listen defaults.
const (
	DefaultHTTPPort    = "8080"
	DefaultRTSPPort    = "8554"
	DefaultRTSPUDPPort = "8000"
	// LoopbackHost is where HTTP and RTSP listen by default while no credential is configured.
	LoopbackHost = "127.0.0.1"
	// UDPOff disables the restream's UDP transport (listen.rtsp_udp).
	UDPOff = "off"
)

// applyDefaults fills the addresses left out; it runs after the environment and flags, since a
// token given there decides between loopback and all interfaces.
func (l *Listen) applyDefaults(authConfigured bool) {
	host := LoopbackHost
	if authConfigured {
		host = ""
	}
	setStr(&l.HTTP, host+":"+DefaultHTTPPort)
	setStr(&l.RTSP, host+":"+DefaultRTSPPort)
	if l.RTSPUDP == "" {
		h, port, ok := splitHostPort(l.RTSP)
		if !ok {
			return // listen.rtsp is reported by validate
		}
		udpPort := DefaultRTSPUDPPort
		if port == "0" {
			udpPort = "0"
		}
		if h != "" && !isHostname(h) {
			h = "[" + h + "]"
		}
		l.RTSPUDP = h + ":" + udpPort
	}
}

// isHostname reports whether h needs no brackets in host:port (not an IPv6 literal).
func isHostname(h string) bool {
	for _, r := range h {
		if r == ':' {
			return false
		}
	}
	return true
}

func (l Listen) validate(p *problems) {
	if err := CheckListenAddr(l.HTTP); err != nil {
		p.bad("listen.http", "%v", err)
	}
	if err := CheckListenAddr(l.RTSP); err != nil {
		p.bad("listen.rtsp", "%v", err)
	}
	if l.RTSPUDP != UDPOff {
		if err := checkUDPAddr(l.RTSPUDP); err != nil {
			p.bad("listen.rtsp_udp", "%v", err)
		}
	}
}

// checkUDPAddr checks an RTP address whose next port carries RTCP.
func checkUDPAddr(addr string) error {
	if err := CheckListenAddr(addr); err != nil {
		return fmt.Errorf("%w (or %q)", err, UDPOff)
	}
	_, port, _ := splitHostPort(addr)
	n, _ := strconv.Atoi(port)
	if n != 0 && (n%2 != 0 || n >= 65535) {
		return fmt.Errorf("the RTP port must be even and below 65535 (RTCP uses the next one), not %d", n)
	}
	return nil
}
