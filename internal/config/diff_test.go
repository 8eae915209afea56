package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCompare(t *testing.T) {
	old, err := Parse("old.yaml", []byte(`
cameras:
  - {name: a, url: "rtsp://u:pw1@h/a"}
  - {name: b, url: "rtsp://h/b"}
  - {name: c, url: "rtsp://h/c", gate: {on_factor: 3}}
`), Options{})
	require.NoError(t, err)
	next, err := Parse("new.yaml", []byte(`
log: {level: debug}
gate: {on_factor: 4}
cameras:
  - {name: c, url: "rtsp://h/c", gate: {on_factor: 3}}
  - {name: a, url: "rtsp://u:pw2@h/a"}
  - {name: d, url: "rtsp://h/d"}
`), Options{})
	require.NoError(t, err)
	d := Compare(old, next)
	require.Equal(t, []string{"d"}, names(d.Added))
	require.Equal(t, []string{"b"}, d.Removed)
	// a's password changed; c overrides the threshold that changed, so it is unchanged.
	require.Equal(t, []string{"a"}, names(d.Changed))
	require.Equal(t, []string{"gate", "log"}, d.Sections)
	require.Equal(t, "cameras added [d], removed [b], changed [a]; sections changed [gate log]", d.String())
	require.NotContains(t, d.String(), "pw")

	same := Compare(old, old)
	require.True(t, same.Empty())
	require.Equal(t, "no change", same.String())
}

func names(cs []Camera) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}
