package mqtt

import (
	"encoding/json"
	"regexp"
	"strings"
)

// haDevice is the device block shared by a camera's entities: Home Assistant groups them under one
// device per camera.
type haDevice struct {
	Identifiers  []string `json:"identifiers"`
	Name         string   `json:"name"`
	Manufacturer string   `json:"manufacturer"`
	Model        string   `json:"model"`
	SWVersion    string   `json:"sw_version,omitempty"`
}

// haBinarySensor is the discovery config of an MQTT binary sensor
// (https://www.home-assistant.io/integrations/binary_sensor.mqtt/).
type haBinarySensor struct {
	Name                string   `json:"name"`
	UniqueID            string   `json:"unique_id"`
	StateTopic          string   `json:"state_topic"`
	PayloadOn           string   `json:"payload_on"`
	PayloadOff          string   `json:"payload_off"`
	DeviceClass         string   `json:"device_class"`
	AvailabilityTopic   string   `json:"availability_topic"`
	PayloadAvailable    string   `json:"payload_available"`
	PayloadNotAvailable string   `json:"payload_not_available"`
	QoS                 byte     `json:"qos"`
	Device              haDevice `json:"device"`
}

// haCamera is the discovery config of an MQTT camera (https://www.home-assistant.io/integrations/camera.mqtt/):
// it shows the image last published on Topic.
type haCamera struct {
	Name                string   `json:"name"`
	UniqueID            string   `json:"unique_id"`
	Topic               string   `json:"topic"`
	AvailabilityTopic   string   `json:"availability_topic"`
	PayloadAvailable    string   `json:"payload_available"`
	PayloadNotAvailable string   `json:"payload_not_available"`
	Device              haDevice `json:"device"`
}

// Payloads of the availability and binary state topics.
const (
	online  = "online"
	offline = "offline"
	on      = "ON"
	off     = "OFF"
)

var notID = regexp.MustCompile(`[^a-zA-Z0-9_-]+`)

// slug turns s into a Home Assistant object id and MQTT topic level: [a-zA-Z0-9_-] only, other runs
// replaced by "_" (so no "/", "+" or "#" ever reaches a topic).
func slug(s string) string {
	s = strings.Trim(notID.ReplaceAllString(s, "_"), "_")
	if s == "" {
		return "_"
	}
	return s
}

// discoveryMessages returns the retained discovery configs of camera (or, with clear, empty payloads
// that remove its entities from Home Assistant).
func (p *Publisher) discoveryMessages(camera string, clear bool) []message {
	cam := slug(camera)
	dev := haDevice{Identifiers: []string{p.prefix + "_" + cam}, Name: camera, Manufacturer: "mvwatch",
		Model: "mvwatch camera", SWVersion: p.opts.Version}
	avail := p.prefix + "/availability"
	var out []message
	add := func(component, objectID string, cfg any) {
		topic := p.cfg.DiscoveryPrefix + "/" + component + "/" + objectID + "/config"
		if clear {
			out = append(out, message{kind: kindDiscovery, topic: topic, retained: true})
			return
		}
		b, err := json.Marshal(cfg)
		if err != nil {
			panic(err) // the configs are plain structs of strings
		}
		out = append(out, message{kind: kindDiscovery, topic: topic, payload: b, retained: true})
	}
	for _, label := range p.opts.Labels {
		id := p.prefix + "_" + cam + "_" + slug(label)
		add("binary_sensor", id, haBinarySensor{Name: label, UniqueID: id, StateTopic: p.labelTopic(camera, label),
			PayloadOn: on, PayloadOff: off, DeviceClass: "motion", AvailabilityTopic: avail,
			PayloadAvailable: online, PayloadNotAvailable: offline, QoS: p.cfg.QoSLevel(), Device: dev})
	}
	id := p.prefix + "_" + cam + "_connected"
	add("binary_sensor", id, haBinarySensor{Name: "connected", UniqueID: id, StateTopic: p.cameraTopic(camera, "connected"),
		PayloadOn: on, PayloadOff: off, DeviceClass: "connectivity", AvailabilityTopic: avail,
		PayloadAvailable: online, PayloadNotAvailable: offline, QoS: p.cfg.QoSLevel(), Device: dev})
	id = p.prefix + "_" + cam + "_snapshot"
	add("camera", id, haCamera{Name: "snapshot", UniqueID: id, Topic: p.cameraTopic(camera, "snapshot"),
		AvailabilityTopic: avail, PayloadAvailable: online, PayloadNotAvailable: offline, Device: dev})
	return out
}

func (p *Publisher) cameraTopic(camera, leaf string) string {
	return p.prefix + "/" + slug(camera) + "/" + leaf
}

func (p *Publisher) labelTopic(camera, label string) string {
	return p.prefix + "/" + slug(camera) + "/" + slug(label)
}
