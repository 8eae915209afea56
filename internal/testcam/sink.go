package testcam

import (
	"sync"

	"github.com/mvwatch/mvwatch/internal/media"
)

// Sink collects the access units a reader of a test camera delivers, for tests: pass OnAccessUnit as
// the reader's callback. It is safe for concurrent use.
type Sink struct {
	mu  sync.Mutex
	aus []media.AccessUnit
}

// OnAccessUnit records au.
func (s *Sink) OnAccessUnit(au media.AccessUnit) {
	s.mu.Lock()
	s.aus = append(s.aus, au)
	s.mu.Unlock()
}

// Count is the number of access units recorded.
func (s *Sink) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.aus)
}

// Units returns a copy of the access units recorded, in order.
func (s *Sink) Units() []media.AccessUnit {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]media.AccessUnit(nil), s.aus...)
}
