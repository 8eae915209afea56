package config

import (
	"log/slog"
	"maps"
	"slices"

	"gopkg.in/yaml.v3"

	"github.com/mvwatch/mvwatch/internal/redact"
)

// redactedMark replaces secrets in rendered configs.
const redactedMark = redact.Mark

// redactURL is the project's one URL redactor (package internal/redact, a leaf like config).
func redactURL(raw string) string { return redact.URL(raw) }

// Redacted returns a copy of c (sharing only its pointer fields) with every secret (API token, webhook
// secrets, users' RTSP digests, passwords and query values in URLs) replaced, safe to log or render.
func (c *Config) Redacted() *Config {
	r := *c
	if r.APIToken != "" {
		r.APIToken = redactedMark
	}
	r.Users = make([]User, len(c.Users))
	for i, u := range c.Users {
		u.RTSPDigestMD5 = "" // equivalent to the token for RTSP Digest
		r.Users[i] = u
	}
	if c.Users == nil {
		r.Users = nil
	}
	r.HTTP.AllowedHosts = slices.Clone(c.HTTP.AllowedHosts)
	r.CameraPolicy.Schemes = slices.Clone(c.CameraPolicy.Schemes)
	r.CameraPolicy.Ports = slices.Clone(c.CameraPolicy.Ports)
	r.CameraPolicy.DenyNetworks = slices.Clone(c.CameraPolicy.DenyNetworks)
	r.Webhooks = make([]Webhook, len(c.Webhooks))
	for i, w := range c.Webhooks {
		w.URL = redactURL(w.URL)
		if w.Secret != "" {
			w.Secret = redactedMark
		}
		w.Labels = slices.Clone(w.Labels)
		r.Webhooks[i] = w
	}
	r.Cameras = make([]Camera, len(c.Cameras))
	for i, cam := range c.Cameras {
		r.Cameras[i] = cam.Redacted()
	}
	r.MQTT = c.MQTT.redacted()
	r.NATS = c.NATS.redacted()
	r.Thresholds.Labels = maps.Clone(c.Thresholds.Labels)
	return &r
}

// String renders the redacted config as YAML.
func (c *Config) String() string {
	b, err := yaml.Marshal(c.Redacted())
	if err != nil {
		return "config: " + err.Error()
	}
	return string(b)
}

// LogValue makes slog log the redacted config.
func (c *Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// Redacted returns c with the password and query values of its URL replaced.
func (c Camera) Redacted() Camera {
	c.URL = redactURL(c.URL)
	return c
}

// LogValue makes slog log the camera's name and redacted URL only.
func (c Camera) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", c.Name), slog.String("url", redactURL(c.URL)))
}
