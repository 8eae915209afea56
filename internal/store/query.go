package store

import (
	"bytes"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/mvwatch/mvwatch/internal/event"
)

// Query returns one page of the events matching q. A full page carries NextCursor (the last event's ID);
// the page after it may be empty.
func (s *Store) Query(q event.Query) (event.Page, error) {
	if q.Limit <= 0 {
		q.Limit = 100
	}
	q.Limit = min(q.Limit, 1000)
	if q.Cursor != "" && !event.ValidID(q.Cursor) {
		return event.Page{}, fmt.Errorf("store: bad cursor %q", q.Cursor)
	}
	var lo, hi []byte // lo <= key < hi
	if !q.From.IsZero() {
		lo = event.TimeKey(q.From)
	}
	if !q.To.IsZero() {
		hi = event.TimeKey(q.To)
	}
	page := event.Page{Events: []event.Event{}}
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketEvents).Cursor()
		var k, v []byte
		step := c.Next
		if q.Ascending {
			switch {
			case q.Cursor != "" && (lo == nil || q.Cursor >= string(lo)):
				k, v = c.Seek([]byte(q.Cursor))
				if k != nil && string(k) == q.Cursor {
					k, v = c.Next()
				}
			case lo != nil:
				k, v = c.Seek(lo)
			default:
				k, v = c.First()
			}
		} else {
			step = c.Prev
			seek := hi
			if q.Cursor != "" && (hi == nil || q.Cursor < string(hi)) {
				seek = []byte(q.Cursor)
			}
			if seek == nil {
				k, v = c.Last()
			} else if k, _ = c.Seek(seek); k == nil {
				k, v = c.Last()
			} else {
				k, v = c.Prev() // Seek found the first key >= seek; we want keys < seek
			}
		}
		for ; k != nil; k, v = step() {
			if (hi != nil && bytes.Compare(k, hi) >= 0) || (lo != nil && bytes.Compare(k, lo) < 0) {
				if q.Ascending == (hi != nil && bytes.Compare(k, hi) >= 0) {
					break // past the end of the range in the direction of travel
				}
				continue
			}
			var ev event.Event
			if err := json.Unmarshal(v, &ev); err != nil {
				return fmt.Errorf("decode event %s: %w", k, err)
			}
			if !q.Matches(ev) {
				continue
			}
			page.Events = append(page.Events, ev)
			if len(page.Events) == q.Limit {
				page.NextCursor = ev.ID
				break
			}
		}
		return nil
	})
	if err != nil {
		return event.Page{}, fmt.Errorf("store: query: %w", err)
	}
	return page, nil
}
