// Package redact is mvwatch's one redactor of secrets in URLs and in text that may embed URLs (logs,
// errors, camera state reasons, rendered configs). A URL keeps its scheme, host, port, path and query
// keys; its password, a user name given without a password (it may be a token), every query value and
// a fragment are replaced by Mark.
package redact

import (
	"net/url"
	"regexp"
	"strings"
)

// Mark replaces every secret.
const Mark = "REDACTED"

// URL returns raw with its secrets replaced by Mark: the password of its user info (the user name is
// kept), a user name without a password, every query value and the fragment. A string that does not
// parse as a URL is redacted by hand: the user info before the host and every query value.
func URL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" {
		return byHand(raw)
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), Mark)
		} else if u.User.Username() != "" {
			u.User = url.User(Mark)
		}
	}
	if u.RawQuery != "" || u.ForceQuery {
		u.RawQuery = redactQuery(u.RawQuery)
	}
	if u.Fragment != "" || u.RawFragment != "" {
		u.Fragment, u.RawFragment = Mark, ""
	}
	return u.String()
}

// redactQuery replaces the value of every key=value pair of a raw query string.
func redactQuery(raw string) string {
	if raw == "" {
		return raw
	}
	parts := strings.Split(raw, "&")
	for i, p := range parts {
		if k, _, ok := strings.Cut(p, "="); ok {
			parts[i] = k + "=" + Mark
		} else if p != "" && IsSecretKey(p) {
			parts[i] = Mark
		}
	}
	return strings.Join(parts, "&")
}

// byHand redacts a string that looks like a URL but does not parse as one.
func byHand(raw string) string {
	rest, prefix := raw, ""
	if i := strings.Index(raw, "://"); i >= 0 {
		prefix, rest = raw[:i+3], raw[i+3:]
	}
	// The user info ends at the last "@" before the query (a password may hold "/" or "@").
	hostEnd := strings.IndexAny(rest, "?#")
	if hostEnd < 0 {
		hostEnd = len(rest)
	}
	if at := strings.LastIndex(rest[:hostEnd], "@"); at >= 0 {
		user, _, hasPass := strings.Cut(rest[:at], ":")
		if hasPass && prefix != "" && !strings.ContainsAny(user, "/") {
			rest = user + ":" + Mark + rest[at:]
		} else {
			rest = Mark + rest[at:]
		}
		hostEnd = strings.IndexAny(rest, "?#")
		if hostEnd < 0 {
			hostEnd = len(rest)
		}
	}
	if hostEnd < len(rest) {
		tail := rest[hostEnd:]
		rest = rest[:hostEnd]
		query, _, hasFrag := strings.Cut(tail[1:], "#")
		if tail[0] == '#' {
			hasFrag = true // no query: all of tail is the fragment
		} else {
			rest += "?" + redactQuery(query)
		}
		if hasFrag {
			rest += "#" + Mark
		}
	}
	return redactPairs(prefix + rest)
}

// secretKeys are the fragments of query and form keys that mark their value as a secret.
var secretKeys = []string{"token", "pass", "pwd", "secret", "sig", "key", "auth", "credential", "session", "cookie"}

// IsSecretKey reports whether a query or form key looks like it names a secret (token, password,
// pass, pwd, key, secret, auth, signature, sig, apikey, access_token, X-Amz-Signature, ...).
func IsSecretKey(key string) bool {
	k := strings.ToLower(key)
	for _, s := range secretKeys {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

// urlInText matches URLs embedded in text: a scheme, "://" and everything up to white space or a quote.
var urlInText = regexp.MustCompile(`(?i)\b[a-z][a-z0-9+.\-]*://[^\s"'<>` + "`" + `]+`)

// pairInText matches key=value pairs in text outside URLs, such as "token=abc" in an error message.
var pairInText = regexp.MustCompile(`([A-Za-z0-9_.\-]+)=([^\s&"'<>;,]+)`)

// Text returns s with every URL in it redacted as URL does, and the value of every key=value pair
// whose key looks secret (IsSecretKey) replaced by Mark. It is meant for error strings and log text,
// such as a *url.Error's message that quotes the URL it failed on.
func Text(s string) string {
	if s == "" {
		return s
	}
	var b strings.Builder
	last := 0
	for _, m := range urlInText.FindAllStringIndex(s, -1) {
		b.WriteString(redactPairs(s[last:m[0]]))
		b.WriteString(URL(s[m[0]:m[1]]))
		last = m[1]
	}
	b.WriteString(redactPairs(s[last:]))
	return b.String()
}

func redactPairs(s string) string {
	if !strings.Contains(s, "=") {
		return s
	}
	return pairInText.ReplaceAllStringFunc(s, func(p string) string {
		k, _, _ := strings.Cut(p, "=")
		if IsSecretKey(k) {
			return k + "=" + Mark
		}
		return p
	})
}

// Error returns err's message redacted as Text does; "" for a nil error.
func Error(err error) string {
	if err == nil {
		return ""
	}
	return Text(err.Error())
}

// Secrets holds the secrets of one URL in the forms they may show up in text (as written, escaped,
// unescaped), to scrub them from messages that quote them outside a recognisable URL.
type Secrets struct {
	words []string
}

// NewSecrets collects the password, a bare user name, the fragment and the values of the secret-looking
// query keys (IsSecretKey) of rawURL.
func NewSecrets(rawURL string) Secrets {
	var s Secrets
	add := func(w string) {
		if len(w) >= 3 && w != Mark {
			s.words = append(s.words, w)
		}
	}
	addForms := func(w string) {
		add(w)
		add(url.QueryEscape(w))
		add(url.PathEscape(w))
		if un, err := url.QueryUnescape(w); err == nil {
			add(un)
		}
	}
	u, err := url.Parse(rawURL)
	if i := strings.Index(rawURL, "://"); i >= 0 {
		rest := rawURL[i+3:]
		end := strings.IndexAny(rest, "?#")
		if end < 0 {
			end = len(rest)
		}
		if at := strings.LastIndex(rest[:end], "@"); at >= 0 {
			info := rest[:at]
			if _, pass, ok := strings.Cut(info, ":"); ok {
				addForms(pass) // as written
			} else {
				addForms(info)
			}
		}
	}
	if err == nil {
		if u.User != nil {
			if p, ok := u.User.Password(); ok {
				_, escaped, _ := strings.Cut(u.User.String(), ":")
				add(escaped)
				addForms(p)
			} else {
				addForms(u.User.Username())
			}
		}
		for k, vs := range u.Query() {
			if !IsSecretKey(k) {
				continue
			}
			for _, v := range vs {
				addForms(v)
			}
		}
		addForms(u.Fragment)
	}
	// Longer words first, so that a word that contains another is replaced whole.
	for i := 1; i < len(s.words); i++ {
		for j := i; j > 0 && len(s.words[j]) > len(s.words[j-1]); j-- {
			s.words[j], s.words[j-1] = s.words[j-1], s.words[j]
		}
	}
	return s
}

// Scrub returns text with every known secret replaced by Mark, after redacting it as Text does.
func (s Secrets) Scrub(text string) string {
	for _, w := range s.words {
		text = strings.ReplaceAll(text, w, Mark)
	}
	return Text(text)
}
