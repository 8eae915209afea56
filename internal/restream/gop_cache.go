package restream

import "github.com/pion/rtp"

// DefaultGOPCacheBytes is Config.GOPCacheBytes' default: a 2 s GOP at 16 Mbit/s.
const DefaultGOPCacheBytes = 4 << 20

// gopCache keeps the RTP packets a camera's stream sent since its last random-access unit, bounded
// in payload bytes, so that a viewer who joins mid-GOP is sent them first and starts on a keyframe
// instead of waiting up to a GOP with pictures it cannot decode. The packets are the very ones the
// other viewers got (same sequence numbers and timestamps), so the live packets that follow continue
// them without a gap. Not safe for concurrent use; the camera's mutex guards it.
type gopCache struct {
	maxBytes int
	pkts     []*rtp.Packet
	bytes    int
	// complete is true while pkts start at a random-access unit and nothing was dropped since.
	complete bool
}

// add records the packets of one access unit.
func (g *gopCache) add(randomAccess bool, pkts []*rtp.Packet) {
	if g.maxBytes <= 0 {
		return
	}
	if randomAccess {
		g.reset()
		g.complete = true
	}
	if !g.complete {
		return
	}
	n := 0
	for _, p := range pkts {
		n += len(p.Payload)
	}
	if g.bytes+n > g.maxBytes {
		g.reset() // a GOP too long to keep: late viewers wait for the next keyframe
		return
	}
	g.pkts = append(g.pkts, pkts...)
	g.bytes += n
}

// reset empties the cache until the next random-access unit.
func (g *gopCache) reset() {
	clear(g.pkts)
	g.pkts = g.pkts[:0]
	g.bytes = 0
	g.complete = false
}

// packets returns the cached packets, oldest first; nil when the cache does not start at a keyframe.
func (g *gopCache) packets() []*rtp.Packet {
	if !g.complete {
		return nil
	}
	return g.pkts
}
