package models

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/nudgehq/nudge/workflows"
)

// SocialPost is the state of one scheduled social post
// (workflows.SocialPostWorkflow), written by its activities, so
// GET /v1/social/posts reads it here rather than asking Temporal.
type SocialPost struct {
	Name  string    `gorm:"primaryKey;size:64" json:"name"`
	Text  string    `gorm:"type:text" json:"text"`
	Link  string    `gorm:"size:2048" json:"link,omitempty"`
	Image string    `gorm:"size:2048" json:"image,omitempty"`
	At    time.Time `gorm:"index" json:"at"`
	Zone  string    `gorm:"size:64" json:"zone"`
	// Target is mastodon or webhook:<name>.
	Target string `gorm:"size:96" json:"target"`
	// State is one of workflows.Social*: scheduled, awaiting_approval,
	// posted, failed, rejected, expired.
	State  string `gorm:"size:32;index" json:"state"`
	URL    string `gorm:"size:2048" json:"url,omitempty"`
	Reason string `gorm:"size:1024" json:"reason,omitempty"`
	// PostID is the status's ID on Mastodon, or the webhook-id.
	PostID  string    `gorm:"size:191" json:"post_id,omitempty"`
	Updated time.Time `json:"updated"`
}

// socialReasonLimit bounds a stored reason.
const socialReasonLimit = 1000

// SaveSocialState records a post's state. A post already posted keeps that
// state: nothing after a post can take it back.
func (s *Store) SaveSocialState(ctx context.Context, st workflows.SocialState, postID string) error {
	reason := st.Reason
	if r := []rune(reason); len(r) > socialReasonLimit {
		reason = string(r[:socialReasonLimit-1]) + "…"
	}
	updated := st.At.UTC()
	if updated.IsZero() {
		updated = time.Now().UTC()
	}
	row := SocialPost{Name: st.Post.Name, Text: st.Post.Text, Link: st.Post.Link, Image: st.Post.Image,
		At: st.Post.At.UTC(), Zone: st.Post.Zone, Target: st.Post.To, State: st.State, URL: st.URL,
		Reason: reason, PostID: postID, Updated: updated}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var have SocialPost
		err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Where("name = ?", row.Name).Take(&have).Error
		switch {
		case errors.Is(err, gorm.ErrRecordNotFound):
			return tx.Create(&row).Error
		case err != nil:
			return err
		case have.State == workflows.SocialPosted && row.State != workflows.SocialPosted:
			return nil
		}
		return tx.Select("*").Save(&row).Error
	})
}

// SocialPostByName is one post's row, or ErrNotFound.
func (s *Store) SocialPostByName(ctx context.Context, name string) (*SocialPost, error) {
	var p SocialPost
	err := s.db.WithContext(ctx).Where("name = ?", name).Take(&p).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// SocialPosts lists every post by time, then name.
func (s *Store) SocialPosts(ctx context.Context) ([]SocialPost, error) {
	var out []SocialPost
	err := s.db.WithContext(ctx).Order("at, name").Find(&out).Error
	return out, err
}
