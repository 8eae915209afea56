package natsbus

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkEndToEnd measures events per second from Publisher.PublishEvent through the EVENTS
// stream (file storage) to a durable Consumer that acknowledges each one, on one embedded server,
// in-process and over loopback TCP:
//
//	go test -run '^$' -bench EndToEnd -benchtime 20000x ./internal/natsbus
func BenchmarkEndToEnd(b *testing.B) {
	for _, mode := range []string{"in-process", "tcp"} {
		b.Run(mode, func(b *testing.B) {
			cfg := ServerConfig{DataDir: b.TempDir(), Logger: slog.New(slog.DiscardHandler)}
			if mode == "tcp" {
				cfg.Listen = "127.0.0.1:0"
			}
			s, err := StartServer(cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Shutdown()
			cc := ConnConfig{Server: s, Logger: slog.New(slog.DiscardHandler)}
			if mode == "tcp" {
				cc = ConnConfig{URL: s.ClientURL(), Logger: slog.New(slog.DiscardHandler)}
			}
			ctx := context.Background()
			c, err := Connect(ctx, cc, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			if err := EnsureStreams(ctx, c.JetStream(), StreamsConfig{}); err != nil {
				b.Fatal(err)
			}
			var got atomic.Int64
			k, err := StartConsumer(ctx, c, nil, ConsumerConfig{Stream: EventsStream, Durable: "store",
				Logger:  slog.New(slog.DiscardHandler),
				Handler: func(context.Context, Msg) error { got.Add(1); return nil }})
			if err != nil {
				b.Fatal(err)
			}
			defer k.Close()
			p, err := NewPublisher(c, nil, PublisherConfig{Buffer: b.N + 1, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			payload := []byte(`{"id":"00000000000000000000000000","camera":"cam-1","class":"person","start":"2026-12-02T06:00:00Z","score":0.91,"zones":["door"]}`)
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				p.PublishEvent(fmt.Sprintf("cam-%d", i%16), fmt.Sprintf("ev-%d", i), payload)
			}
			for got.Load() < int64(b.N) {
				time.Sleep(time.Millisecond)
			}
			el := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/el.Seconds(), "events/s")
			_ = p.Close(ctx)
		})
	}
}
