// Package pipeline runs the per-camera graphs: source, decode, extract, motion gate, clip, inference and
// events, with bounded queues, metrics and the HTTP API.
//
// The service-side pieces, each usable on its own:
//
//   - The configuration lives in package internal/config (a leaf): the one YAML file, MVWATCH_*
//     environment overrides and flags, validated together with field paths.
//   - event.Event, Sink and Fanout (event.go): what the pipeline emits and the small interface every
//     destination implements. Store (store.go) is the durable embedded sink on bbolt: Publish
//     returns only once the event is fsync'd; retention by age and count; queries by time range,
//     camera, label and score with cursor paging; keyframe JPEGs and thumbnail PNGs; durable caption
//     and thumbnail updates of stored events (SetCaption, SetThumbnail). WebhookSink (webhook.go) POSTs
//     events with retries and capped backoff from bounded queues. Hub (hub.go) fans events out to
//     live subscribers with per-subscriber bounded buffers.
//   - API (api.go): the HTTP API (cameras CRUD through the CameraManager interface, camera state,
//     event queries, Server-Sent Events with "update" events, keyframes, thumbnails, /healthz, /readyz, /metrics) with optional bearer
//     authentication. docs/openapi.yaml documents it and a test validates real traffic against it.
//   - Gate (gate.go): the motion gate, dynamic execution at the stream level; an adaptive noise floor
//     with hysteresis and a minimum hold decides which scenes go to inference.
//   - CaptionStage (caption_stage.go) and ThumbnailStage (thumbnail_stage.go): the background stages
//     that caption (llmgen) and illustrate (diffusion) each stored event from bounded, drop-and-count
//     queues; OpenStages (stages.go) opens those the config turns on. The Service submits each event
//     after storing it and writes their results back onto the stored event.
//   - Queue (queue.go): the bounded, drop-and-count queue between stages.
//   - Metrics (metrics.go): every mvwatch_* metric, registered on an injected registry;
//     docs/grafana-dashboard.json charts them.
package pipeline
