package config

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// MQTT publishes events, camera state and availability to an MQTT broker, with Home Assistant
// discovery. It is off unless URL is set.
type MQTT struct {
	// URL is the broker: mqtt:// or tcp:// (plain, port 1883 by default), mqtts:// or ssl:// (TLS, port
	// 8883 by default). It defaults to empty: MQTT off. Its user info and query are secret.
	URL string `yaml:"url" json:"url,omitempty"`
	// Username and Password authenticate to the broker; they default to the URL's user info, if any.
	// Env: MVWATCH_MQTT_PASSWORD. The password is never logged or rendered.
	Username string `yaml:"username" json:"username,omitempty"`
	Password string `yaml:"password" json:"password,omitempty"`
	// ClientID is the MQTT client identifier: 1 to 64 of [A-Za-z0-9_-]. It defaults to "mvwatch".
	ClientID string `yaml:"client_id" json:"client_id"`
	// TopicPrefix starts every topic mvwatch publishes (see package internal/mqtt): 1 to 64 of
	// [A-Za-z0-9_-]. It defaults to "mvwatch".
	TopicPrefix string `yaml:"topic_prefix" json:"topic_prefix"`
	// Discovery publishes Home Assistant MQTT discovery configs (a binary sensor per camera and label, a
	// camera entity per camera). It defaults to true.
	Discovery *bool `yaml:"discovery" json:"discovery,omitempty"`
	// DiscoveryPrefix is Home Assistant's discovery prefix. It defaults to "homeassistant".
	DiscoveryPrefix string `yaml:"discovery_prefix" json:"discovery_prefix"`
	// OffDelay is how long a camera-and-label binary sensor stays on after an event ends, 1s..1h. It
	// defaults to 30s.
	OffDelay Duration `yaml:"off_delay" json:"off_delay,omitempty"`
	// QoS is the MQTT quality of service of every publication, 0..2. It defaults to 0: retained state
	// topics carry the current state anyway, and paho.mqtt.golang v1.5.1 races (go test -race) when it
	// resends QoS 1/2 messages that were in flight at a reconnect.
	QoS *int `yaml:"qos" json:"qos,omitempty"`
	// CAFile is a PEM file of certificate authorities for a TLS broker. It defaults to the system pool.
	CAFile string `yaml:"ca_file" json:"ca_file,omitempty"`
	// CertFile and KeyFile are a PEM client certificate and key for brokers that want one.
	CertFile string `yaml:"cert_file" json:"cert_file,omitempty"`
	KeyFile  string `yaml:"key_file" json:"key_file,omitempty"`
	// Queue bounds the publications waiting while the broker is away; beyond it the oldest are dropped
	// and counted. It defaults to 1024.
	Queue int `yaml:"queue" json:"queue,omitempty"`
}

// MQTT defaults.
const (
	DefaultMQTTClientID        = "mvwatch"
	DefaultMQTTTopicPrefix     = "mvwatch"
	DefaultMQTTDiscoveryPrefix = "homeassistant"
	DefaultMQTTOffDelay        = 30 * time.Second
	DefaultMQTTQoS             = 0
	DefaultMQTTQueue           = 1024
)

// Enabled reports whether a broker is configured.
func (m MQTT) Enabled() bool { return m.URL != "" }

// DiscoveryOn reports whether Home Assistant discovery is on.
func (m MQTT) DiscoveryOn() bool { return m.Discovery == nil || *m.Discovery }

// QoSLevel is QoS with its default applied.
func (m MQTT) QoSLevel() byte {
	if m.QoS == nil {
		return DefaultMQTTQoS
	}
	return byte(*m.QoS)
}

// TLS reports whether the URL's scheme asks for TLS.
func (m MQTT) TLS() bool {
	u, err := url.Parse(m.URL)
	return err == nil && (strings.EqualFold(u.Scheme, "mqtts") || strings.EqualFold(u.Scheme, "ssl"))
}

func (m *MQTT) applyDefaults() {
	setStr(&m.ClientID, DefaultMQTTClientID)
	setStr(&m.TopicPrefix, DefaultMQTTTopicPrefix)
	setStr(&m.DiscoveryPrefix, DefaultMQTTDiscoveryPrefix)
	if m.OffDelay == 0 {
		m.OffDelay = Duration(DefaultMQTTOffDelay)
	}
	if m.Queue == 0 {
		m.Queue = DefaultMQTTQueue
	}
}

func (m MQTT) validate(p *problems) {
	if m.URL != "" {
		if err := checkURL(m.URL, "mqtt", "tcp", "mqtts", "ssl"); err != nil {
			p.bad("mqtt.url", "%v", err)
		}
	}
	for _, f := range []struct{ path, v string }{
		{"mqtt.client_id", m.ClientID}, {"mqtt.topic_prefix", m.TopicPrefix}, {"mqtt.discovery_prefix", m.DiscoveryPrefix},
	} {
		if !ValidName(f.v) {
			p.bad(f.path, "must be 1 to 64 of A-Z a-z 0-9 _ -")
		}
	}
	if err := checkText(m.Username, 256, ""); err != nil {
		p.bad("mqtt.username", "%v", err)
	}
	if strings.ContainsFunc(m.Password, isControlOrBidi) {
		p.bad("mqtt.password", "must not contain control characters")
	}
	if d := m.OffDelay.D(); d < time.Second || d > time.Hour {
		p.bad("mqtt.off_delay", "must be 1s..1h, not %v", m.OffDelay)
	}
	if m.QoS != nil && (*m.QoS < 0 || *m.QoS > 2) {
		p.bad("mqtt.qos", "must be 0, 1 or 2")
	}
	p.checkQueue("mqtt.queue", m.Queue)
	if (m.CertFile == "") != (m.KeyFile == "") {
		p.bad("mqtt.cert_file", "cert_file and key_file go together")
	}
	if !m.TLS() {
		for _, f := range []struct{ path, v string }{{"mqtt.ca_file", m.CAFile}, {"mqtt.cert_file", m.CertFile}} {
			if f.v != "" {
				p.bad(f.path, "needs a TLS broker URL (mqtts:// or ssl://)")
			}
		}
	}
}

// redacted returns m with its password and URL secrets replaced.
func (m MQTT) redacted() MQTT {
	m.URL = redactURL(m.URL)
	if m.Password != "" {
		m.Password = redactedMark
	}
	return m
}

// String never shows the password.
func (m MQTT) String() string { return fmt.Sprintf("mqtt %s", redactURL(m.URL)) }
