package config

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// FieldError is one problem of a config: where the value was set ("mvwatch.yaml:12", "env
// MVWATCH_HTTP_ADDR", "flag -http"; empty when unknown), the field path ("cameras[1].url"; empty for
// a problem of the document itself) and what is wrong.
type FieldError struct {
	Where, Path, Msg string
}

// Error formats the problem as "where: path: message", leaving out empty parts.
func (e *FieldError) Error() string {
	var parts []string
	for _, s := range []string{e.Where, e.Path, e.Msg} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, ": ")
}

// Error lists every problem found in a config, one "where: path: message" per line. It wraps
// ErrInvalid and each problem (a *FieldError), joined with errors.Join.
type Error struct {
	// Problems is the text of each problem, in the order found: YAML errors, then validation.
	Problems []string
	err      error
}

// Error lists the problems, one per line.
func (e *Error) Error() string { return strings.Join(e.Problems, "\n") }

// Unwrap returns ErrInvalid and the joined problems.
func (e *Error) Unwrap() []error { return []error{ErrInvalid, e.err} }

// fieldProblem is a problem of one field of a section, its path relative to the section.
type fieldProblem struct{ field, msg string }

// problems collects the problems of one Load or Parse with the position of every field path.
type problems struct {
	pos   map[string]string // field path -> "file:line", "env NAME" or "flag -name"
	name  string            // file name, the fallback position
	errs  []*FieldError
	typed map[string]bool // field paths that had a YAML type error: their validation is skipped
}

func (p *problems) err() error {
	if len(p.errs) == 0 {
		return nil
	}
	e := &Error{}
	errs := make([]error, len(p.errs))
	for i, fe := range p.errs {
		e.Problems = append(e.Problems, fe.Error())
		errs[i] = fe
	}
	e.err = errors.Join(errs...)
	return e
}

// where returns the position of path, falling back to its closest recorded parent, then the file.
func (p *problems) where(path string) string {
	for q := path; q != ""; {
		if s, ok := p.pos[q]; ok {
			return s
		}
		i := strings.LastIndexAny(q, ".[")
		if i < 0 {
			break
		}
		q = q[:i]
	}
	return p.name
}

// hadTypeError reports whether path or one of its parents failed to decode.
func (p *problems) hadTypeError(path string) bool {
	for q := path; q != ""; {
		if p.typed[q] {
			return true
		}
		i := strings.LastIndexAny(q, ".[")
		if i < 0 {
			break
		}
		q = q[:i]
	}
	return false
}

func (p *problems) add(where, path, msg string) {
	p.errs = append(p.errs, &FieldError{Where: where, Path: path, Msg: msg})
}

// bad records a validation problem of path, unless path already failed to decode (its value is
// then a zero left by the decoder, not the operator's).
func (p *problems) bad(path, format string, args ...any) {
	if p.hadTypeError(path) {
		return
	}
	p.add(p.where(path), path, fmt.Sprintf(format, args...))
}

// addAll records the problems of a section at base ("" for none).
func (p *problems) addAll(base string, probs []fieldProblem) {
	for _, fp := range probs {
		path := fp.field
		if base != "" {
			path = base + "." + fp.field
		}
		p.bad(path, "%s", fp.msg)
	}
}

func (p *problems) checkScore(path string, v float64) {
	if !(v >= 0 && v <= 1) {
		p.bad(path, "must be between 0 and 1, not %g", v)
	}
}

func (p *problems) checkQueue(path string, n int) {
	if n < 1 || n > MaxQueue {
		p.bad(path, "must be 1..%d, not %d", MaxQueue, n)
	}
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidName reports whether s is a valid camera or webhook name: 1 to 64 of [A-Za-z0-9_-].
func ValidName(s string) bool { return nameRE.MatchString(s) }

// CheckListenAddr checks a listen address: host:port with a numeric port 0..65535 (0: a free port).
func CheckListenAddr(addr string) error {
	_, port, ok := splitHostPort(addr)
	if !ok {
		return fmt.Errorf("want host:port such as \":8080\", got %q", addr)
	}
	if _, err := parsePort(port, 0); err != nil {
		return fmt.Errorf("bad port %q", port)
	}
	return nil
}

// splitHostPort splits "host:port", "[v6 host]:port" or ":port" as net.SplitHostPort does for these
// forms (package net is not imported: it would link the cgo resolver into this leaf).
func splitHostPort(addr string) (host, port string, ok bool) {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return "", "", false
	}
	host, port = addr[:i], addr[i+1:]
	if strings.HasPrefix(host, "[") {
		if !strings.HasSuffix(host, "]") || strings.Count(host, "[") != 1 || strings.Count(host, "]") != 1 {
			return "", "", false
		}
		host = host[1 : len(host)-1]
	} else if strings.ContainsAny(host, ":[]") {
		return "", "", false
	}
	return host, port, true
}

// parsePort parses a decimal port min..65535 (digits only: no sign, no names).
func parsePort(s string, min int) (int, error) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" || len(s) > 5 {
		return 0, errors.New("not a port number")
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < min || n > 65535 {
		return 0, fmt.Errorf("port must be %d..65535", min)
	}
	return n, nil
}

// checkURL checks a URL with one of schemes, a host and a port 1..65535 if one is given. Its errors
// never quote the URL, which may hold a password.
func checkURL(raw string, schemes ...string) error {
	if raw == "" {
		return errors.New("required")
	}
	if strings.ContainsFunc(raw, isControlOrBidi) {
		return errors.New("must not contain control characters")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("not a valid URL")
	}
	ok := false
	for _, s := range schemes {
		ok = ok || strings.EqualFold(u.Scheme, s)
	}
	if !ok {
		if strings.EqualFold(u.Scheme, "file") {
			return fmt.Errorf("scheme must be one of %s, not \"file\" (serve reads cameras only; analyze a recording with mvwatch analyze)",
				strings.Join(schemes, ", "))
		}
		return fmt.Errorf("scheme must be one of %s, not %q", strings.Join(schemes, ", "), u.Scheme)
	}
	if u.Host == "" || u.Hostname() == "" {
		return errors.New("missing host")
	}
	if port := u.Port(); port != "" || strings.HasSuffix(u.Host, ":") {
		if _, err := parsePort(port, 1); err != nil {
			return fmt.Errorf("bad port %q: must be 1..65535", port)
		}
	}
	return nil
}

// isControlOrBidi reports control characters and the invisible formatting characters that reorder or
// hide text (bidirectional controls U+202A..U+202E and U+2066..U+2069, marks U+200E/U+200F/U+061C,
// zero-width characters, BOM), which would let a name or zone text display as something else.
func isControlOrBidi(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError
}

// checkText checks free text: valid UTF-8, at most maxBytes bytes (0: any), none of forbidden and no
// control or bidi control characters.
func checkText(s string, maxBytes int, forbidden string) error {
	if !utf8.ValidString(s) {
		return errors.New("must be UTF-8 text")
	}
	if maxBytes > 0 && len(s) > maxBytes {
		return fmt.Errorf("must be at most %d bytes, not %d", maxBytes, len(s))
	}
	if forbidden != "" && strings.ContainsAny(s, forbidden) {
		return fmt.Errorf("must not contain any of %q", forbidden)
	}
	if strings.ContainsFunc(s, isControlOrBidi) {
		return errors.New("must not contain control characters")
	}
	return nil
}

func hasSpace(s string) bool { return strings.ContainsAny(s, " \t\r\n") }
