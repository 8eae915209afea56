package ingest

import (
	"sync"
	"time"
)

// logLimiter lets one log line through per interval.
type logLimiter struct {
	mu       sync.Mutex
	interval time.Duration
	last     time.Time
}

func newLogLimiter(interval time.Duration) *logLimiter {
	return &logLimiter{interval: interval}
}

// allow reports whether a line may be logged now.
func (l *logLimiter) allow() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now := time.Now(); now.Sub(l.last) >= l.interval {
		l.last = now
		return true
	}
	return false
}
