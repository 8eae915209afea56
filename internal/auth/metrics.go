package auth

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Refusal reasons: the reason label of mvwatch_auth_refused_total.
const (
	RefusedUnauthorized = "unauthorized"           // HTTP: missing or wrong bearer token (401)
	RefusedForbidden    = "forbidden"              // HTTP: the user's role is too low (403)
	RefusedContentType  = "unsupported_media_type" // HTTP: a mutation without a JSON body type (415)
	RefusedRTSP         = "rtsp_credentials"       // restream: wrong user name or token
)

// Metrics counts refused requests; a rising count is someone guessing tokens or a page trying
// cross-site requests.
type Metrics struct {
	// Refused counts refusals by reason (Refused* constants); every reason exists from start at 0.
	Refused *prometheus.CounterVec
}

// NewMetrics registers the metrics on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{Refused: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mvwatch_auth_refused_total",
		Help: "Requests refused by authentication or authorisation, by reason (unauthorized, forbidden, unsupported_media_type, rtsp_credentials).",
	}, []string{"reason"})}
	for _, r := range []string{RefusedUnauthorized, RefusedForbidden, RefusedContentType, RefusedRTSP} {
		m.Refused.WithLabelValues(r)
	}
	if err := reg.Register(m.Refused); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				m.Refused = existing
				return m, nil
			}
		}
		return nil, fmt.Errorf("auth metrics: %w", err)
	}
	return m, nil
}

// refused counts one refusal; m may be nil.
func (m *Metrics) refused(reason string) {
	if m != nil {
		m.Refused.WithLabelValues(reason).Inc()
	}
}

// RefusedRTSPCredentials counts a refused restream viewer; m may be nil.
func (m *Metrics) RefusedRTSPCredentials() { m.refused(RefusedRTSP) }
