package natsbus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Stream names and subjects.
const (
	// EventsStream holds every camera event and event update, on EventSubject(camera).
	EventsStream = "MVWATCH_EVENTS"
	// EventsSubjects is the EVENTS stream's subject filter.
	EventsSubjects = "mvwatch.events.>"
	// EnrichStream is the work queue of enrichment jobs (captions, thumbnails), on EnrichSubject(kind).
	EnrichStream = "MVWATCH_ENRICH"
	// EnrichSubjects is the ENRICH stream's subject filter.
	EnrichSubjects = "mvwatch.enrich.*"

	// ownerKey is the stream metadata key by which mvwatch marks the streams it created.
	ownerKey   = "mvwatch.owner"
	ownerValue = "mvwatch"
)

// EventSubject returns the subject of camera's events, mvwatch.events.<camera>. camera must be a
// valid camera name (1 to 64 of [A-Za-z0-9_-]), which is also a valid subject token.
func EventSubject(camera string) (string, error) {
	if !validName(camera) {
		return "", fmt.Errorf("natsbus: camera name %q is not 1..64 of [A-Za-z0-9_-]", camera)
	}
	return "mvwatch.events." + camera, nil
}

// EnrichSubject returns the subject of one kind of enrichment job, mvwatch.enrich.<kind> (e.g.
// "caption", "thumbnail").
func EnrichSubject(kind string) (string, error) {
	if !validName(kind) {
		return "", fmt.Errorf("natsbus: enrichment kind %q is not 1..64 of [A-Za-z0-9_-]", kind)
	}
	return "mvwatch.enrich." + kind, nil
}

// validName reports whether s is 1 to 64 of [A-Za-z0-9_-] (config.ValidName's rule).
func validName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '_' && r != '-' {
			return false
		}
	}
	return true
}

// StreamsConfig sizes the streams. Zero values take the defaults.
type StreamsConfig struct {
	// Replicas is the number of copies of each stream, bucket and consumer in a cluster (1, 3 or
	// 5). It defaults to 1.
	Replicas int
	// DuplicateWindow is how long a message id is remembered for deduplication: a publish retried
	// within it is stored once. It defaults to 10 minutes.
	DuplicateWindow time.Duration
	// EventsMaxAge is how long the EVENTS stream keeps an event (the store keeps it for good once
	// consumed). It defaults to 24 hours.
	EventsMaxAge time.Duration
	// EventsMaxBytes caps the EVENTS stream; when full it refuses new events (counted drops at the
	// publisher) rather than silently discarding unconsumed old ones. It defaults to 1 GiB.
	EventsMaxBytes int64
	// EnrichMaxAge is how long an enrichment job waits for a worker. It defaults to 24 hours.
	EnrichMaxAge time.Duration
	// EnrichMaxBytes caps the ENRICH stream (refuses new jobs when full). It defaults to 256 MiB.
	EnrichMaxBytes int64
}

func (c StreamsConfig) withDefaults() StreamsConfig {
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	if c.DuplicateWindow <= 0 {
		c.DuplicateWindow = 10 * time.Minute
	}
	if c.EventsMaxAge <= 0 {
		c.EventsMaxAge = 24 * time.Hour
	}
	if c.EventsMaxBytes <= 0 {
		c.EventsMaxBytes = 1 << 30
	}
	if c.EnrichMaxAge <= 0 {
		c.EnrichMaxAge = 24 * time.Hour
	}
	if c.EnrichMaxBytes <= 0 {
		c.EnrichMaxBytes = 256 << 20
	}
	return c
}

// StreamConfigs returns the configurations EnsureStreams applies: EVENTS then ENRICH.
func StreamConfigs(cfg StreamsConfig) []jetstream.StreamConfig {
	cfg = cfg.withDefaults()
	meta := map[string]string{ownerKey: ownerValue}
	return []jetstream.StreamConfig{{
		Name:        EventsStream,
		Description: "mvwatch camera events and event updates; message id = event id (+ revision)",
		Subjects:    []string{EventsSubjects},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Discard:     jetstream.DiscardNew,
		Replicas:    cfg.Replicas,
		Duplicates:  cfg.DuplicateWindow,
		MaxAge:      cfg.EventsMaxAge,
		MaxBytes:    cfg.EventsMaxBytes,
		Metadata:    meta,
	}, {
		Name:        EnrichStream,
		Description: "mvwatch enrichment jobs (captions, thumbnails), one worker each",
		Subjects:    []string{EnrichSubjects},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		Discard:     jetstream.DiscardNew,
		Replicas:    cfg.Replicas,
		Duplicates:  cfg.DuplicateWindow,
		MaxAge:      cfg.EnrichMaxAge,
		MaxBytes:    cfg.EnrichMaxBytes,
		Metadata:    meta,
	}}
}

// ErrStreamConflict marks a stream that exists with settings mvwatch cannot use or may not change.
var ErrStreamConflict = errors.New("natsbus: stream exists with other settings")

// EnsureStreams creates the EVENTS and ENRICH streams, or checks the existing ones.
//
// An existing stream must have the subjects, retention policy, storage type, discard policy and
// replica count mvwatch asks for; any difference in those is an ErrStreamConflict naming each
// differing setting, and nothing is changed: a different retention or storage would change what the
// stream guarantees, and a stream with other subjects or without mvwatch's mark was made by someone
// else. Only the limits mvwatch owns (max age, max bytes, duplicate window) are updated in place,
// and only on a stream mvwatch created (metadata mvwatch.owner=mvwatch): changing them is safe (no
// message is rewritten; a smaller limit only ages out old messages sooner). On a stream without the
// mark, differing limits are a conflict too.
func EnsureStreams(ctx context.Context, js jetstream.JetStream, cfg StreamsConfig) error {
	for _, want := range StreamConfigs(cfg) {
		if err := ensureStream(ctx, js, want); err != nil {
			return err
		}
	}
	return nil
}

func ensureStream(ctx context.Context, js jetstream.JetStream, want jetstream.StreamConfig) error {
	s, err := js.Stream(ctx, want.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		if _, err := js.CreateStream(ctx, want); err != nil {
			if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
				// Another node created it meanwhile: check that one.
				return ensureStream(ctx, js, want)
			}
			return fmt.Errorf("natsbus: create stream %s: %w", want.Name, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("natsbus: stream %s: %w", want.Name, err)
	}
	have := s.CachedInfo().Config
	fixed, limits := streamDiff(have, want)
	owned := have.Metadata[ownerKey] == ownerValue
	if !owned {
		fixed = append(fixed, limits...)
		limits = nil
	}
	if len(fixed) > 0 {
		who := "created by mvwatch"
		if !owned {
			who = "not created by mvwatch"
		}
		return fmt.Errorf("%w: %s (%s): %s; change or delete it (nats stream edit/rm %s) or point mvwatch at another NATS account",
			ErrStreamConflict, want.Name, who, strings.Join(fixed, ", "), want.Name)
	}
	if len(limits) == 0 {
		return nil
	}
	upd := have
	upd.MaxAge, upd.MaxBytes, upd.Duplicates = want.MaxAge, want.MaxBytes, want.Duplicates
	if _, err := js.UpdateStream(ctx, upd); err != nil {
		return fmt.Errorf("natsbus: update stream %s limits (%s): %w", want.Name, strings.Join(limits, ", "), err)
	}
	return nil
}

// streamDiff lists the settings in which have differs from want: those mvwatch never changes
// (fixed) and the limits it owns.
func streamDiff(have, want jetstream.StreamConfig) (fixed, limits []string) {
	hs, ws := slices.Clone(have.Subjects), slices.Clone(want.Subjects)
	slices.Sort(hs)
	slices.Sort(ws)
	if !slices.Equal(hs, ws) {
		fixed = append(fixed, fmt.Sprintf("subjects %v (want %v)", have.Subjects, want.Subjects))
	}
	if have.Retention != want.Retention {
		fixed = append(fixed, fmt.Sprintf("retention %s (want %s)", have.Retention, want.Retention))
	}
	if have.Storage != want.Storage {
		fixed = append(fixed, fmt.Sprintf("storage %s (want %s)", have.Storage, want.Storage))
	}
	if have.Discard != want.Discard {
		fixed = append(fixed, fmt.Sprintf("discard %s (want %s)", have.Discard, want.Discard))
	}
	if have.Replicas != want.Replicas {
		fixed = append(fixed, fmt.Sprintf("replicas %d (want %d)", have.Replicas, want.Replicas))
	}
	if have.MaxAge != want.MaxAge {
		limits = append(limits, fmt.Sprintf("max age %v (want %v)", have.MaxAge, want.MaxAge))
	}
	if have.MaxBytes != want.MaxBytes {
		limits = append(limits, fmt.Sprintf("max bytes %d (want %d)", have.MaxBytes, want.MaxBytes))
	}
	if have.Duplicates != want.Duplicates {
		limits = append(limits, fmt.Sprintf("duplicate window %v (want %v)", have.Duplicates, want.Duplicates))
	}
	return fixed, limits
}
