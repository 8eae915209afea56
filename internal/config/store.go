package config

// Store configures the embedded event store.
type Store struct {
	// Path is the bbolt database file. It defaults to "mvwatch.db". Env: MVWATCH_STORE_PATH.
	// Flag: -store.
	Path string `yaml:"path" json:"path"`
	// MaxAge drops events older than this. It defaults to 720h (30 days); 0 keeps events forever.
	MaxAge *Duration `yaml:"max_age" json:"max_age,omitempty"`
	// MaxEvents keeps at most this many events, dropping the oldest. It defaults to 100000;
	// 0 means no limit.
	MaxEvents *int `yaml:"max_events" json:"max_events,omitempty"`
}

func (s *Store) applyDefaults() {
	setStr(&s.Path, DefaultStorePath)
	if s.MaxAge == nil {
		d := Duration(DefaultStoreMaxAge)
		s.MaxAge = &d
	}
	if s.MaxEvents == nil {
		n := DefaultMaxEvents
		s.MaxEvents = &n
	}
}

func (s Store) validate(p *problems) {
	if s.Path == "" {
		p.bad("store.path", "must not be empty")
	}
	if s.MaxAge != nil && *s.MaxAge < 0 {
		p.bad("store.max_age", "must not be negative")
	}
	if s.MaxEvents != nil && *s.MaxEvents < 0 {
		p.bad("store.max_events", "must not be negative")
	}
}
