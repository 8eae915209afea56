package llmgen

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// BenchmarkCaption reports speculative vs autoregressive throughput of the caption models as a
// ratio measured in the same process (run: go test -run XXX -bench Caption ./llmgen/).
func BenchmarkCaption(b *testing.B) {
	target, draft := loadPair(b)
	for _, s := range []Sampling{{}, {Temperature: 0.7, Seed: 1}} {
		b.Run("temperature="+map[bool]string{true: "0", false: "0.7"}[s.Greedy()], func(b *testing.B) {
			g, err := NewGenerator(target, draft, GeneratorConfig{MaxNewTokens: 48})
			require.NoError(b, err)
			var prompts [][]int
			for _, ev := range testEvents(20, 5) {
				prompts = append(prompts, target.Tokenizer.Encode(ev.Prompt()))
			}
			var last BenchResult
			for b.Loop() {
				last, err = Bench(g, prompts, s)
				require.NoError(b, err)
			}
			b.ReportMetric(last.Speedup(), "speedup")
			b.ReportMetric(last.Spec.AcceptanceRate(), "acceptance")
			b.ReportMetric(last.TargetTokensPerSecond(), "target_tok/s")
			b.ReportMetric(last.SpecTokensPerSecond(), "spec_tok/s")
			b.ReportMetric(last.Spec.MeanK(), "mean_k")
		})
	}
}
