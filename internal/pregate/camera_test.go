package pregate

import (
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

// objectClip is the day CRF scene with an object crossing at 5-7 s.
func objectClip(t *testing.T) [][][]byte {
	t.Helper()
	s := measureScene{name: "day crf object", codec: CodecH264, object: true, args: crfArgs}
	return readAccessUnits(t, CodecH264, encode(t, s.codec, s.graph(), s.args...))
}

func framePTS(i int) time.Duration { return time.Duration(i) * time.Second / sceneFPS }

// pushAll runs a camera over a clip and returns the results.
func pushAll(c *Camera, aus [][][]byte) []Result {
	out := make([]Result, len(aus))
	for i, au := range aus {
		out[i] = c.Push(au, framePTS(i))
	}
	return out
}

// requireDecodable checks that what the camera handed to the decoder is a stream a decoder can
// follow: every decoded unit is an IDR or the unit right after the previously decoded one.
func requireDecodable(t *testing.T, results []Result) (decoded []time.Duration) {
	t.Helper()
	index := map[time.Duration]int{}
	for i := range results {
		index[framePTS(i)] = i
	}
	last := -1
	for _, r := range results {
		for _, u := range r.Decode {
			i := index[u.PTS]
			require.True(t, u.IDR || i == last+1, "decoded unit %d follows %d and is no IDR", i, last)
			last = i
			decoded = append(decoded, u.PTS)
		}
	}
	return decoded
}

func TestCameraSleepsAndReplaysTheGOP(t *testing.T) {
	aus := objectClip(t)
	reg := prometheus.NewPedanticRegistry()
	m, err := NewMetrics(reg)
	require.NoError(t, err)
	c, err := NewCamera("cam1", Config{Codec: CodecH264}, m)
	require.NoError(t, err)
	results := pushAll(c, aus)
	decoded := requireDecodable(t, results)

	wakeAt := -1
	for i, r := range results {
		require.NoError(t, r.Err)
		require.Empty(t, r.Fallback)
		if r.WokeUp {
			require.Equal(t, -1, wakeAt, "one wake-up")
			wakeAt = i
			// The replay starts at the GOP's IDR and ends with the current unit.
			require.True(t, r.Decode[0].IDR, "replay starts at an IDR")
			require.Equal(t, framePTS(i), r.Decode[len(r.Decode)-1].PTS)
			require.Greater(t, len(r.Decode), 1)
			require.True(t, r.Resumed, "units were released before the wake-up GOP")
		}
		if r.Resumed {
			require.True(t, r.Decode[0].IDR, "a resumed decode starts at an IDR")
		}
	}
	require.GreaterOrEqual(t, wakeAt, 5*sceneFPS)
	require.LessOrEqual(t, wakeAt, 5*sceneFPS+5)
	// Every unit from the wake-up GOP's IDR to the end of the motion was decoded.
	for i := 5 * sceneFPS; i < 7*sceneFPS; i++ {
		require.Contains(t, decoded, framePTS(i), "unit %d of the event decoded", i)
	}
	st := c.State()
	require.False(t, st.Awake)
	require.Equal(t, uint64(1), st.WakeUps)
	require.Equal(t, uint64(len(aus)), st.AccessUnits)
	require.Equal(t, uint64(len(decoded)), st.Decoded)
	require.Positive(t, st.Skipped)
	require.Equal(t, len(aus), int(st.Decoded+st.Skipped)+st.BufferedUnits-countBufferedDecoded(results, st))
	// A 12 s clip whose object and warm-up take 8 s; an idle camera skips far more.
	require.Less(t, st.DecodeFraction(), 0.95)
	t.Logf("decoded %d of %d access units (fraction %.2f), %d buffered (%d bytes)", st.Decoded, len(aus),
		st.DecodeFraction(), st.BufferedUnits, st.BufferedBytes)

	require.Equal(t, 1.0, testutil.ToFloat64(m.wakeUps.WithLabelValues("cam1")))
	require.Equal(t, 0.0, testutil.ToFloat64(m.awake.WithLabelValues("cam1")))
	require.Equal(t, float64(st.Decoded), testutil.ToFloat64(m.accessUnits.WithLabelValues("cam1", "decoded")))
	require.Equal(t, float64(st.BufferedBytes), testutil.ToFloat64(m.bufferedBytes.WithLabelValues("cam1")))
}

// countBufferedDecoded counts buffered units that were decoded as well (the buffer keeps the GOP
// after decoding it), so the accounting identity holds.
func countBufferedDecoded(results []Result, st State) int {
	n := 0
	seen := map[time.Duration]bool{}
	for _, r := range results {
		for _, u := range r.Decode {
			seen[u.PTS] = true
		}
	}
	for i := len(results) - st.BufferedUnits; i < len(results); i++ {
		if seen[framePTS(i)] {
			n++
		}
	}
	return n
}

func TestCameraFallbacks(t *testing.T) {
	aus := objectClip(t)

	t.Run("gop overflow", func(t *testing.T) {
		c, err := NewCamera("c", Config{Codec: CodecH264, MaxBufferBytes: 3000}, nil)
		require.NoError(t, err)
		results := pushAll(c, aus)
		decoded := requireDecodable(t, results)
		st := c.State()
		require.Positive(t, st.Fallbacks[FallbackGOPOverflow])
		require.Positive(t, st.BufferDrops)
		// The object's GOPs overflow 3000 bytes: the camera decodes them all instead of sleeping
		// through them (idle GOPs are small enough to sleep through).
		for i := 5 * sceneFPS; i < 7*sceneFPS; i++ {
			require.Contains(t, decoded, framePTS(i), "unit %d of the event decoded", i)
		}
	})

	t.Run("no idr", func(t *testing.T) {
		c, err := NewCamera("c", Config{Codec: CodecH264, MaxIDRInterval: time.Second}, nil)
		require.NoError(t, err)
		// The parameter sets alone, then only non-IDR pictures.
		var params [][]byte
		for _, n := range aus[0] {
			if typ := n[0] & 0x1f; typ == 7 || typ == 8 {
				params = append(params, n)
			}
		}
		stream := [][][]byte{params}
		for _, au := range aus[1:] {
			if idr := au[len(au)-1][0]&0x1f == 5; !idr {
				stream = append(stream, au)
			}
		}
		results := pushAll(c, stream)
		st := c.State()
		require.Equal(t, uint64(1), st.Fallbacks[FallbackNoIDR])
		require.Equal(t, FallbackNoIDR, st.Fallback)
		require.True(t, st.Awake)
		for i, r := range results[1:] {
			require.Len(t, r.Decode, 1, "unit %d decoded", i+1)
		}
	})

	t.Run("corrupt slice header", func(t *testing.T) {
		c, err := NewCamera("c", Config{Codec: CodecH264}, nil)
		require.NoError(t, err)
		corruptAt := 4 * sceneFPS // asleep by then
		var results []Result
		for i, au := range aus {
			if i == corruptAt {
				au = cloneAU(au)
				slice := au[len(au)-1]
				slice[1], slice[2], slice[3] = 0x00, 0x00, 0x00 // first_mb_in_slice: an Exp-Golomb code past 32 bits
			}
			results = append(results, c.Push(au, framePTS(i)))
		}
		require.False(t, results[corruptAt-1].Awake, "asleep before the corrupt header")
		r := results[corruptAt]
		require.ErrorIs(t, r.Err, ErrCorrupt)
		require.Equal(t, FallbackCorrupt, r.Fallback)
		require.True(t, r.Awake)
		require.True(t, r.Decode[0].IDR, "the buffered GOP is replayed")
		require.Equal(t, uint64(1), c.State().Fallbacks[FallbackCorrupt])
		// Control returns to the gate at the next IDR.
		require.Empty(t, c.State().Fallback)
	})

	t.Run("unknown codec", func(t *testing.T) {
		_, err := NewCamera("c", Config{Codec: "mjpeg"}, nil)
		require.ErrorIs(t, err, ErrUnsupported)
	})
}

func TestCameraDiscontinuity(t *testing.T) {
	aus := objectClip(t)[:4*sceneFPS+3]
	c, err := NewCamera("c", Config{Codec: CodecH264}, nil)
	require.NoError(t, err)
	pushAll(c, aus)
	require.False(t, c.State().Awake)
	require.Positive(t, c.State().BufferedUnits)
	c.Discontinuity()
	st := c.State()
	require.Zero(t, st.BufferedUnits)
	require.Zero(t, st.BufferedBytes)
}

func TestMetricsPresentFromStart(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m, err := NewMetrics(reg)
	require.NoError(t, err)
	c, err := NewCamera("front", Config{Codec: CodecH265}, m)
	require.NoError(t, err)
	want := `
# HELP mvwatch_pregate_awake 1 while the camera's pre-decode gate lets the decoder run, 0 while it sleeps.
# TYPE mvwatch_pregate_awake gauge
mvwatch_pregate_awake{camera="front"} 1
# HELP mvwatch_pregate_buffer_dropped_access_units_total Access units discarded from the GOP buffer because a GOP exceeded its byte bound.
# TYPE mvwatch_pregate_buffer_dropped_access_units_total counter
mvwatch_pregate_buffer_dropped_access_units_total{camera="front"} 0
# HELP mvwatch_pregate_buffered_access_units Access units held in the camera's GOP buffer.
# TYPE mvwatch_pregate_buffered_access_units gauge
mvwatch_pregate_buffered_access_units{camera="front"} 0
# HELP mvwatch_pregate_buffered_bytes Bytes held in the camera's GOP buffer.
# TYPE mvwatch_pregate_buffered_bytes gauge
mvwatch_pregate_buffered_bytes{camera="front"} 0
# HELP mvwatch_pregate_fallbacks_total Switches to plain decoding (every access unit decoded) by reason.
# TYPE mvwatch_pregate_fallbacks_total counter
mvwatch_pregate_fallbacks_total{camera="front",reason="corrupt_slice_header"} 0
mvwatch_pregate_fallbacks_total{camera="front",reason="gop_overflow"} 0
mvwatch_pregate_fallbacks_total{camera="front",reason="missing_parameter_set"} 0
mvwatch_pregate_fallbacks_total{camera="front",reason="no_idr"} 0
mvwatch_pregate_fallbacks_total{camera="front",reason="unsupported_bitstream"} 0
# HELP mvwatch_pregate_keyframe_checks_total Keyframes decoded while the camera slept to catch slow changes, by outcome (unchanged, or changed: the camera woke).
# TYPE mvwatch_pregate_keyframe_checks_total counter
mvwatch_pregate_keyframe_checks_total{camera="front",outcome="changed"} 0
mvwatch_pregate_keyframe_checks_total{camera="front",outcome="unchanged"} 0
# HELP mvwatch_pregate_wakeups_total Asleep-to-awake transitions of the pre-decode gate caused by motion in the bitstream.
# TYPE mvwatch_pregate_wakeups_total counter
mvwatch_pregate_wakeups_total{camera="front"} 0
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want+accessUnitsZero)))
	c.Close()
	n, err := testutil.GatherAndCount(reg)
	require.NoError(t, err)
	require.Zero(t, n, "series removed on Close")
	_, err = NewMetrics(reg)
	require.Error(t, err, "a second registration on the same registry fails")
}

const accessUnitsZero = `# HELP mvwatch_pregate_access_units_total Access units by outcome: decoded (handed to the decoder, replays included) or skipped (released undecoded).
# TYPE mvwatch_pregate_access_units_total counter
mvwatch_pregate_access_units_total{camera="front",outcome="decoded"} 0
mvwatch_pregate_access_units_total{camera="front",outcome="skipped"} 0
`

func TestGOPBuffer(t *testing.T) {
	b := NewGOPBuffer(100)
	require.False(t, b.Push(Unit{Bytes: 10}), "nothing kept before an IDR")
	require.False(t, b.Complete())
	require.True(t, b.Push(Unit{IDR: true, Bytes: 40}))
	require.True(t, b.Push(Unit{Bytes: 40}))
	require.Equal(t, 2, b.Len())
	require.Equal(t, 80, b.Bytes())
	require.False(t, b.Push(Unit{Bytes: 40}), "overflow")
	require.Equal(t, uint64(1), b.Overflows())
	require.Equal(t, uint64(3), b.Drops())
	require.False(t, b.Complete())
	require.Zero(t, b.Len())
	require.False(t, b.Push(Unit{Bytes: 1}), "waits for the next IDR")
	require.True(t, b.Push(Unit{IDR: true, Bytes: 100}))
	require.True(t, b.Push(Unit{IDR: true, Bytes: 5}), "an IDR starts a new GOP")
	require.Equal(t, 1, b.Len())
}

// TestGOPWindow: a window buffer keeps whole GOPs back to the last IDR at or before newest - window,
// drops the oldest GOPs (not everything) to stay within its bound, and Since finds a clip's IDR.
func TestGOPWindow(t *testing.T) {
	s := time.Second
	b := NewGOPWindow(1000, 3*s)
	// GOPs of 1 s: IDR every 10 units of 100 ms, 10 bytes each.
	for i := 0; i < 60; i++ {
		require.True(t, b.Push(Unit{IDR: i%10 == 0, PTS: time.Duration(i) * 100 * time.Millisecond, Bytes: 10}))
	}
	// Newest IDR at 5 s: the buffer starts at the IDR at or before 2 s.
	require.Equal(t, 2*s, b.Units()[0].PTS)
	require.True(t, b.Units()[0].IDR)
	require.Equal(t, 40, b.Len())
	require.Equal(t, 400, b.Bytes())
	require.Zero(t, b.Drops(), "GOPs older than the window are released, not dropped")
	got := b.Since(3500 * time.Millisecond)
	require.Equal(t, 3*s, got[0].PTS)
	require.Equal(t, 2*s, b.Since(0)[0].PTS, "before the buffer: from its first IDR")

	// Bigger units: the oldest GOPs go to make room, the newest stay.
	for i := 60; i < 70; i++ {
		require.True(t, b.Push(Unit{IDR: i%10 == 0, PTS: time.Duration(i) * 100 * time.Millisecond, Bytes: 80}))
	}
	require.LessOrEqual(t, b.Bytes(), 1000)
	require.Equal(t, 6*s, b.Units()[len(b.Units())-10].PTS)
	require.Positive(t, b.Drops())
	require.Zero(t, b.Overflows())
	require.True(t, b.Units()[0].IDR)

	// One GOP over the bound empties it.
	require.False(t, b.Push(Unit{PTS: 7 * s, Bytes: 2000}))
	require.Equal(t, uint64(1), b.Overflows())
	require.Zero(t, b.Len())
}

func TestCameraKeyframeCheckWakes(t *testing.T) {
	s := measureScene{name: "day crf", codec: CodecH264, args: crfArgs}
	aus := readAccessUnits(t, CodecH264, encode(t, s.codec, s.graph(), s.args...))
	c, err := NewCamera("cam1", Config{Codec: CodecH264}, nil)
	require.NoError(t, err)
	// Push the quiet start until the camera sleeps with a whole GOP buffered undecoded.
	idr := func(i int) bool { return h264.IsRandomAccess(aus[i]) }
	i, asleepAt := 0, -1
	for ; i < len(aus); i++ {
		if asleepAt >= 0 && idr(i) && i > asleepAt+1 {
			break
		}
		r := c.Push(aus[i], framePTS(i))
		if !r.Awake && asleepAt < 0 && r.Picture.IDR {
			asleepAt = i
		}
	}
	require.Positive(t, asleepAt)
	require.False(t, c.Awake())
	c.KeyframeChecked(KeyframeUnchanged, framePTS(i))
	// An unchanged keyframe keeps the camera asleep: its IDR releases the old GOP.
	r := c.Push(aus[i], framePTS(i))
	require.False(t, r.Awake)
	require.Empty(t, r.Decode)
	// Sleep through to the next IDR; a changed keyframe wakes the camera at it, with the old GOP.
	for i++; !idr(i); i++ {
		require.False(t, c.Push(aus[i], framePTS(i)).Awake)
	}
	gopStart := i - c.State().BufferedUnits
	c.KeyframeChecked(KeyframeContent, framePTS(i))
	r = c.Push(aus[i], framePTS(i))
	require.True(t, r.Awake, "a changed keyframe wakes the camera")
	require.True(t, r.Resumed)
	require.Len(t, r.Decode, i-gopStart+1, "the old GOP and the new IDR")
	require.True(t, r.Decode[0].IDR)
	require.Equal(t, framePTS(gopStart), r.Decode[0].PTS)
	st := c.State()
	require.Equal(t, uint64(2), st.KeyframeChecks)
	require.Equal(t, uint64(1), st.KeyframeWakeUps)

	// A content change keeps the learned floors: the quiet scene puts the camera back to sleep
	// once the hold after that keyframe has passed, with no new warm-up (3 s).
	woke := framePTS(i)
	for i++; i < len(aus) && c.Awake(); i++ {
		c.Push(aus[i], framePTS(i))
	}
	require.False(t, c.Awake(), "asleep again")
	slept := framePTS(i - 1)
	require.GreaterOrEqual(t, slept-woke, 2*time.Second, "held for the default hold")
	require.Less(t, slept-woke, 2*time.Second+time.Second, "no warm-up: the floors stayed")

}

func TestCameraKeyframeLightResetsFloors(t *testing.T) {
	s := measureScene{name: "day crf", codec: CodecH264, args: crfArgs}
	aus := readAccessUnits(t, CodecH264, encode(t, s.codec, s.graph(), s.args...))
	c, err := NewCamera("cam1", Config{Codec: CodecH264}, nil)
	require.NoError(t, err)
	idr := func(i int) bool { return h264.IsRandomAccess(aus[i]) }
	i := 0
	for ; i < len(aus) && (c.Awake() || !idr(i)); i++ {
		c.Push(aus[i], framePTS(i))
	}
	require.Less(t, i, len(aus), "asleep at an IDR")
	c.KeyframeChecked(KeyframeLight, framePTS(i))
	woke := framePTS(i)
	require.True(t, c.Push(aus[i], framePTS(i)).Awake)
	for i++; i < len(aus) && c.Awake(); i++ {
		c.Push(aus[i], framePTS(i))
	}
	// The floors were forgotten: the camera stays awake through a whole new warm-up (3 s).
	require.GreaterOrEqual(t, framePTS(i-1)-woke, 3*time.Second)
	require.Equal(t, uint64(1), c.State().KeyframeWakeUps)
}
