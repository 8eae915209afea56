package config

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestNATSSection: the nats section with its env and flag overrides, its defaults (the store next
// to store.path, after the flags), its validation, and no secret in the rendered config.
func TestNATSSection(t *testing.T) {
	env := map[string]string{"MVWATCH_NATS_PASSWORD": "env-secret-pw", "MVWATCH_NODE": "w7"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	cfg, err := Parse("c.yaml", []byte("nats:\n  url: nats://mv:url-secret@10.0.0.1:4222,nats://10.0.0.2:4222\n  user: mv\n"),
		Options{LookupEnv: lookup, Flags: Flags{StorePath: "/data/mv/events.db", NATSListen: "127.0.0.1:4222",
			NATSClusterListen: "127.0.0.1:6222", NATSRoutes: []string{"nats-route://10.0.0.2:6222"}}})
	require.NoError(t, err)
	require.Equal(t, "env-secret-pw", cfg.NATS.Password)
	require.Equal(t, "w7", cfg.NATS.Node)
	require.Equal(t, filepath.Join("/data/mv", "nats"), cfg.NATSStoreDir())
	require.Equal(t, 1, cfg.NATS.Replicas)
	require.Equal(t, []string{"nats-route://10.0.0.2:6222"}, cfg.NATS.Routes)
	require.True(t, cfg.NATS.Enabled())
	out := cfg.String()
	require.NotContains(t, out, "env-secret-pw")
	require.NotContains(t, out, "url-secret")
	require.NotContains(t, cfg.NATS.String(), "url-secret")

	require.False(t, Default().NATS.Enabled(), "off by default: one process, no port")

	_, err = Parse("c.yaml", []byte("nats:\n  url: http://x:1\n  token: t\n  user: u\n  replicas: 2\n  routes: [\"x\"]\n  node: \"a b\"\n"), Options{})
	require.Error(t, err)
	for _, want := range []string{"nats.url", "nats.user", "nats.replicas", "nats.routes", "nats.node"} {
		require.ErrorContains(t, err, want)
	}
}

// TestNATSEnrich: nats.enrich defaults to the events node; the file sets it for any node and the
// -enrich flag overrides the file.
func TestNATSEnrich(t *testing.T) {
	def := Default().NATS
	require.True(t, def.RunsEnrichment(true), "the events node by default")
	require.False(t, def.RunsEnrichment(false), "not a worker by default")
	cfg, err := Parse("c.yaml", []byte("nats:\n  url: nats://10.0.0.1:4222\n  enrich: true\n"), Options{})
	require.NoError(t, err)
	require.True(t, cfg.NATS.RunsEnrichment(false), "a worker with nats.enrich: true")
	off := false
	cfg, err = Parse("c.yaml", []byte("nats:\n  url: nats://10.0.0.1:4222\n  enrich: true\n"), Options{Flags: Flags{Enrich: &off}})
	require.NoError(t, err)
	require.False(t, cfg.NATS.RunsEnrichment(true), "-enrich=false: an events node that only queues jobs")
	_, err = Parse("c.yaml", []byte("nats:\n  enrich: maybe\n"), Options{})
	require.ErrorContains(t, err, "nats.enrich")
}
