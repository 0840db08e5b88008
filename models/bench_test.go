package models_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/nudgehq/nudge/models"
)

// BenchmarkAccept is the gateway's database work for track calls arriving
// 16 at a time, as in `make bench`: store each event, make sure its contact
// exists, and mark the events delivered in batches.
func BenchmarkAccept(b *testing.B) {
	s := openStore(b, "sqlite://"+filepath.Join(b.TempDir(), "bench.db"))
	ctx := context.Background()
	var n atomic.Int64
	b.SetParallelism(8) // 16 goroutines on 2 cores
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			if _, err := s.Accept(ctx, []models.Incoming{track(fmt.Sprintf("m%d", i), fmt.Sprintf("u%d", i%300), "", "Product Viewed")}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
