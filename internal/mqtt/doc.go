// Package mqtt publishes mvwatch's events, camera state and availability to an MQTT broker, with Home
// Assistant MQTT discovery, so that home-automation and NVR users can wire cameras into their flows.
//
// Topics (prefix is mqtt.topic_prefix, "mvwatch" by default):
//
//	<prefix>/availability              "online" / "offline", retained; "offline" is also the last will
//	<prefix>/events                    one JSON event per detection (the API's event object, not retained)
//	<prefix>/<camera>/<label>          "ON" when an event with this label starts, "OFF" off_delay after
//	                                   the camera's last such event ended; retained
//	<prefix>/<camera>/state            the camera's state JSON (state, reason, since), retained
//	<prefix>/<camera>/connected        "ON" while the camera is running, else "OFF"; retained
//	<prefix>/<camera>/snapshot         the JPEG keyframe of the camera's latest event, retained
//
// With discovery on, each camera is a Home Assistant device with a binary sensor per model label
// (device class motion), a connectivity binary sensor and an MQTT camera entity showing the snapshot;
// configs are retained under <discovery_prefix>/<component>/<object id>/config, republished whenever
// Home Assistant announces itself on <discovery_prefix>/status, and cleared (an empty retained
// payload) when a camera is removed.
//
// Publishing never blocks the event path: publications wait in a bounded queue (internal/queue) that
// drops the oldest and counts while the broker is away; the client (eclipse paho) reconnects by itself.
package mqtt
