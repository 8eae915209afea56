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
			g, err := NewGenerator(target, draft, GeneratorConfig{MaxNewTokens: 64, InitialK: 5, MaxK: 8})
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
