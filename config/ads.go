package config

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// Ad rule modes (NUDGE_ADS_MODE), used once NUDGE_ADS_DRY_RUN=false.
const (
	AdsApply   = "apply"   // act, then tell Slack
	AdsApprove = "approve" // ask in Slack and act on Approve
)

// Audience is one NUDGE_AUDIENCES entry: a segment kept in sync with an
// ad platform's audience.
type Audience struct {
	Segment  string // a segment name (models.Segments)
	Platform string // "meta" or "google"
	ID       string // the Custom Audience ID, or the Customer Match user list ID
}

// Key names the audience in schedules, rows and URLs: "segment/platform/id".
func (a Audience) Key() string { return a.Segment + "/" + a.Platform + "/" + a.ID }

// RetargetSegment is the segment the retargeting audience
// (NUDGE_RETARGET_AUDIENCE) holds: ad clickers with no order.
const RetargetSegment = workflows.SegmentRetarget

// ParseAudiences reads NUDGE_AUDIENCES: comma-separated
// segment=platform:id entries, such as
// "active=meta:23851234567890123,paying_customer=google:7012345678". A
// segment may go to several audiences; the same audience twice is an error.
func ParseAudiences(raw string) ([]Audience, error) {
	var out []Audience
	for _, entry := range strings.Split(raw, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		seg, target, ok := strings.Cut(entry, "=")
		if !ok {
			return nil, fmt.Errorf("%q is not segment=platform:id", entry)
		}
		seg = strings.TrimSpace(seg)
		if _, known := models.LookupSegment(seg); !known {
			return nil, fmt.Errorf("%q: no segment %q (see GET /v1/segments)", entry, seg)
		}
		a, err := parseAudienceTarget(strings.TrimSpace(target))
		if err != nil {
			return nil, fmt.Errorf("%q: %w", entry, err)
		}
		a.Segment = seg
		if slices.ContainsFunc(out, func(b Audience) bool { return b.Platform == a.Platform && b.ID == a.ID }) {
			return nil, fmt.Errorf("%q: audience %s:%s is listed twice; one audience holds one segment", entry, a.Platform, a.ID)
		}
		out = append(out, a)
	}
	return out, nil
}

// parseAudienceTarget reads "meta:<audience id>" or "google:<user list id>".
func parseAudienceTarget(s string) (Audience, error) {
	platform, id, ok := strings.Cut(s, ":")
	switch {
	case !ok || id == "":
		return Audience{}, fmt.Errorf("%q is not platform:id, such as meta:23851234567890123 or google:7012345678", s)
	case platform != "meta" && platform != "google":
		return Audience{}, fmt.Errorf("platform %q is not meta or google", platform)
	case strings.Trim(id, "0123456789") != "":
		return Audience{}, fmt.Errorf("audience ID %q is not a number", id)
	}
	return Audience{Platform: platform, ID: id}, nil
}

// validateAdRules checks the rule, audience and retargeting settings.
func (c *Config) validateAdRules() []error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf(prefix+name+": "+format, args...))
	}
	if c.AdsMode != AdsApply && c.AdsMode != AdsApprove {
		bad("ADS_MODE", "%q is not %s or %s", c.AdsMode, AdsApply, AdsApprove)
	}
	if rules, err := workflows.ParseAdRules(c.AdRules); err != nil {
		bad("AD_RULES", "%v", err)
	} else {
		c.AdRules = rules
	}
	for _, d := range []struct {
		name string
		v    time.Duration
		min  time.Duration
	}{{"ADS_EVERY", c.AdsEvery, time.Minute}, {"ADS_APPROVAL_TIMEOUT", c.AdsApprovalTimeout, time.Minute}, {"AUDIENCE_SYNC_EVERY", c.AudienceSyncEvery, 5 * time.Minute}} {
		if d.v < d.min {
			bad(d.name, "%s is shorter than %s", d.v, d.min)
		}
	}
	if audiences, err := ParseAudiences(c.AudiencesRaw); err != nil {
		bad("AUDIENCES", "%v", err)
	} else {
		c.Audiences = audiences
	}
	if raw := strings.TrimSpace(c.RetargetAudienceRaw); raw != "" {
		a, err := parseAudienceTarget(raw)
		if err != nil {
			bad("RETARGET_AUDIENCE", "%v", err)
		} else {
			a.Segment = RetargetSegment
			c.RetargetAudience = &a
		}
	}
	for _, a := range c.AllAudiences() {
		if a.Platform == "meta" && !c.MetaEnabled() || a.Platform == "google" && !c.GoogleAdsEnabled() {
			bad("AUDIENCES", "audience %s:%s needs %s's credentials, which are not set (see the README's Advertising section)", a.Platform, a.ID, a.Platform)
		}
	}
	return errs
}

// AllAudiences are the audiences synced: NUDGE_AUDIENCES and the
// retargeting audience.
func (c *Config) AllAudiences() []Audience {
	out := slices.Clone(c.Audiences)
	if c.RetargetAudience != nil {
		out = append(out, *c.RetargetAudience)
	}
	return out
}

// AdsEnabled reports whether any ad platform is on.
func (c *Config) AdsEnabled() bool { return c.MetaEnabled() || c.GoogleAdsEnabled() }

// AdMode is what the ad rules do with a decision: record it (a dry run,
// until NUDGE_ADS_DRY_RUN=false), apply it, or ask first (NUDGE_ADS_MODE).
func (c *Config) AdMode() string {
	switch {
	case c.AdsDryRun:
		return workflows.AdModeDryRun
	case c.AdsMode == AdsApprove:
		return workflows.AdModeApprove
	}
	return workflows.AdModeApply
}

// AdRuleRequest evaluates rules with the configured mode, approval timeout
// and Slack channel: what the schedule runs, and POST /v1/ads/rules/:name/run.
func (c *Config) AdRuleRequest(rules []string) workflows.AdRuleRequest {
	return workflows.AdRuleRequest{Rules: rules, Mode: c.AdMode(), ApprovalTimeout: c.AdsApprovalTimeout, Channel: c.SlackAdsChannel}
}

// AudienceSyncRequest is the request that syncs a.
func (c *Config) AudienceSyncRequest(a Audience) workflows.AudienceSyncRequest {
	return workflows.AudienceSyncRequest{Key: a.Key(), Segment: a.Segment, Platform: a.Platform, AudienceID: a.ID, ConsentDefault: c.AdsConsentDefault}
}

// WorkflowID is the ID of the audience's syncs: Temporal adds the time to
// a scheduled one's.
func (a Audience) WorkflowID() string { return "audience/" + a.Key() }
