// Package pipeline is the per-camera worker: each camera's frames (from internal/source) go through
// feature extraction (mvextract), the motion gate, clip assembly, inference (a Classifier, in serving
// a Model: MFCD-Net behind inference's cross-camera batcher) and the eventizer, which turns clip
// decisions into events and publishes them to the bus (internal/bus). It never imports the event
// service.
//
//   - Gate (gate.go): the motion gate, dynamic execution at the stream level; an adaptive noise floor
//     with hysteresis and a minimum hold decides which scenes go to inference.
//   - processor (processor.go): extraction, the gate and clip assembly of one camera.
//   - eventizer (eventizer.go): one crossing is one event (hysteresis, merging, tails).
//   - cameraRunner (camera_runner.go): one camera's goroutines: source and inference.
//   - Fleet (fleet.go): the running cameras; it serves camera commands (bus.Cameras: add, atomic
//     replace that keeps the open event, remove, state).
//   - Model (model.go): LoadModel, the model directory and its feature configuration.
//   - AnalyzeFile (analyze.go): the same worker over a file, offline.
//   - Metrics (metrics.go): the worker's mvwatch_* metrics, registered on an injected registry.
package pipeline
