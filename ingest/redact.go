package ingest

import (
	"net/url"
	"strings"
)

// redacted replaces credentials in URLs and strings meant for logs, errors and states.
const redacted = "***"

// RedactURL returns rawURL with any user:password replaced by "***", fit for logs, errors and states.
// A string that does not parse as a URL is redacted by hand: anything between "://" and the last "@"
// of the host part is replaced.
func RedactURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err == nil && u.Scheme != "" {
		if u.User == nil {
			return rawURL
		}
		u.User = nil
		s := u.String()
		return strings.Replace(s, "://", "://"+redacted+"@", 1)
	}
	scheme := strings.Index(rawURL, "://")
	if scheme < 0 {
		if at := strings.LastIndex(rawURL, "@"); at >= 0 {
			return redacted + rawURL[at:]
		}
		return rawURL
	}
	rest := rawURL[scheme+3:]
	hostEnd := strings.IndexAny(rest, "/?#")
	if hostEnd < 0 {
		hostEnd = len(rest)
	}
	at := strings.LastIndex(rest[:hostEnd], "@")
	if at < 0 {
		return rawURL
	}
	return rawURL[:scheme+3] + redacted + rest[at:]
}

// secrets holds the credentials of one URL and scrubs them from arbitrary text.
type secrets struct {
	words []string
}

// newSecrets collects the user info of rawURL in the forms it may show up in text.
func newSecrets(rawURL string) secrets {
	var s secrets
	u, err := url.Parse(rawURL)
	if err != nil || u.User == nil {
		return s
	}
	add := func(w string) {
		if len(w) >= 3 {
			s.words = append(s.words, w)
		}
	}
	if i := strings.Index(rawURL, "://"); i >= 0 {
		rest := rawURL[i+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			add(rest[:at]) // user:pass as written
		}
	}
	add(u.User.String())
	if p, ok := u.User.Password(); ok {
		add(p)
		add(url.QueryEscape(p))
		add(url.PathEscape(p))
	}
	return s
}

// scrub replaces every known secret in text with "***".
func (s secrets) scrub(text string) string {
	for _, w := range s.words {
		text = strings.ReplaceAll(text, w, redacted)
	}
	return text
}
