package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/nudgehq/nudge/ads/google"
	"github.com/nudgehq/nudge/ads/meta"
	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// audienceSpec checks a sync request against the clients at hand: a
// platform that is off, or a request that names none, fails for good.
func (a *Activities) audienceSpec(req workflows.AudienceSyncRequest, at time.Time) (models.AudienceSpec, error) {
	sp := models.AudienceSpec{Key: req.Key, Segment: req.Segment, Platform: req.Platform, ConsentDefault: req.ConsentDefault, At: at}
	bad := func(format string, args ...any) (models.AudienceSpec, error) {
		return sp, temporal.NewNonRetryableApplicationError(fmt.Sprintf("audience %s: "+format, append([]any{req.Key}, args...)...), "BadAudience", nil)
	}
	switch {
	case req.Key == "" || req.Segment == "" || req.AudienceID == "":
		return bad("the request needs a key, a segment and an audience ID")
	case at.IsZero():
		return bad("no time to read the segment at")
	case req.Platform == "meta" && a.Ads.Meta == nil:
		return bad("Meta is off: set NUDGE_META_ACCESS_TOKEN and NUDGE_META_AD_ACCOUNTS")
	case req.Platform == "google" && a.Ads.CustomerMatch == nil:
		return bad("Google Customer Match is off: set the NUDGE_GOOGLE_* credentials")
	case req.Platform != "meta" && req.Platform != "google":
		return bad("platform %q is not meta or google", req.Platform)
	}
	return sp, nil
}

// segmentRefused makes an unknown segment a permanent failure.
func segmentRefused(err error) error {
	var unknown *models.UnknownSegmentError
	var param *models.SegmentParamError
	if errors.As(err, &unknown) || errors.As(err, &param) {
		return temporal.NewNonRetryableApplicationError(err.Error(), "BadAudience", err)
	}
	return err
}

// StartAudienceSync counts what a sync has to remove and add, records its
// start, and opens a Meta session for each phase.
func (a *Activities) StartAudienceSync(ctx context.Context, req workflows.AudienceStartRequest) (workflows.AudienceSyncProgress, error) {
	sp, err := a.audienceSpec(req.Sync, req.At)
	if err != nil {
		return workflows.AudienceSyncProgress{}, err
	}
	removals, additions, err := a.Store.StartAudienceSync(ctx, sp)
	if err != nil {
		return workflows.AudienceSyncProgress{}, segmentRefused(err)
	}
	p := workflows.AudienceSyncProgress{At: req.At, Phase: workflows.AudiencePhaseRemove,
		Remove: workflows.AudienceSession{Estimated: removals}, Add: workflows.AudienceSession{Estimated: additions}}
	if req.Sync.Platform == "meta" {
		// Made here, not in the workflow: an activity's result is
		// recorded, so a replay sees the same session.
		p.Remove.ID, p.Add.ID = meta.NewSessionID(), meta.NewSessionID()
	}
	return p, nil
}

// SyncAudienceBatch uploads the next batch and records it: the staged
// batch if one is left (a retry, or a sync that stopped between its upload
// and its record), else the next at most 10,000 changes of the current
// phase, staged first. After the upload, the batch's members go in or out
// in one transaction. The result is the progress after it; a phase with
// nothing left moves on to the next.
func (a *Activities) SyncAudienceBatch(ctx context.Context, req workflows.AudienceBatchRequest) (workflows.AudienceSyncProgress, error) {
	p := req.Progress
	sp, err := a.audienceSpec(req.Sync, p.At)
	if err != nil {
		return p, err
	}
	op, sess := models.AudienceRemove, &p.Remove
	if p.Phase == workflows.AudiencePhaseAdd {
		op, sess = models.AudienceAdd, &p.Add
	} else if p.Phase != workflows.AudiencePhaseRemove {
		return p, temporal.NewNonRetryableApplicationError(fmt.Sprintf("audience %s: phase %q is not remove or add", req.Sync.Key, p.Phase), "BadAudience", nil)
	}
	b, err := a.Store.NextAudienceBatch(ctx, sp, models.AudienceNext{Op: op, After: p.Cursor, SessionID: sess.ID, Seq: sess.Sent + 1}, workflows.AudienceBatchSize)
	if err != nil {
		return p, segmentRefused(err)
	}
	if len(b.Rows) == 0 {
		nextPhase(&p)
		return p, nil
	}
	// A batch staged by an interrupted sync goes out on its own, outside
	// this sync's session; the phase then goes on where it was.
	ours := b.Op == op && b.SessionID == sess.ID && b.Seq == sess.Sent+1
	var session meta.Session
	if ours && sess.ID != 0 {
		sent := p.Removed
		if op == models.AudienceAdd {
			sent = p.Added
		}
		session = meta.Session{ID: sess.ID, BatchSeq: b.Seq, LastBatch: b.Last, EstimatedTotal: max(sess.Estimated, sent+len(b.Rows))}
	}
	if err := a.uploadAudience(ctx, req.Sync, b, session); err != nil {
		return p, err
	}
	added, removed, err := a.Store.CommitAudienceBatch(ctx, req.Sync.Key, time.Now())
	if err != nil {
		return p, err
	}
	p.Added += added
	p.Removed += removed
	p.Batches++
	if ours {
		p.Cursor = b.Cursor()
		sess.Sent++
		if b.Last {
			nextPhase(&p)
		}
	}
	return p, nil
}

func nextPhase(p *workflows.AudienceSyncProgress) {
	p.Cursor = ""
	if p.Phase == workflows.AudiencePhaseRemove {
		p.Phase = workflows.AudiencePhaseAdd
	} else {
		p.Phase = ""
	}
}

// uploadAudience sends one batch to its platform.
func (a *Activities) uploadAudience(ctx context.Context, req workflows.AudienceSyncRequest, b models.AudienceBatch, session meta.Session) error {
	if req.Platform == "meta" {
		// One row per person, email and phone together: Meta matches on
		// either, and removes the person the row names.
		u := meta.Users{Schema: []string{meta.KeyEmail, meta.KeyPhone}, Rows: make([][]string, len(b.Rows)), Session: session}
		for i, r := range b.Rows {
			u.Rows[i] = []string{r.EmailHash, r.PhoneHash}
		}
		var err error
		if b.Op == models.AudienceAdd {
			_, err = a.Ads.Meta.AddUsers(ctx, req.AudienceID, u)
		} else {
			_, err = a.Ads.Meta.RemoveUsers(ctx, req.AudienceID, u)
		}
		return refusedOrRetry(err)
	}
	m := google.Members{ListID: req.AudienceID, Members: make([]google.Member, len(b.Rows))}
	granted := &google.Consent{AdUserData: google.ConsentGranted, AdPersonalization: google.ConsentGranted}
	for i, r := range b.Rows {
		mem := google.Member{}
		if r.EmailHash != "" {
			mem.Emails = []string{r.EmailHash}
		}
		if r.PhoneHash != "" {
			mem.Phones = []string{r.PhoneHash}
		}
		// Consent is granted only for people who said yes (ads_consent
		// true). Under NUDGE_ADS_CONSENT_DEFAULT, people who never
		// answered are uploaded with no consent at all, which Google
		// reads as "not specified": the advertiser vouches for its legal
		// basis by turning the default on, but Nudge holds no grant from
		// the person and does not claim one; for users in the EEA,
		// Google then applies its own consent policy to the data.
		if r.Consent {
			mem.Consent = granted
		}
		m.Members[i] = mem
	}
	var err error
	if b.Op == models.AudienceAdd {
		_, err = a.Ads.CustomerMatch.Add(ctx, m)
	} else {
		_, err = a.Ads.CustomerMatch.Remove(ctx, m)
	}
	return refusedOrRetry(err)
}

// FinishAudienceSync records how a sync ended and returns the audience's
// size.
func (a *Activities) FinishAudienceSync(ctx context.Context, req workflows.AudienceFinishRequest) (int64, error) {
	return a.Store.FinishAudienceSync(ctx, req.Key, req.Error)
}
