package restream

import (
	"errors"
	"fmt"
	"net"
	"strconv"
)

// udpPair is the RTP and RTCP sockets of the UDP transport, opened before the gortsplib server
// starts so that port 0 can mean "a free even/odd pair"; the server takes them through its
// ListenPacket hook.
type udpPair struct {
	rtpAddr, rtcpAddr string
	rtp, rtcp         net.PacketConn
}

// openUDPPair opens RTP on addr and RTCP on the next port; nil for addr "".
func openUDPPair(addr string) (*udpPair, error) {
	if addr == "" {
		return nil, nil
	}
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("udp address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65534 || port%2 != 0 {
		return nil, fmt.Errorf("udp address %q: want an even RTP port below 65535 (RTCP uses the next one)", addr)
	}
	if port != 0 {
		return listenPair(host, port)
	}
	var last error
	for range 50 { // a free even port whose successor is free too
		probe, err := net.ListenPacket("udp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, fmt.Errorf("udp listen: %w", err)
		}
		p := probe.LocalAddr().(*net.UDPAddr).Port
		probe.Close()
		p &^= 1
		if p == 0 {
			continue
		}
		pair, err := listenPair(host, p)
		if err == nil {
			return pair, nil
		}
		last = err
	}
	return nil, fmt.Errorf("udp: no free port pair: %w", last)
}

func listenPair(host string, port int) (*udpPair, error) {
	u := &udpPair{rtpAddr: net.JoinHostPort(host, strconv.Itoa(port)), rtcpAddr: net.JoinHostPort(host, strconv.Itoa(port+1))}
	var err error
	if u.rtp, err = net.ListenPacket("udp", u.rtpAddr); err != nil {
		return nil, fmt.Errorf("udp listen %s: %w", u.rtpAddr, err)
	}
	if u.rtcp, err = net.ListenPacket("udp", u.rtcpAddr); err != nil {
		u.rtp.Close()
		return nil, fmt.Errorf("udp listen %s: %w", u.rtcpAddr, err)
	}
	return u, nil
}

// listenPacket hands the server the pre-opened sockets (once each); other addresses are listened on.
func (u *udpPair) listenPacket(network, address string) (net.PacketConn, error) {
	if u != nil {
		switch {
		case address == u.rtpAddr && u.rtp != nil:
			c := u.rtp
			u.rtp = nil
			return c, nil
		case address == u.rtcpAddr && u.rtcp != nil:
			c := u.rtcp
			u.rtcp = nil
			return c, nil
		}
	}
	if network == "" {
		return nil, errors.New("udp: no network")
	}
	return net.ListenPacket(network, address)
}

// close closes the sockets the server did not take.
func (u *udpPair) close() {
	if u == nil {
		return
	}
	for _, c := range []net.PacketConn{u.rtp, u.rtcp} {
		if c != nil {
			c.Close()
		}
	}
}
