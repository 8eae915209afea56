package config

import (
	"fmt"
	"strconv"
	"time"
)

// Webhook is one alerting endpoint.
type Webhook struct {
	// Name labels the webhook's metrics: 1 to 64 of [A-Za-z0-9_-]. It defaults to "webhook<N>" (N its
	// index).
	Name string `yaml:"name" json:"name"`
	// URL receives a JSON POST per event; http or https. Required. Its user info and query are secret.
	URL string `yaml:"url" json:"url"`
	// Secret, when set, signs each body: header X-Mvwatch-Signature: sha256=<hex HMAC>. Never logged.
	Secret string `yaml:"secret" json:"secret,omitempty"`
	// Labels limits the webhook to these labels. It defaults to all labels.
	Labels []string `yaml:"labels" json:"labels,omitempty"`
	// MinScore limits the webhook to events scoring at least this. It defaults to 0.
	MinScore float64 `yaml:"min_score" json:"min_score,omitempty"`
	// Timeout bounds one POST, at most 10m. It defaults to 5s.
	Timeout Duration `yaml:"timeout" json:"timeout,omitempty"`
	// MaxRetries is how many times a failed POST is retried, 0..100. It defaults to 5.
	MaxRetries *int `yaml:"max_retries" json:"max_retries,omitempty"`
}

// Webhook defaults.
const (
	DefaultWebhookTimeout    = 5 * time.Second
	DefaultWebhookMaxRetries = 5
	maxWebhookTimeout        = 10 * time.Minute
)

func (w *Webhook) applyDefaults(i int) {
	setStr(&w.Name, "webhook"+strconv.Itoa(i))
	if w.Timeout == 0 {
		w.Timeout = Duration(DefaultWebhookTimeout)
	}
	if w.MaxRetries == nil {
		n := DefaultWebhookMaxRetries
		w.MaxRetries = &n
	}
}

func validateWebhooks(p *problems, hooks []Webhook) {
	seen := map[string]bool{}
	for i, w := range hooks {
		path := fmt.Sprintf("webhooks[%d]", i)
		if seen[w.Name] {
			p.bad(path+".name", "duplicate webhook name %q", w.Name)
		}
		seen[w.Name] = true
		if !ValidName(w.Name) {
			p.bad(path+".name", "must be 1 to 64 of A-Z a-z 0-9 _ -")
		}
		if err := checkURL(w.URL, "http", "https"); err != nil {
			p.bad(path+".url", "%v", err)
		}
		for j, l := range w.Labels {
			if err := checkText(l, 64, ""); err != nil {
				p.bad(fmt.Sprintf("%s.labels[%d]", path, j), "%v", err)
			}
		}
		p.checkScore(path+".min_score", w.MinScore)
		if w.Timeout <= 0 {
			p.bad(path+".timeout", "must be positive")
		} else if w.Timeout.D() > maxWebhookTimeout {
			p.bad(path+".timeout", "must be at most %v, not %v", maxWebhookTimeout, w.Timeout)
		}
		if w.MaxRetries != nil && (*w.MaxRetries < 0 || *w.MaxRetries > 100) {
			p.bad(path+".max_retries", "must be 0..100")
		}
	}
}
