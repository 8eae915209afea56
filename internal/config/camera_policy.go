package config

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// CameraPolicy limits where cameras may point, so that whoever may add a camera cannot make mvwatch
// connect to anything else (a cloud metadata service, a link-local device): an allow-list of URL
// schemes and ports and a deny-list of address ranges. The config, the API's camera routes
// (CheckURL) and the camera dialer (DialControl: host names are checked once resolved) apply it.
type CameraPolicy struct {
	// Schemes lists the URL schemes cameras may use, a subset of CameraSchemes. It defaults to
	// CameraSchemes (rtsp, rtsps).
	Schemes []string `yaml:"schemes" json:"schemes"`
	// Ports lists the ports cameras may use (a URL without a port uses its scheme's: 554 for rtsp,
	// 322 for rtsps). It defaults to none, which allows every port 1..65535.
	Ports []int `yaml:"ports" json:"ports,omitempty"`
	// DenyNetworks lists address ranges (CIDR) cameras may not be at. It defaults to
	// DefaultDenyNetworks; an empty list ([]) denies nothing.
	DenyNetworks []string `yaml:"deny_networks" json:"deny_networks"`
}

// DefaultDenyNetworks are the ranges no camera is at: link-local IPv4 (where cloud metadata services
// answer, 169.254.169.254) and IPv6, the AWS IPv6 metadata address, "this network" (0.0.0.0 reaches
// the local host), multicast and broadcast. Loopback and private LAN ranges stay allowed: cameras
// live there.
var DefaultDenyNetworks = []string{
	"169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128", "0.0.0.0/8", "224.0.0.0/4", "ff00::/8", "255.255.255.255/32",
}

// ErrCameraDenied is wrapped by the errors of CheckURL and DialControl for an address or port the
// policy refuses.
var ErrCameraDenied = errors.New("denied by camera_policy")

func (c *CameraPolicy) applyDefaults() {
	if c.Schemes == nil {
		c.Schemes = slices.Clone(CameraSchemes)
	}
	if c.DenyNetworks == nil {
		c.DenyNetworks = slices.Clone(DefaultDenyNetworks)
	}
}

func (c CameraPolicy) validate(p *problems) {
	if len(c.Schemes) == 0 {
		p.bad("camera_policy.schemes", "must list at least one of %s", strings.Join(CameraSchemes, ", "))
	}
	for i, s := range c.Schemes {
		if !slices.Contains(CameraSchemes, s) {
			p.bad(fmt.Sprintf("camera_policy.schemes[%d]", i), "must be one of %s, not %q", strings.Join(CameraSchemes, ", "), s)
		}
	}
	for i, n := range c.Ports {
		if n < 1 || n > 65535 {
			p.bad(fmt.Sprintf("camera_policy.ports[%d]", i), "must be 1..65535, not %d", n)
		}
	}
	for i, s := range c.DenyNetworks {
		if _, err := netip.ParsePrefix(s); err != nil {
			p.bad(fmt.Sprintf("camera_policy.deny_networks[%d]", i), "want a CIDR range such as 169.254.0.0/16, got %q", s)
		}
	}
}

// defaultPort is the port of a camera URL without one.
func defaultPort(scheme string) int {
	if strings.EqualFold(scheme, "rtsps") {
		return 322
	}
	return 554
}

// CheckURL checks a camera URL against the policy: a scheme of Schemes, a host, an allowed port and,
// for an IP address host, no denied range. A host name is checked when it is dialled (DialControl).
// The error never quotes the URL (it may hold a password); it wraps ErrCameraDenied for what the
// policy refuses. A zero CameraPolicy is the default policy.
func (c CameraPolicy) CheckURL(raw string) error {
	c = c.withDefaults()
	if err := checkURL(raw, c.Schemes...); err != nil {
		return err
	}
	u, _ := url.Parse(raw) // checkURL parsed it
	port := defaultPort(u.Scheme)
	if s := u.Port(); s != "" {
		port, _ = strconv.Atoi(s)
	}
	if err := c.checkPort(port); err != nil {
		return err
	}
	host := u.Hostname()
	if addr, err := netip.ParseAddr(host); err == nil {
		return c.checkAddr(addr)
	}
	if looksNumeric(host) {
		// "2852039166", "0xa9fea9fe", "169.254.43518": forms some resolvers take as IPv4 addresses.
		return errors.New("host looks like an IP address in a non-standard form: write it as a dotted quad (a.b.c.d)")
	}
	return nil
}

// DialControl is a net.Dialer Control function that refuses connections to denied addresses and
// ports after name resolution, so a host name (or a DNS answer changed later) cannot lead a camera
// elsewhere. A zero CameraPolicy is the default policy.
func (c CameraPolicy) DialControl(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("camera address %q: %w", address, err)
	}
	c = c.withDefaults()
	if err := c.checkPort(int(ap.Port())); err != nil {
		return err
	}
	return c.checkAddr(ap.Addr())
}

// withDefaults returns c with the defaults of fields left out (a CameraPolicy built in code).
func (c CameraPolicy) withDefaults() CameraPolicy {
	c.applyDefaults()
	return c
}

func (c CameraPolicy) checkPort(port int) error {
	if len(c.Ports) > 0 && !slices.Contains(c.Ports, port) {
		return fmt.Errorf("port %d is not in camera_policy.ports: %w", port, ErrCameraDenied)
	}
	return nil
}

func (c CameraPolicy) checkAddr(addr netip.Addr) error {
	addr = addr.Unmap().WithZone("")
	for _, s := range c.DenyNetworks {
		pfx, err := netip.ParsePrefix(s) // a few short strings: parsed on each check, never stale
		if err != nil {
			continue // reported by validation
		}
		if pfx.Masked().Contains(addr) {
			return fmt.Errorf("address %s is in %s of camera_policy.deny_networks: %w", addr, pfx, ErrCameraDenied)
		}
	}
	return nil
}

// looksNumeric reports a host made only of digits, dots and hex digits after a 0x, which is no DNS
// name anyone gives a camera but some resolvers read as an IPv4 address.
func looksNumeric(host string) bool {
	h := strings.ToLower(host)
	if strings.HasPrefix(h, "0x") {
		return true
	}
	return h != "" && strings.Trim(h, "0123456789.") == ""
}
