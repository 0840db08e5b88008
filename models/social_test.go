package models_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

func TestSocialPostStates(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		paris, _ := time.LoadLocation("Europe/Paris")
		post := workflows.SocialPost{Name: "spring", Text: "Spring is here", Link: "https://shop.example.com/spring",
			At: time.Date(2027, 3, 20, 9, 0, 0, 0, paris), Zone: "Europe/Paris", To: "mastodon"}
		early := post
		early.Name, early.At = "early", post.At.Add(-time.Hour)
		at := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
		if _, err := s.SocialPostByName(ctx, "spring"); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("before: %v", err)
		}
		for _, st := range []workflows.SocialState{
			{Post: post, State: workflows.SocialScheduled, At: at},
			{Post: early, State: workflows.SocialScheduled, At: at},
			{Post: post, State: workflows.SocialAwaitingApproval, Reason: "asked in #marketing", At: at.Add(time.Hour)},
		} {
			if err := s.SaveSocialState(ctx, st, ""); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.SaveSocialState(ctx, workflows.SocialState{Post: post, State: workflows.SocialPosted,
			URL: "https://mastodon.example/@acme/1", At: at.Add(2 * time.Hour)}, "1"); err != nil {
			t.Fatal(err)
		}
		// Nothing after a post takes it back.
		if err := s.SaveSocialState(ctx, workflows.SocialState{Post: post, State: workflows.SocialFailed,
			Reason: strings.Repeat("why ", 400), At: at.Add(3 * time.Hour)}, ""); err != nil {
			t.Fatal(err)
		}
		posts, err := s.SocialPosts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(posts) != 2 || posts[0].Name != "early" || posts[1].Name != "spring" {
			t.Fatalf("posts = %+v, want early then spring", posts)
		}
		p := posts[1]
		if p.State != workflows.SocialPosted || p.URL != "https://mastodon.example/@acme/1" || p.PostID != "1" || p.Reason != "" ||
			!p.At.Equal(post.At) || p.Zone != "Europe/Paris" || p.Target != "mastodon" || !p.Updated.Equal(at.Add(2*time.Hour)) {
			t.Errorf("spring = %+v", p)
		}
		// A long reason is clipped to fit.
		if err := s.SaveSocialState(ctx, workflows.SocialState{Post: early, State: workflows.SocialFailed,
			Reason: strings.Repeat("why ", 400), At: at}, ""); err != nil {
			t.Fatal(err)
		}
		e, err := s.SocialPostByName(ctx, "early")
		if err != nil || e.State != workflows.SocialFailed || len([]rune(e.Reason)) != 1000 {
			t.Errorf("early = %+v, %v", e, err)
		}
	})
}
