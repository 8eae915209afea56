// Package inference owns the ONNX Runtime environment, model sessions and manifests, cross-stream
// batching and early exit.
package inference
