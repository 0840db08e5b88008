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

// BenchmarkAcceptBatch is one /v1/batch of the chaos test's shape: an
// identify and a Signed Up for each of 2,270 new contacts, 4,540 calls.
// "after an alias": once any alias has named an ID, every other userId
// is looked up in user_ids too.
func BenchmarkAcceptBatch(b *testing.B) {
	for _, aliased := range []bool{false, true} {
		name := "no alias yet"
		if aliased {
			name = "after an alias"
		}
		b.Run(name, func(b *testing.B) { benchmarkAcceptBatch(b, aliased) })
	}
}

func benchmarkAcceptBatch(b *testing.B, aliased bool) {
	s := openStore(b, "sqlite://"+filepath.Join(b.TempDir(), "bench.db"))
	ctx := context.Background()
	if aliased {
		if _, err := s.Accept(ctx, []models.Incoming{alias("a", "old", "new", false)}, models.Lease{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		calls := make([]models.Incoming, 0, 4540)
		for p := range 2270 {
			id := fmt.Sprintf("b%d-%d", i, p)
			calls = append(calls, identify("i-"+id, id, "", map[string]any{"email": id + "@example.com", "firstName": "Pat"}),
				track("t-"+id, id, "", "Signed Up"))
		}
		if _, err := s.Accept(ctx, calls, models.Lease{}); err != nil {
			b.Fatal(err)
		}
	}
}
