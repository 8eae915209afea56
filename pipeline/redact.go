package pipeline

import (
	"net/url"
)

// redactedMark replaces secrets in rendered configs.
const redactedMark = "REDACTED"

// RedactURL returns raw with its password and query values replaced by "REDACTED", for logs and the
// API. A string that does not parse as a URL is fully redacted.
func RedactURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return redactedMark
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), redactedMark)
		}
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			q[k] = []string{redactedMark}
		}
		u.RawQuery = q.Encode()
	}
	return u.String()
}
