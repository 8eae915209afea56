package demux

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/mvwatch/mvwatch/internal/media"
)

// ErrNoRandomAccess is returned by Decode for access units dropped while the decoder waits for the first
// random-access unit of a stream (a stream joined mid-GOP cannot be decoded before it).
var ErrNoRandomAccess = errors.New("demux: waiting for a random-access unit")

var ffmpegLogOnce sync.Once

// quietFFmpeg keeps FFmpeg's own log at error level: decode errors are counted in Stats and reported by
// the caller, and a corrupt stream must not flood the service's log with warnings.
func quietFFmpeg() {
	ffmpegLogOnce.Do(func() { astiav.SetLogLevel(astiav.LogLevelError) })
}

// Decoder decodes one video stream with FFmpeg. It is not safe for concurrent use: one goroutine owns it.
type Decoder struct {
	cfg      DecoderConfig
	codec    *astiav.Codec
	cc       *astiav.CodecContext
	pkt      *astiav.Packet
	frm      *astiav.Frame
	swFrm    *astiav.Frame // hardware frames are transferred here
	hw       HWStatus
	hwPixFmt astiav.PixelFormat
	timeBase astiav.Rational
	frameDur time.Duration // nominal frame duration, for streams without timestamps; 0 if unknown

	out   media.Frame
	mvBuf []byte
	yuv   []byte // NV12 frames from hardware are split into planar 4:2:0 here
	buf   []byte // Annex-B assembly buffer for access units
	stats Stats
	auID  astiav.CodecID // set for decoders opened lazily from access units
	open  bool
}

// ErrDecode is wrapped by the errors of packets or access units that the decoder refused as invalid;
// decoding can go on with the next one.
var ErrDecode = errors.New("demux: decode error")

// ErrNoMotionVectors is returned when motion vectors are asked for from a codec whose FFmpeg decoder
// cannot export them (MJPEG, VP9, AV1, ...).
var ErrNoMotionVectors = errors.New("demux: codec exports no motion vectors")

// mvCodecs are the codecs whose FFmpeg 5.1 decoders export motion vectors (H.264 and the mpegvideo
// family). HEVC decodes, but FFmpeg 5.1's HEVC decoder exports none: frames then carry no vectors.
var mvCodecs = map[astiav.CodecID]bool{
	astiav.CodecIDH264:       true,
	astiav.CodecIDMpeg4:      true,
	astiav.CodecIDMpeg1Video: true,
	astiav.CodecIDMpeg2Video: true,
	astiav.CodecIDH263:       true,
	astiav.CodecIDH263P:      true,
	astiav.CodecIDFlv1:       true,
	astiav.CodecIDHevc:       true,
}

var codecIDs = map[media.Codec]astiav.CodecID{
	media.CodecH264: astiav.CodecIDH264,
	media.CodecH265: astiav.CodecIDHevc,
}

// NewDecoder returns a decoder for access units of the given codec, such as those an ingest.Client
// delivers. It opens on the first random-access unit, so it can pick the thread type from its SPS.
func NewDecoder(codec media.Codec, cfg DecoderConfig) (*Decoder, error) {
	id, ok := codecIDs[codec]
	if !ok {
		return nil, fmt.Errorf("demux: unsupported codec %q (want h264 or h265)", codec)
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	quietFFmpeg()
	return &Decoder{cfg: cfg, auID: id, timeBase: astiav.NewRational(1, 1_000_000)}, nil
}

// openDecoder allocates and opens the codec context. params may be nil (access-unit decoders).
// On error everything allocated so far is freed.
func (d *Decoder) openDecoder(id astiav.CodecID, params *astiav.CodecParameters, mayReorder bool) (err error) {
	defer func() {
		if err != nil {
			d.free()
		}
	}()
	d.hw = HWStatus{Requested: d.cfg.HWAccel, Active: HWNone}
	var hdc *astiav.HardwareDeviceContext
	if d.cfg.HWAccel != HWNone {
		if d.cfg.MotionVectors {
			d.hw.Reason = errNoMVsInHardware.Error()
		} else {
			var kind HWAccel
			var herr error
			hdc, kind, herr = openHWDevice(d.cfg.HWAccel)
			if herr != nil {
				d.hw.Reason = herr.Error()
			} else {
				d.hw.Active = kind
			}
		}
		if d.hw.Active == HWNone {
			d.cfg.Logger.Warn("demux: hardware decoder not used, decoding in software",
				"requested", string(d.cfg.HWAccel), "reason", d.hw.Reason)
		}
	}
	d.codec = astiav.FindDecoder(id)
	if d.codec == nil {
		return fmt.Errorf("demux: unsupported codec %s: no FFmpeg decoder", id)
	}
	if d.cfg.MotionVectors && !mvCodecs[id] {
		return fmt.Errorf("%w: %s (supported: h264, mpeg4, mpeg1/2 video, h263, flv1; hevc without vectors)", ErrNoMotionVectors, d.codec.Name())
	}
	if d.cfg.MotionVectors && id == astiav.CodecIDHevc {
		d.cfg.Logger.Warn("demux: FFmpeg 5.1's HEVC decoder exports no motion vectors; frames carry none")
	}
	if d.cc = astiav.AllocCodecContext(d.codec); d.cc == nil {
		return errors.New("demux: cannot allocate codec context")
	}
	if params != nil {
		if err := params.ToCodecContext(d.cc); err != nil {
			return fmt.Errorf("demux: codec parameters: %w", err)
		}
	}
	if hdc != nil {
		pf, ok := hwPixelFormat(d.codec, hwDeviceTypes[d.hw.Active])
		if !ok {
			d.hw = HWStatus{Requested: d.cfg.HWAccel, Active: HWNone,
				Reason: fmt.Sprintf("decoder %s has no %s configuration", d.codec.Name(), d.hw.Active)}
			d.cfg.Logger.Warn("demux: hardware decoder not used, decoding in software",
				"requested", string(d.cfg.HWAccel), "reason", d.hw.Reason)
		} else {
			d.hwPixFmt = pf
			d.cc.SetHardwareDeviceContext(hdc)
			d.cc.SetPixelFormatCallback(func(pfs []astiav.PixelFormat) astiav.PixelFormat {
				for _, p := range pfs {
					if p == pf {
						return p
					}
				}
				return pfs[0]
			})
			d.swFrm = astiav.AllocFrame()
		}
	}
	d.cc.SetThreadCount(d.cfg.Threads)
	tt := d.cfg.ThreadType
	if tt == ThreadAuto {
		tt = ThreadFrame
		if mayReorder {
			tt = ThreadSlice
		}
	}
	if tt == ThreadFrame {
		d.cc.SetThreadType(astiav.ThreadTypeFrame)
	} else {
		d.cc.SetThreadType(astiav.ThreadTypeSlice)
	}
	if d.cfg.MotionVectors {
		d.cc.SetFlags2(d.cc.Flags2().Add(astiav.CodecFlag2ExportMvs))
	}
	var opts *astiav.Dictionary
	if d.cfg.SkipLoopFilter {
		opts = astiav.NewDictionary()
		defer opts.Free()
		if err := opts.Set("skip_loop_filter", "all", 0); err != nil {
			return fmt.Errorf("demux: %s decoder option: %w", d.codec.Name(), err)
		}
	}
	if err := d.cc.Open(d.codec, opts); err != nil {
		return fmt.Errorf("demux: open %s decoder: %w", d.codec.Name(), err)
	}
	d.pkt = astiav.AllocPacket()
	d.frm = astiav.AllocFrame()
	d.open = true
	return nil
}

// HW reports what the hardware-decoder choice came to. It is meaningful once the decoder has opened.
func (d *Decoder) HW() HWStatus { return d.hw }

// Stats returns the decoder's counters.
func (d *Decoder) Stats() Stats { return d.stats }

// Decode sends one access unit to the decoder and calls fn for each frame it outputs. Access units before
// the first random-access unit are dropped with ErrNoRandomAccess. An access unit the decoder refuses as
// invalid is counted in Stats.DecodeErrors and reported as an error wrapping ErrDecode; decoding may go
// on with the next one. An error returned by fn is returned as is.
func (d *Decoder) Decode(au media.AccessUnit, fn func(*media.Frame) error) error {
	if !d.open {
		if !au.RandomAccess {
			d.stats.Skipped++
			return ErrNoRandomAccess
		}
		mayReorder := true
		if d.auID == astiav.CodecIDH264 {
			mayReorder = h264MayReorder(nil, au.NALUs)
		}
		if err := d.openDecoder(d.auID, nil, mayReorder); err != nil {
			return err
		}
	}
	d.buf = d.buf[:0]
	for _, n := range au.NALUs {
		d.buf = append(d.buf, 0, 0, 0, 1)
		d.buf = append(d.buf, n...)
	}
	if len(d.buf) == 0 {
		return nil
	}
	if err := fillPacket(d.pkt, d.buf); err != nil {
		return err
	}
	d.pkt.SetPts(au.PTS.Microseconds())
	if au.RandomAccess {
		d.pkt.SetFlags(d.pkt.Flags().Add(astiav.PacketFlagKey))
	}
	defer d.pkt.Unref()
	return d.send(d.pkt, fn)
}

// Flush drains the frames the decoder still holds (at the end of a stream) and resets it for a new one.
func (d *Decoder) Flush(fn func(*media.Frame) error) error {
	if !d.open {
		return nil
	}
	return d.send(nil, fn)
}

// send feeds one packet (nil drains) and receives every frame it releases.
func (d *Decoder) send(pkt *astiav.Packet, fn func(*media.Frame) error) error {
	if pkt != nil {
		d.stats.Packets++
	}
	var sendErr error
	if err := d.cc.SendPacket(pkt); err != nil && !errors.Is(err, astiav.ErrEof) {
		if !errors.Is(err, astiav.ErrEagain) {
			d.stats.DecodeErrors++
			sendErr = fmt.Errorf("%w: packet %d: %w", ErrDecode, d.stats.Packets, err)
		}
	}
	for {
		err := d.cc.ReceiveFrame(d.frm)
		if errors.Is(err, astiav.ErrEagain) {
			return sendErr
		}
		if errors.Is(err, astiav.ErrEof) {
			if pkt == nil {
				flushBuffers(d.cc)
			}
			return sendErr
		}
		if err != nil {
			d.stats.DecodeErrors++
			return fmt.Errorf("%w: %w", ErrDecode, err)
		}
		err = d.emit(fn)
		d.frm.Unref()
		if err != nil {
			return err
		}
	}
}

// emit converts the received AVFrame into d.out and hands it to fn.
func (d *Decoder) emit(fn func(*media.Frame) error) error {
	src := d.frm
	if d.swFrm != nil && d.frm.PixelFormat() == d.hwPixFmt {
		if d.cfg.Pixels {
			if err := d.frm.TransferHardwareData(d.swFrm); err != nil {
				return fmt.Errorf("demux: copy frame from %s: %w", d.hw.Active, err)
			}
			defer d.swFrm.Unref()
			src = d.swFrm
		}
	}
	if err := copyFrame(&d.out, &d.mvBuf, &d.yuv, src, d.cfg.Pixels && (src != d.frm || d.swFrm == nil || d.frm.PixelFormat() != d.hwPixFmt)); err != nil {
		return err
	}
	d.out.Index = int(d.stats.Frames)
	d.stats.Frames++
	d.out.PictType = pictTypeLetter(d.frm.PictureType())
	d.out.KeyFrame = d.frm.KeyFrame()
	d.out.PTS = -1
	pts := d.frm.Pts()
	if pts == astiav.NoPtsValue {
		pts = bestEffortTimestamp(d.frm)
	}
	switch {
	case pts != astiav.NoPtsValue:
		d.out.PTS = time.Duration(astiav.RescaleQ(pts, d.timeBase, astiav.NewRational(1, int(time.Second))))
	case d.frameDur > 0: // no timestamps at all: count frames at the stream's nominal rate
		d.out.PTS = time.Duration(d.out.Index) * d.frameDur
	}
	return fn(&d.out)
}

func pictTypeLetter(t astiav.PictureType) byte {
	switch t {
	case astiav.PictureTypeI:
		return 'I'
	case astiav.PictureTypeP:
		return 'P'
	case astiav.PictureTypeB:
		return 'B'
	case astiav.PictureTypeS:
		return 'S'
	case astiav.PictureTypeSi:
		return 'i'
	case astiav.PictureTypeSp:
		return 'p'
	case astiav.PictureTypeBi:
		return 'b'
	}
	return '?'
}

// free releases every FFmpeg object the decoder holds.
func (d *Decoder) free() {
	if d.frm != nil {
		d.frm.Free()
		d.frm = nil
	}
	if d.swFrm != nil {
		d.swFrm.Free()
		d.swFrm = nil
	}
	if d.pkt != nil {
		d.pkt.Free()
		d.pkt = nil
	}
	if d.cc != nil {
		d.cc.SetPixelFormatCallback(nil)
		d.cc.Free()
		d.cc = nil
	}
	d.open = false
}

// Close frees the decoder. It is safe to call more than once.
func (d *Decoder) Close() { d.free() }
