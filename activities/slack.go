package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"
	"go.temporal.io/sdk/temporal"

	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// Internal alerts go to Slack: a new MQL to its rep (with an Accept lead
// button), a lead on the pricing page to its owner, a trial to the sales
// channel. They follow the send protocol in outbox.go like email and SMS,
// with a message row on the channel "slack" keyed by the request's key, so
// a retried activity never posts twice once Slack took the message.
//
// The Activities fields they use:
//
//   - Slack posts the message; nil renders and records it (status
//     "recorded") without posting, as email and SMS do without a provider.
//   - SalesChannel is where alerts go that have no person to go to
//     (NUDGE_SLACK_SALES_CHANNEL).
//   - TemporalUIURL and Namespace make the link to the contact's run in the
//     Temporal UI (NUDGE_TEMPORAL_UI_URL, NUDGE_TEMPORAL_NAMESPACE); without
//     a UI URL the alerts carry no link.

// SlackPoster posts one Block Kit message to a channel (an ID or #name) or
// to a user ID (a direct message from the app), with fallback as the text
// notifications and screen readers use. It returns Slack's timestamp for
// the message. An error means Slack did not take the message, so it may be
// posted again, unless it wraps ErrSlackOutcomeUnknown.
type SlackPoster interface {
	Post(ctx context.Context, channel string, blocks []slack.Block, fallback string) (ts string, err error)
}

// ErrSlackOutcomeUnknown marks a post that failed after the request may have
// reached Slack (a timeout waiting for the answer, say): the message may be
// in the channel.
var ErrSlackOutcomeUnknown = fmt.Errorf("the Slack API may have posted the message: %w", ErrOutcomeUnknown)

// SkipNoSlackChannel is the reason an alert is skipped when it has nowhere
// to go.
const SkipNoSlackChannel = "no Slack channel: the alert names no recipient and NUDGE_SLACK_SALES_CHANNEL is empty"

// SendSlack renders and posts one internal alert, at most once per request
// key. It goes to req.To when set; else an MQL or pricing alert goes to the
// contact's owner (OwnerSlackID) when the owner has a Slack ID; else to the
// sales channel.
//
// The alert is built from the contact's row and req.Data: for an MQL,
// "task_id" (the Accept lead button), "breakdown" (a list of {rule,
// points}, as workflows.ScoreChange) and "recent_events" (strings); for a
// pricing alert, "url" (else "path"). "score", when given, wins over the
// row's lead score.
func (a *Activities) SendSlack(ctx context.Context, req workflows.SlackRequest) (workflows.SendResult, error) {
	render, ok := slackAlerts[req.Kind]
	if !ok {
		err := fmt.Errorf("unknown Slack alert kind %q (want %s, %s or %s)", req.Kind, workflows.SlackMQL, workflows.SlackPricing, workflows.SlackTrial)
		return workflows.SendResult{}, temporal.NewNonRetryableApplicationError(err.Error(), "SlackAlertKind", err)
	}
	row := models.Message{
		Key: req.Key, ContactID: req.ContactID, Step: req.Kind, Channel: models.ChannelSlack,
		At: req.At.UTC(), Template: "slack/" + req.Kind,
	}
	return a.sendThrough(ctx, row, false, &slackSend{a: a, req: req, alert: render})
}

// slackSend is one alert in the pipeline. Alerts are internal: no consent
// or cap applies, only a place to post them.
type slackSend struct {
	a     *Activities
	req   workflows.SlackRequest
	alert func(slackFacts) slackAlert
}

func (s *slackSend) check(_ context.Context, c *models.Contact, _ models.Message) (string, string, error) {
	to := s.a.slackDestination(s.req, c)
	if to == "" {
		return "", SkipNoSlackChannel, nil
	}
	return to, "", nil
}

func (s *slackSend) render(_ context.Context, c *models.Contact, row models.Message) (outgoing, string, error) {
	a, req := s.a, s.req
	alert := s.alert(a.slackFacts(req, c))
	row.Subject, row.Text = slackClip(alert.headline, 500), alert.fallback
	// The Block Kit payload as posted, kept for ops and for nudge simulate's
	// --out (the HTML column holds a message's rendered body).
	if payload, err := json.Marshal(map[string]any{"text": alert.fallback, "blocks": alert.blocks}); err == nil {
		row.HTML = string(payload)
	}
	out := outgoing{row: row, result: workflows.SendResult{To: row.To, Subject: row.Subject}}
	if a.Slack != nil {
		out.deliver = oneRequest(fmt.Sprintf("post Slack %s alert to %s", req.Kind, row.To), func(ctx context.Context) (string, error) {
			return a.Slack.Post(ctx, row.To, alert.blocks, alert.fallback)
		})
	}
	return out, "", nil
}

// slackDestination picks where an alert goes; "" when nowhere.
func (a *Activities) slackDestination(req workflows.SlackRequest, c *models.Contact) string {
	if to := strings.TrimSpace(req.To); to != "" {
		return to
	}
	if (req.Kind == workflows.SlackMQL || req.Kind == workflows.SlackPricing) && c.OwnerSlackID != "" {
		return c.OwnerSlackID
	}
	return strings.TrimSpace(a.SalesChannel)
}

// slackFacts is what an alert says, gathered from the contact row and the
// request's data.
type slackFacts struct {
	contact *models.Contact
	name    string // the contact's name, else email, else ID
	score   int64
	runURL  string // the contact's run in the Temporal UI, or ""
	data    workflows.SlackData
	taskID  string // "" for none
}

func (a *Activities) slackFacts(req workflows.SlackRequest, c *models.Contact) slackFacts {
	f := slackFacts{contact: c, score: c.LeadScore, data: req.Data, runURL: a.slackRunURL(c.ID)}
	f.name = c.Name()
	if f.name == "" {
		f.name = c.Email
	}
	if f.name == "" {
		f.name = c.ID
	}
	if req.Data.Score != nil {
		f.score = *req.Data.Score
	}
	if req.Data.TaskID != 0 {
		f.taskID = strconv.FormatUint(req.Data.TaskID, 10)
	}
	return f
}

// slackRunURL links to the contact's workflow in the Temporal UI, which expects
// the workflow ID escaped as one path segment.
func (a *Activities) slackRunURL(contactID string) string {
	base := strings.TrimRight(a.TemporalUIURL, "/")
	if base == "" {
		return ""
	}
	ns := a.Namespace
	if ns == "" {
		ns = "default"
	}
	return base + "/namespaces/" + url.PathEscape(ns) + "/workflows/" + url.PathEscape(workflows.ContactWorkflowID(contactID))
}

// slackAlert is one rendered alert.
type slackAlert struct {
	headline string
	fallback string
	blocks   []slack.Block
}

var slackAlerts = map[string]func(slackFacts) slackAlert{
	workflows.SlackMQL:     slackMQLAlert,
	workflows.SlackPricing: slackPricingAlert,
	workflows.SlackTrial:   slackTrialAlert,
}

// slackMQLAlert tells a rep about a new MQL: who, why (the score by rule and the
// latest activity), where to look, and a button to accept the lead.
func slackMQLAlert(f slackFacts) slackAlert {
	c := f.contact
	headline := "New MQL: " + f.name
	if c.Company != "" {
		headline += " (" + c.Company + ")"
	}
	fields := []*slack.TextBlockObject{slackMrkdwn(fmt.Sprintf("*Score*\n%d", f.score))}
	for _, kv := range [][2]string{
		{"Title", c.Title}, {"Industry", c.Industry}, {"Company size", slackEmployees(c.EmployeeCount)}, {"Email", c.Email},
	} {
		if kv[1] != "" {
			fields = append(fields, slackMrkdwn("*"+kv[0]+"*\n"+slackEscape(kv[1])))
		}
	}
	blocks := []slack.Block{
		slack.NewHeaderBlock(slackPlain(headline)),
		slack.NewSectionBlock(nil, fields, nil),
	}
	if len(f.data.Breakdown) > 0 {
		lines := make([]string, len(f.data.Breakdown))
		for i, b := range f.data.Breakdown {
			lines[i] = fmt.Sprintf("• %s: %+d", slackEscape(strings.ReplaceAll(b.Rule, "_", " ")), int64(b.Points))
		}
		blocks = append(blocks, slackSection("*Score breakdown*\n"+strings.Join(lines, "\n")))
	}
	if len(f.data.RecentEvents) > 0 {
		lines := make([]string, len(f.data.RecentEvents))
		for i, e := range f.data.RecentEvents {
			lines[i] = "• " + slackEscape(e)
		}
		blocks = append(blocks, slackSection("*Recent activity*\n"+strings.Join(lines, "\n")))
	}
	var refs []string
	if f.taskID != "" {
		refs = append(refs, "Task *#"+slackEscape(f.taskID)+"*")
	}
	if f.runURL != "" {
		refs = append(refs, "<"+f.runURL+"|Contact's run in Temporal>")
	}
	if len(refs) > 0 {
		blocks = append(blocks, slackSection(strings.Join(refs, "  ·  ")))
	}
	var buttons []slack.BlockElement
	if f.taskID != "" {
		buttons = append(buttons, slack.NewButtonBlockElement(workflows.SlackActionAcceptLead, f.taskID, slackPlain("Accept lead")).WithStyle(slack.StylePrimary))
	}
	if f.runURL != "" {
		buttons = append(buttons, slack.NewButtonBlockElement("open_run", "", slackPlain("Open in Temporal")).WithURL(f.runURL))
	}
	if len(buttons) > 0 {
		blocks = append(blocks, slack.NewActionBlock("mql_actions", buttons...))
	}
	fallback := fmt.Sprintf("%s, lead score %d", headline, f.score)
	if f.taskID != "" {
		fallback += ", task #" + f.taskID
	}
	return slackAlert{headline: headline, fallback: fallback, blocks: blocks}
}

// slackPricingAlert tells the owner a lead is on the pricing page.
func slackPricingAlert(f slackFacts) slackAlert {
	c := f.contact
	headline := f.name
	if c.Company != "" {
		headline += " from " + c.Company
	}
	headline += " is looking at pricing"
	page := f.data.URL
	if page == "" {
		page = f.data.Path
	}
	fields := []*slack.TextBlockObject{slackMrkdwn(fmt.Sprintf("*Score*\n%d", f.score))}
	if page != "" {
		fields = append(fields, slackMrkdwn("*Page*\n"+slackLink(page)))
	}
	blocks := []slack.Block{
		slack.NewSectionBlock(slackMrkdwn(":eyes: *"+slackEscape(headline)+"*"), fields, nil),
	}
	blocks = slackRunContext(blocks, f)
	fallback := fmt.Sprintf("%s (lead score %d)", headline, f.score)
	if page != "" {
		fallback += ": " + page
	}
	return slackAlert{headline: headline, fallback: fallback, blocks: blocks}
}

// slackTrialAlert tells the sales channel a contact started a trial.
func slackTrialAlert(f slackFacts) slackAlert {
	c := f.contact
	headline := f.name
	if c.Company != "" {
		headline += " (" + c.Company + ")"
	}
	headline += " started a trial"
	owner, ownerText := "no owner yet", "no owner yet"
	switch {
	case c.OwnerSlackID != "":
		owner, ownerText = "<@"+c.OwnerSlackID+">", c.OwnerName
		if ownerText == "" {
			ownerText = c.OwnerSlackID
		}
	case c.OwnerName != "":
		owner, ownerText = slackEscape(c.OwnerName), c.OwnerName
	}
	blocks := []slack.Block{
		slack.NewSectionBlock(slackMrkdwn(":rocket: *"+slackEscape(headline)+"*"), []*slack.TextBlockObject{
			slackMrkdwn(fmt.Sprintf("*Score*\n%d", f.score)),
			slackMrkdwn("*Owner*\n" + owner),
		}, nil),
	}
	blocks = slackRunContext(blocks, f)
	fallback := fmt.Sprintf("%s (lead score %d, owner: %s)", headline, f.score, ownerText)
	return slackAlert{headline: headline, fallback: fallback, blocks: blocks}
}

func slackRunContext(blocks []slack.Block, f slackFacts) []slack.Block {
	if f.runURL == "" {
		return blocks
	}
	return append(blocks, slack.NewContextBlock("", slackMrkdwn("<"+f.runURL+"|Contact's run in Temporal>")))
}

// Block Kit limits: a header's text, a section's text and a field's text.
const (
	slackHeaderLimit  = 150
	slackSectionLimit = 3000
	slackFieldLimit   = 2000
)

func slackPlain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, slackClip(s, slackHeaderLimit), false, false)
}

func slackMrkdwn(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, slackClip(s, slackFieldLimit), false, false)
}

func slackSection(s string) *slack.SectionBlock {
	return slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, slackClip(s, slackSectionLimit), false, false), nil, nil)
}

// escape makes text safe inside mrkdwn: Slack reads &, < and > as markup.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// link shows an http(s) URL as a link, anything else as text.
func slackLink(s string) string {
	if u, err := url.Parse(s); err == nil && (u.Scheme == "http" || u.Scheme == "https") && !strings.ContainsAny(s, "|<>") {
		return "<" + s + ">"
	}
	return slackEscape(s)
}

func slackEmployees(n int) string {
	switch {
	case n <= 0:
		return ""
	case n == 1:
		return "1 employee"
	}
	return fmt.Sprintf("%d employees", n)
}

// clip cuts s to at most n characters, marking the cut.
func slackClip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// SlackClient posts alerts through Slack's Web API (chat.postMessage) with
// slack-go.
type SlackClient struct {
	api *slack.Client
}

// slackTimeout bounds one API call, well inside the activity's
// start-to-close timeout.
const slackTimeout = 30 * time.Second

// NewSlackClient posts with a bot token (xoxb-…). When apiURL is set
// (NUDGE_SLACK_API_URL), API calls go there instead of
// https://slack.com/api/ (a mock, a proxy).
func NewSlackClient(token, apiURL string) (*SlackClient, error) {
	if strings.TrimSpace(token) == "" {
		return nil, errors.New("slack: a bot token is required (NUDGE_SLACK_BOT_TOKEN)")
	}
	opts := []slack.Option{slack.OptionHTTPClient(&http.Client{
		Timeout:   slackTimeout,
		Transport: slackBearer{token: token, next: http.DefaultTransport},
	})}
	if apiURL != "" {
		u, err := url.Parse(apiURL)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("slack: API URL %q is not an absolute http(s) URL", apiURL)
		}
		opts = append(opts, slack.OptionAPIURL(strings.TrimRight(apiURL, "/")+"/"))
	}
	return &SlackClient{api: slack.New(token, opts...)}, nil
}

// slackBearer sends the token in the Authorization header, as Slack asks: slack-go
// puts it only in the form body of chat.postMessage.
type slackBearer struct {
	token string
	next  http.RoundTripper
}

func (b slackBearer) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Header.Get("Authorization") == "" {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+b.token)
	}
	return b.next.RoundTrip(r)
}

// Post posts one message; see SlackPoster.
func (s *SlackClient) Post(ctx context.Context, channel string, blocks []slack.Block, fallback string) (string, error) {
	_, ts, err := s.api.PostMessageContext(ctx, channel, slack.MsgOptionBlocks(blocks...), slack.MsgOptionText(fallback, false))
	if err != nil {
		return "", slackError(err)
	}
	if ts == "" {
		return "", fmt.Errorf("%w: Slack answered ok without a message timestamp", ErrSlackOutcomeUnknown)
	}
	return ts, nil
}

// slackRetryable are the Web API error codes that time, or an operator,
// fixes: Slack's own trouble, rate limits, and token or scope problems. The
// alert goes out late rather than never. Any other code (channel_not_found,
// not_in_channel, is_archived, invalid_blocks, msg_too_long, …) will be the
// same next time.
var slackRetryable = map[string]bool{
	"ratelimited": true, "rate_limited": true, "internal_error": true, "fatal_error": true,
	"service_unavailable": true, "request_timeout": true,
	"not_authed": true, "invalid_auth": true, "account_inactive": true, "token_revoked": true,
	"token_expired": true, "no_permission": true, "missing_scope": true, "access_denied": true,
	"team_access_not_granted": true, "ekm_access_denied": true,
}

// slackError sorts a failed call: a refusal that retrying cannot fix
// becomes a non-retryable error; rate limiting a retryable one that waits
// as long as Slack asks; other refusals stay retryable; a failure after the
// request may have reached Slack is an unknown outcome.
func slackError(err error) error {
	var apiErr slack.SlackErrorResponse
	if errors.As(err, &apiErr) {
		msg := "slack: " + apiErr.Err
		if apiErr.Needed != "" {
			msg += " (needs scope " + apiErr.Needed + ")"
		}
		typ := "SlackError:" + apiErr.Err
		if slackRetryable[apiErr.Err] {
			return temporal.NewApplicationErrorWithOptions(msg, typ, temporal.ApplicationErrorOptions{Cause: err})
		}
		return temporal.NewNonRetryableApplicationError(msg, typ, err)
	}
	var limited *slack.RateLimitedError
	if errors.As(err, &limited) {
		return temporal.NewApplicationErrorWithOptions(err.Error(), "SlackRateLimited",
			temporal.ApplicationErrorOptions{Cause: err, NextRetryDelay: limited.RetryAfter})
	}
	var status slack.StatusCodeError
	if errors.As(err, &status) {
		typ := fmt.Sprintf("SlackHTTP%d", status.Code)
		if permanentStatus(status.Code) {
			return temporal.NewNonRetryableApplicationError(err.Error(), typ, err)
		}
		return temporal.NewApplicationErrorWithOptions(err.Error(), typ, temporal.ApplicationErrorOptions{Cause: err})
	}
	// Not connected: nothing was sent.
	var dnsErr *net.DNSError
	var opErr *net.OpError
	if errors.As(err, &dnsErr) || (errors.As(err, &opErr) && opErr.Op == "dial") {
		return err
	}
	return fmt.Errorf("%w: %v", ErrSlackOutcomeUnknown, err)
}
