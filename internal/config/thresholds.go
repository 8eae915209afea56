package config

import (
	"fmt"
	"sort"
)

// Thresholds turns model outputs into events.
type Thresholds struct {
	// MinScore is the lowest score that becomes an event, 0..1. It defaults to 0.5.
	// Env: MVWATCH_MIN_SCORE.
	MinScore float64 `yaml:"min_score" json:"min_score"`
	// Labels overrides MinScore per label (e.g. {person: 0.7}). It defaults to none.
	Labels map[string]float64 `yaml:"labels" json:"labels,omitempty"`
}

// DefaultMinScore is the default thresholds.min_score.
const DefaultMinScore = 0.5

// MinScoreFor returns the score threshold for label.
func (t Thresholds) MinScoreFor(label string) float64 {
	if v, ok := t.Labels[label]; ok {
		return v
	}
	return t.MinScore
}

func (t *Thresholds) applyDefaults() {
	setF(&t.MinScore, DefaultMinScore)
}

func (t Thresholds) validate(p *problems) {
	p.checkScore("thresholds.min_score", t.MinScore)
	labels := make([]string, 0, len(t.Labels))
	for l := range t.Labels {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	for _, l := range labels {
		if err := checkText(l, 64, ""); err != nil {
			// The path names the labels, not this label: its text is what is wrong.
			p.add(p.where("thresholds.labels."+l), "thresholds.labels", fmt.Sprintf("label %q: %v", l, err))
			continue
		}
		p.checkScore("thresholds.labels."+l, t.Labels[l])
	}
}
