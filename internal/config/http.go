package config

import (
	"fmt"
	"strings"
)

// HTTP holds the HTTP server's limits (its timeouts are fixed: see package internal/httpserver).
type HTTP struct {
	// MaxConnections caps the open HTTP connections; more wait in the kernel's accept queue. 1..100000.
	// It defaults to 512.
	MaxConnections int `yaml:"max_connections" json:"max_connections"`
	// MaxSSESubscribers caps the live event streams (/api/v1/events/live) open at once; more get 429.
	// 1..100000. It defaults to 64.
	MaxSSESubscribers int `yaml:"max_sse_subscribers" json:"max_sse_subscribers"`
	// AllowedHosts lists host names an open API (neither users nor api_token) answers to, besides IP
	// addresses and localhost; requests for other names get 403 (protection against DNS rebinding,
	// which would let a web page reach an open API on loopback). It defaults to none.
	AllowedHosts []string `yaml:"allowed_hosts" json:"allowed_hosts,omitempty"`
}

// HTTP defaults.
const (
	DefaultMaxConnections    = 512
	DefaultMaxSSESubscribers = 64
	maxHTTPLimit             = 100000
)

func (h *HTTP) applyDefaults() {
	if h.MaxConnections == 0 {
		h.MaxConnections = DefaultMaxConnections
	}
	if h.MaxSSESubscribers == 0 {
		h.MaxSSESubscribers = DefaultMaxSSESubscribers
	}
}

func (h HTTP) validate(p *problems) {
	if h.MaxConnections < 1 || h.MaxConnections > maxHTTPLimit {
		p.bad("http.max_connections", "must be 1..%d, not %d", maxHTTPLimit, h.MaxConnections)
	}
	if h.MaxSSESubscribers < 1 || h.MaxSSESubscribers > maxHTTPLimit {
		p.bad("http.max_sse_subscribers", "must be 1..%d, not %d", maxHTTPLimit, h.MaxSSESubscribers)
	}
	for i, host := range h.AllowedHosts {
		if host == "" || len(host) > 253 || strings.Trim(strings.ToLower(host), "abcdefghijklmnopqrstuvwxyz0123456789.-") != "" {
			p.bad(fmt.Sprintf("http.allowed_hosts[%d]", i), "want a host name such as nvr.lan (letters, digits, '.', '-'), got %q", host)
		}
	}
	if h.MaxSSESubscribers >= h.MaxConnections && h.MaxConnections >= 1 {
		p.bad("http.max_sse_subscribers", "must be below http.max_connections (%d), or streams can take every connection", h.MaxConnections)
	}
}
