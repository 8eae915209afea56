package llmgen

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// BenchmarkCaption reports speculative vs autoregressive throughput of the caption models as a
// ratio measured in the same process, on the prompts and settings of `mvwatch bench caption`
// (run: go test -run XXX -bench Caption -benchtime 1x ./llmgen/).
func BenchmarkCaption(b *testing.B) {
	target, draft := loadPair(b)
	var prompts [][]int
	for _, ev := range SampleEvents(60, 7) {
		prompts = append(prompts, target.Tokenizer.Encode(ev.Prompt()))
	}
	for _, s := range []Sampling{{}, {Temperature: 0.7, Seed: 7}} {
		b.Run("temperature="+map[bool]string{true: "0", false: "0.7"}[s.Greedy()], func(b *testing.B) {
			g, err := NewGenerator(target, draft, GeneratorConfig{MaxNewTokens: 64})
			require.NoError(b, err)
			_, err = Bench(g, prompts[:3], s)
			require.NoError(b, err)
			var last BenchResult
			for b.Loop() {
				last, err = Bench(g, prompts, s)
				require.NoError(b, err)
			}
			b.ReportMetric(last.Speedup(), "speedup")
			b.ReportMetric(last.DecodeSpeedup(), "decode_speedup")
			b.ReportMetric(last.Spec.AcceptanceRate(), "acceptance")
			b.ReportMetric(last.TargetTokensPerSecond(), "target_tok/s")
			b.ReportMetric(last.SpecTokensPerSecond(), "spec_tok/s")
			b.ReportMetric(last.Spec.MeanK(), "mean_k")
			b.ReportMetric(float64(last.Identical)/float64(last.Prompts), "identical_frac")
		})
	}
}

// BenchmarkDecoderStep times single forward calls after a 45-token context: the target with 1 to 13
// new tokens (a plain decoding step, and verification steps of K+1 tokens) and the draft with 1
// (run: go test -run XXX -bench DecoderStep ./llmgen/).
func BenchmarkDecoderStep(b *testing.B) {
	target, draft := loadPair(b)
	ctx := target.Tokenizer.Encode(SampleEvents(1, 7)[0].Prompt())
	for len(ctx) < 45 {
		ctx = append(ctx, ctx[len(ctx)%8])
	}
	ctx = ctx[:45]
	for _, c := range []struct {
		name string
		m    *Model
		n    int
	}{{"draft/1", draft, 1}, {"target/1", target, 1}, {"target/5", target, 5}, {"target/9", target, 9},
		{"target/13", target, 13}} {
		b.Run(c.name, func(b *testing.B) {
			d := c.m.Decoder
			d.Reset()
			_, err := d.Forward(ctx)
			require.NoError(b, err)
			step := ctx[:c.n]
			for b.Loop() {
				_, err := d.Forward(step)
				require.NoError(b, err)
				require.NoError(b, d.Truncate(len(ctx)))
			}
		})
	}
}
