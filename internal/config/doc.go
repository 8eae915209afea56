// Package config is mvwatch's configuration: one YAML file, then MVWATCH_* environment overrides, then
// command-line flags, validated together (Load).
//
// It is a leaf: it imports only the standard library and yaml.v3, never a stage package or cgo, so the
// API, the event service and tools can read and check a config without linking FFmpeg or ONNX Runtime
// (TestLeaf checks this with go list -deps).
//
// Each section has its own file and type (Listen, Inference, Thresholds, Gate, Store, Decode, Webhook, Captions,
// Thumbnails, Camera); every field documents its default, and a field left out of the file takes it.
// Problems are reported all at once, each with where it was set ("mvwatch.yaml:12", "env
// MVWATCH_HTTP_ADDR", "flag -http") and the field path ("cameras[1].url"). Secrets (the API token,
// webhook secrets, passwords and query values in URLs) are never rendered: String, LogValue and Redacted
// replace them.
package config
