// Package pipeline runs the per-camera graphs: source, decode, extract, motion gate, clip, inference and
// events, with bounded queues, metrics and the HTTP API.
package pipeline
