package models_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nudgehq/nudge/models"
)

// BenchmarkAccept is the gateway's database work for track calls arriving
// 16 at a time, as in `make bench`: store each event leased to the gateway
// (checking its contact has no earlier event waiting elsewhere) and make
// sure its contact exists.
func BenchmarkAccept(b *testing.B) {
	s := openStore(b, "sqlite://"+filepath.Join(b.TempDir(), "bench.db"))
	ctx := context.Background()
	lease := models.Lease{Owner: "bench", Until: time.Now().Add(time.Hour)}
	var n atomic.Int64
	b.SetParallelism(8) // 16 goroutines on 2 cores
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			if _, err := s.Accept(ctx, []models.Incoming{track(fmt.Sprintf("m%d", i), fmt.Sprintf("u%d", i%300), "", "Product Viewed")}, lease); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
