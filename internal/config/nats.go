package config

import (
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// NATS connects the roles of a fleet (serve --role worker|events) through NATS JetStream (package
// internal/natsbus): a NATS URL, or an embedded server started by this process (Listen, and Routes
// for a cluster of embedded servers). A single node (role both) with neither runs in-process as
// before: no server, no listening port.
type NATS struct {
	// URL is the NATS server, or several comma separated (a cluster): nats://host:port. Its user info
	// is secret. It defaults to empty: the embedded server when Listen is set, else no NATS.
	// Env: MVWATCH_NATS_URL. Flag: -nats-url.
	URL string `yaml:"url" json:"url,omitempty"`
	// User and Password, Token, or NKeySeed (a user nkey seed, "SU...") authenticate to NATS; an
	// embedded server requires the same of every client. At most one form. Env:
	// MVWATCH_NATS_USER, MVWATCH_NATS_PASSWORD, MVWATCH_NATS_TOKEN, MVWATCH_NATS_NKEY_SEED. The
	// password, token and seed are never logged or rendered.
	User     string `yaml:"user" json:"user,omitempty"`
	Password string `yaml:"password" json:"password,omitempty"`
	Token    string `yaml:"token" json:"token,omitempty"`
	NKeySeed string `yaml:"nkey_seed" json:"nkey_seed,omitempty"`
	// Listen starts an embedded NATS server with JetStream listening for clients on host:port. It
	// defaults to empty: no embedded server (role both then needs none). Flag: -nats-listen.
	Listen string `yaml:"listen" json:"listen,omitempty"`
	// ClusterListen is the embedded server's route listener (host:port), Routes the
	// nats-route://host:port URLs of the other embedded servers of the cluster, ClusterName its
	// name (default "mvwatch"). Flags: -nats-cluster-listen, -nats-cluster (comma separated routes).
	ClusterListen string   `yaml:"cluster_listen" json:"cluster_listen,omitempty"`
	Routes        []string `yaml:"routes" json:"routes,omitempty"`
	ClusterName   string   `yaml:"cluster_name" json:"cluster_name,omitempty"`
	// StoreDir is the embedded server's JetStream storage. It defaults to empty: "nats" next to
	// store.path, the data directory (Config.NATSStoreDir).
	StoreDir string `yaml:"store_dir" json:"store_dir,omitempty"`
	// SyncAlways makes the embedded server fsync every write before acknowledging it (see
	// natsbus.ServerConfig.SyncAlways). It defaults to false.
	SyncAlways bool `yaml:"sync_always" json:"sync_always,omitempty"`
	// Node is this node's id in the fleet, unique (1 to 64 of [A-Za-z0-9_-]): the camera leases'
	// owner and the embedded server's name. It defaults to the host name. Env: MVWATCH_NODE. Flag: -node.
	Node string `yaml:"node" json:"node,omitempty"`
	// Replicas is the copies of each stream and bucket in a cluster: 1, 3 or 5. It defaults to 1.
	Replicas int `yaml:"replicas" json:"replicas,omitempty"`
	// PublishBuffer bounds the events a worker holds while NATS is slow or away; beyond it new ones
	// are dropped and counted. It defaults to 10000.
	PublishBuffer int `yaml:"publish_buffer" json:"publish_buffer,omitempty"`
	// LeaseTTL is the camera lease TTL: a dead worker's cameras run elsewhere within about 1.7 times
	// it. It defaults to 5s (1s..1m).
	LeaseTTL Duration `yaml:"lease_ttl" json:"lease_ttl,omitempty"`
	// Enrich makes this node run caption and thumbnail jobs from the MVWATCH_ENRICH work queue
	// (with the models of the captions and thumbnails sections), whatever its role; false leaves
	// them to other nodes (an events node then only queues them). It defaults to true on the
	// events node (role events or both) and false on a worker. Flag: -enrich (true or false).
	Enrich *bool `yaml:"enrich" json:"enrich,omitempty"`
}

// RunsEnrichment reports whether a node that is (or is not) the events node runs enrichment jobs:
// nats.enrich when set, else events.
func (n NATS) RunsEnrichment(events bool) bool {
	if n.Enrich != nil {
		return *n.Enrich
	}
	return events
}

// NATS defaults.
const (
	DefaultNATSStoreDir      = "nats"
	DefaultNATSReplicas      = 1
	DefaultNATSPublishBuffer = 10000
	DefaultNATSLeaseTTL      = 5 * time.Second
)

// Enabled reports whether NATS is configured (a URL or an embedded server).
func (n NATS) Enabled() bool { return n.URL != "" || n.Listen != "" }

// NATSStoreDir is nats.store_dir, or "nats" next to store.path when it is empty (the default).
func (c *Config) NATSStoreDir() string {
	if c.NATS.StoreDir != "" {
		return c.NATS.StoreDir
	}
	return filepath.Join(filepath.Dir(c.Store.Path), DefaultNATSStoreDir)
}

func (n *NATS) applyDefaults() {
	if n.Replicas == 0 {
		n.Replicas = DefaultNATSReplicas
	}
	if n.PublishBuffer == 0 {
		n.PublishBuffer = DefaultNATSPublishBuffer
	}
	if n.LeaseTTL == 0 {
		n.LeaseTTL = Duration(DefaultNATSLeaseTTL)
	}
}

func (n NATS) validate(p *problems) {
	if n.URL != "" {
		for _, u := range strings.Split(n.URL, ",") {
			if err := checkURL(strings.TrimSpace(u), "nats", "tls"); err != nil {
				p.bad("nats.url", "%v", err)
			}
		}
	}
	forms := 0
	if n.User != "" || n.Password != "" {
		forms++
	}
	if n.Token != "" {
		forms++
	}
	if n.NKeySeed != "" {
		forms++
		if !strings.HasPrefix(n.NKeySeed, "SU") {
			p.bad("nats.nkey_seed", "must be a user nkey seed (SU...)")
		}
	}
	if forms > 1 {
		p.bad("nats.user", "set one of user/password, token or nkey_seed")
	}
	for _, f := range []struct{ path, v string }{{"nats.password", n.Password}, {"nats.token", n.Token}, {"nats.nkey_seed", n.NKeySeed}} {
		if strings.ContainsFunc(f.v, isControlOrBidi) || strings.ContainsAny(f.v, " \t") {
			p.bad(f.path, "must not contain white space or control characters")
		}
	}
	for _, f := range []struct{ path, v string }{{"nats.listen", n.Listen}, {"nats.cluster_listen", n.ClusterListen}} {
		if f.v == "" {
			continue
		}
		if err := CheckListenAddr(f.v); err != nil {
			p.bad(f.path, "%v", err)
		}
	}
	if n.ClusterListen != "" && n.Listen == "" {
		p.bad("nats.cluster_listen", "needs nats.listen (the embedded server's client port)")
	}
	if len(n.Routes) > 0 && n.ClusterListen == "" {
		p.bad("nats.routes", "needs nats.cluster_listen")
	}
	for i, r := range n.Routes {
		if u, err := url.Parse(r); err != nil || u.Scheme != "nats-route" || u.Host == "" {
			p.bad(fmt.Sprintf("nats.routes[%d]", i), "must be nats-route://host:port")
		}
	}
	if n.Node != "" && !ValidName(n.Node) {
		p.bad("nats.node", "must be 1 to 64 of A-Z a-z 0-9 _ -")
	}
	if n.ClusterName != "" && !ValidName(n.ClusterName) {
		p.bad("nats.cluster_name", "must be 1 to 64 of A-Z a-z 0-9 _ -")
	}
	if !slices.Contains([]int{1, 3, 5}, n.Replicas) {
		p.bad("nats.replicas", "must be 1, 3 or 5")
	}
	p.checkQueue("nats.publish_buffer", n.PublishBuffer)
	if d := n.LeaseTTL.D(); d < time.Second || d > time.Minute {
		p.bad("nats.lease_ttl", "must be 1s..1m, not %v", n.LeaseTTL)
	}
}

// redacted returns n with its secrets replaced.
func (n NATS) redacted() NATS {
	var urls []string
	for _, u := range strings.Split(n.URL, ",") {
		urls = append(urls, redactURL(strings.TrimSpace(u)))
	}
	if n.URL != "" {
		n.URL = strings.Join(urls, ",")
	}
	for _, s := range []*string{&n.Password, &n.Token, &n.NKeySeed} {
		if *s != "" {
			*s = redactedMark
		}
	}
	n.Routes = slices.Clone(n.Routes)
	for i, r := range n.Routes {
		n.Routes[i] = redactURL(r)
	}
	return n
}

// String never shows a secret.
func (n NATS) String() string { return fmt.Sprintf("nats %s", n.redacted().URL) }
