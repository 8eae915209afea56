// Package natsbus holds mvwatch's building blocks on NATS JetStream, for a fleet that outgrows one
// process: an embedded server, the connection, the streams, a publisher, a consumer, the camera set
// and the camera leases. The wiring of the app's roles (serve, worker, events) uses them behind the
// bus seam; in a single node an embedded server with no listening port carries it all in-process.
//
// Subjects
//
//	mvwatch.events.<camera>   each event and each event update of a camera (payload: the event JSON;
//	                          header Nats-Msg-Id: the event id, or the id of the update)
//	mvwatch.enrich.<kind>     enrichment jobs (kind: caption, thumbnail; payload EnrichJob JSON,
//	                          message id EnrichJobID: <event id>.<kind>)
//	mvwatch.enrich.results    their results (EnrichResult JSON, message id <event id>.<kind>.result)
//
// Streams
//
//	MVWATCH_EVENTS  subjects mvwatch.events.>, file storage, limits retention (max age 24 h, max
//	                1 GiB by default), discard new. Guarantees: a publish acknowledged by the stream
//	                is stored (replicated with Replicas > 1) and survives a server restart or
//	                kill -9 (a machine crash too with ServerConfig.SyncAlways or 3 replicas); a message
//	                id seen within the duplicate window (10 min) is stored once, so a retried publish
//	                never duplicates an event; when full, the stream refuses (the publisher counts the
//	                drop) rather than silently discarding unconsumed events. The event service reads
//	                it with the durable consumer "store" (explicit acks, acked only after the store's
//	                fsync, redelivered otherwise: at-least-once, made exactly-once in the store by its
//	                dedup on event id); live hubs and webhooks can read it with consumers of their own.
//	MVWATCH_ENRICH  subjects mvwatch.enrich.*, file storage, work-queue retention (a job is removed
//	                once acknowledged), max age 24 h, discard new. Guarantees: each job goes to one
//	                consumer of a durable (any node can run it) and stays until a handler succeeded.
//	                The events node submits jobs (Bus.SubmitEnrich: bounded buffer, never blocks,
//	                stored once per message id); nodes that run enrichment share the durables
//	                enrich-<kind> (Bus.ServeEnrich: a job is acknowledged only once its result is
//	                stored by the stream, retried up to MaxDeliver times, then counted failed and
//	                removed); the events node stores results with the durable enrich-results
//	                (Bus.ServeEnrichResults: acknowledged after the store's write).
//
// Key-value buckets
//
//	mvwatch_cameras  camera name -> camera config JSON (history 5, file storage). The API writes it
//	                 (Cameras.Put/Update/Delete; Update is compare-and-swap on the revision), so a
//	                 change persists and reaches every node.
//	mvwatch_leases   cam.<camera> -> {"node": owner} and node.<node> -> heartbeat; every key expires
//	                 TTL (5 s) after its last write. A camera is claimed by creating its key (only if
//	                 absent) and renewed every TTL/3 by compare-and-swap on its revision. Guarantees:
//	                 at most one node holds a camera at a time (a node that cannot renew stops the
//	                 camera 0.9·TTL after its last successful renewal request, before the server can
//	                 expire the key); a dead node's cameras run elsewhere within TTL + 2·TTL/3
//	                 (≈ 8.3 s; measured 6.6 s); each live node holds at most ceil(cameras / nodes)
//	                 after a rebalance, released only after 2 rounds above it (no flapping).
//	mvwatch_camera_state  camera name -> the state JSON its worker last reported (phase, reason,
//	                 node); read with mvwatch_leases (no lease: not running anywhere).
//
// Object store
//
//	MVWATCH_CLIPS    event id -> the event's MP4 clip (stream OBJ_MVWATCH_CLIPS: file storage,
//	                 TTL clips.max_age, max bytes clips.max_bytes, discard new). A worker puts each clip
//	                 its clip store wrote (Clips.Submit: a bounded queue, never blocking; transient
//	                 failures retried with backoff; a put refused for the bound deletes the oldest
//	                 clips and is tried once more); an events node serves them (Clips.OpenClip, Has
//	                 from the watched index). Guarantees: the bucket never exceeds its max bytes; every
//	                 clip that does not reach it is counted by reason. Checked at open like the
//	                 streams (ErrStreamConflict).
//
// Bus (OpenBus) puts these behind the bus seam: bus.Bus and bus.AckBus for the app's roles (serve
// --role worker|events, or both on NATS), with the camera set, leases and states as bus.Cameras.
//
// Readers of a stream: a durable Consumer (explicit acks after the handler; shared by the nodes
// doing the same work) for the store, webhooks and enrichment; a Tail (ordered ephemeral consumer,
// no acks) for what every node shows live.
//
// Connections carry user/password, a token or an nkey; none of them is logged (URLs go through
// internal/redact). Metrics are the mvwatch_bus_* series of Metrics, all registered at zero by
// NewMetrics.
package natsbus
