package platform_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nudgehq/nudge/config"
	"github.com/nudgehq/nudge/workflows"
)

// NUDGE_SOCIAL_POSTS at worker start: each post's workflow starts, posts at
// its time to a Mastodon stand-in once, its image uploaded as media, and a
// reconcile after that starts nothing again; a post changed before its
// time is updated.
func TestSocialPostsReconcile(t *testing.T) {
	var mu sync.Mutex
	var keys, statuses []string
	var uploads int
	masto := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		mu.Lock()
		defer mu.Unlock()
		switch r.URL.Path {
		case "/img/now.gif": // the image's host
			w.Header().Set("Content-Type", "image/gif")
			_, _ = w.Write([]byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"))
		case "/api/v2/media":
			uploads++
			_, _ = w.Write([]byte(`{"id":"70","type":"image","url":"https://files.mastodon.example/70.gif"}`))
		default:
			keys = append(keys, r.Header.Get("Idempotency-Key"))
			statuses = append(statuses, string(body))
			_, _ = w.Write([]byte(`{"id":"7","url":"https://mastodon.example/@acme/7"}`))
		}
	}))
	t.Cleanup(masto.Close)
	soon := time.Now().UTC().Add(3 * time.Second).Format("2006-01-02 15:04:05")
	later := time.Now().UTC().Add(time.Hour).Format("2006-01-02 15:04:05")
	file := filepath.Join(t.TempDir(), "social.yaml")
	if err := os.WriteFile(file, []byte("posts:\n  soon:\n    text: Now\n    image: "+masto.URL+"/img/now.gif\n    image_alt: A dot\n"+
		"    at: \""+soon+"\"\n    zone: UTC\n    to: mastodon\n"+
		"  later:\n    text: Later\n    at: \""+later+"\"\n    zone: UTC\n    to: mastodon\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startStackWith(t, map[string]string{"NUDGE_SOCIAL_POSTS": file, "NUDGE_MASTODON_URL": masto.URL, "NUDGE_MASTODON_TOKEN": "tok"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	waitUntil(ctx, t, "the soon post posted", func() bool {
		row, err := s.Platform.Store.SocialPostByName(ctx, "soon")
		return err == nil && row.State == workflows.SocialPosted && row.URL == "https://mastodon.example/@acme/7"
	})
	row, err := s.Platform.Store.SocialPostByName(ctx, "later")
	if err != nil || row.State != workflows.SocialScheduled || row.Text != "Later" {
		t.Fatalf("later = %+v, %v", row, err)
	}

	// The worker starts again with the later post changed.
	posts, err := config.ParseSocialPosts(file, []byte("posts:\n  soon:\n    text: Now\n    at: \""+soon+"\"\n    zone: UTC\n    to: mastodon\n"+
		"  later:\n    text: Later, changed\n    at: \""+later+"\"\n    zone: UTC\n    to: mastodon\n"), nil, config.SocialTargets{Mastodon: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Platform.Config.SocialPosts = posts
	started, updated, err := s.Platform.ReconcileSocial(ctx)
	if err != nil || len(started) != 0 || !slices.Equal(updated, []string{"later"}) {
		t.Fatalf("reconcile: started %v, updated %v, %v", started, updated, err)
	}
	waitUntil(ctx, t, "the later post updated", func() bool {
		row, err := s.Platform.Store.SocialPostByName(ctx, "later")
		return err == nil && row.Text == "Later, changed" && row.State == workflows.SocialScheduled
	})
	// Without its row (a new database), the finished post is still not
	// started again: Temporal rejects the duplicate ID.
	if err := s.Platform.Store.DB().Exec("DELETE FROM social_posts WHERE name = ?", "soon").Error; err != nil {
		t.Fatal(err)
	}
	started, updated, err = s.Platform.ReconcileSocial(ctx)
	if err != nil || len(started) != 0 || slices.Contains(updated, "soon") {
		t.Fatalf("reconcile without the row: started %v, updated %v, %v", started, updated, err)
	}
	// The later post removed from the file: its workflow is cancelled and
	// records why; the posted one is left alone.
	s.Platform.Config.SocialPosts = posts[:1]
	cancelled, err := s.Platform.CancelRemovedSocial(ctx)
	if err != nil || !slices.Equal(cancelled, []string{"later"}) {
		t.Fatalf("cancel removed: %v, %v", cancelled, err)
	}
	waitUntil(ctx, t, "the later post cancelled", func() bool {
		row, err := s.Platform.Store.SocialPostByName(ctx, "later")
		return err == nil && row.State == workflows.SocialCancelled
	})
	if cancelled, err := s.Platform.CancelRemovedSocial(ctx); err != nil || len(cancelled) != 0 {
		t.Errorf("a second cancel: %v, %v", cancelled, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(keys) != 1 || uploads != 1 {
		t.Errorf("%d posts and %d uploads to Mastodon, want 1 each", len(keys), uploads)
	}
	if want := `{"status":"Now","media_ids":["70"]}`; len(statuses) == 1 && statuses[0] != want {
		t.Errorf("status %s, want %s", statuses[0], want)
	}
}
