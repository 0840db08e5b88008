package activities

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	texttemplate "text/template"
	"time"

	"github.com/twilio/twilio-go"
	twclient "github.com/twilio/twilio-go/client"
	twapi "github.com/twilio/twilio-go/rest/api/v2010"
	"go.temporal.io/sdk/temporal"

	"github.com/nudgehq/nudge/config"
	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/templates"
	"github.com/nudgehq/nudge/workflows"
)

// SMSSender delivers one text message and returns the provider's ID for it
// (Twilio's message SID). An error means the provider did not take the
// message, so it may be sent again, unless it wraps ErrOutcomeUnknown (it
// may have) or is a non-retryable temporal.ApplicationError (it never will).
type SMSSender interface {
	Send(ctx context.Context, to, body, statusCallback string) (providerID string, err error)
}

// ErrSMSOutcomeUnknown marks a send that failed after the request may have
// reached the provider (a timeout waiting for the answer, say).
var ErrSMSOutcomeUnknown = fmt.Errorf("the SMS provider may have taken the message: %w", ErrOutcomeUnknown)

// Skip reasons for SMS, as the journey timeline and the messages table show
// them.
const (
	SkipNoPhone     = "no valid E.164 phone number"
	SkipSMSOptedOut = "opted out of SMS (replied STOP)"
	SkipNoConsent   = "no SMS consent"
)

// OptOutLine ends every marketing SMS whose copy does not already say how
// to stop.
const OptOutLine = " Reply STOP to opt out."

// SendSMS renders and sends one SMS, at most once per request key (see the
// pipeline in pipeline.go and the send protocol in outbox.go). A marketing
// SMS needs the contact's consent, no STOP since, and room under the SMS
// frequency cap.
func (a *Activities) SendSMS(ctx context.Context, req workflows.SMSRequest) (workflows.SendResult, error) {
	return a.sendThrough(ctx, newRow(req.Message, models.ChannelSMS), req.HoldForSales, &smsSend{a: a, req: req})
}

// smsSend is one SMS in the pipeline.
type smsSend struct {
	a   *Activities
	req workflows.SMSRequest
}

func (s *smsSend) check(ctx context.Context, c *models.Contact, row models.Message) (string, string, error) {
	number, err := s.a.Store.Suppression(ctx, models.ChannelSMS, c.Phone)
	switch {
	case err != nil:
		return c.Phone, "", err
	case !config.IsE164(c.Phone):
		return c.Phone, SkipNoPhone, nil
	case c.SMSOptedOutAt != nil, number.Suppressed:
		// STOP stops every SMS, not only marketing: carriers refuse the
		// rest anyway (Twilio error 21610).
		return c.Phone, SkipSMSOptedOut, nil
	case row.Marketing && !c.SMSConsent:
		return c.Phone, SkipNoConsent, nil
	}
	return c.Phone, "", nil
}

func (s *smsSend) render(ctx context.Context, c *models.Contact, row models.Message) (outgoing, string, error) {
	a := s.a
	tmpls, err := a.smsTemplates()
	if err == nil {
		row.Text, err = tmpls.Render(row.Template, SMSData{Contact: c, Brand: a.Brand, Data: s.req.Data})
	}
	if err != nil {
		return outgoing{}, "", err
	}
	if row.Marketing && !mentionsStop(row.Text) {
		row.Text += OptOutLine
	}
	out := outgoing{row: row, result: workflows.SendResult{To: c.Phone}}
	if a.SMS != nil {
		out.deliver = oneRequest(fmt.Sprintf("send SMS %s to %s", row.Template, c.Phone), func(ctx context.Context) (string, error) {
			return a.SMS.Send(ctx, c.Phone, row.Text, a.StatusCallbackURL)
		})
	}
	return out, "", nil
}

var stopWord = regexp.MustCompile(`\bSTOP\b`)

// mentionsStop reports whether copy already tells the reader to reply STOP.
func mentionsStop(text string) bool { return stopWord.MatchString(text) }

// SMSData is what an SMS template can use.
type SMSData struct {
	Contact *models.Contact
	Brand   Brand
	Data    workflows.MessageData
}

// SMSTemplates holds the SMS templates, templates/sms/<journey>/<step>.txt,
// each one text template for one message.
type SMSTemplates struct {
	byName map[string]*texttemplate.Template
}

// NewSMSTemplates parses the SMS templates embedded from templates/sms.
func NewSMSTemplates() (*SMSTemplates, error) { return ParseSMSTemplates(templates.FS) }

// ParseSMSTemplates parses sms/**/*.txt from fsys; a template's name is its
// path under sms/ without .txt, like abandoned_cart/reminder.
func ParseSMSTemplates(fsys fs.FS) (*SMSTemplates, error) {
	s := &SMSTemplates{byName: map[string]*texttemplate.Template{}}
	err := fs.WalkDir(fsys, "sms", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".txt") {
			return err
		}
		name := strings.TrimSuffix(strings.TrimPrefix(p, "sms/"), ".txt")
		raw, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		t, err := texttemplate.New(name).Funcs(funcs).Option("missingkey=error").Parse(string(raw))
		if err != nil {
			return fmt.Errorf("SMS template %s: %w", name, err)
		}
		s.byName[name] = t
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return s, nil
}

// Has reports whether an SMS template exists.
func (s *SMSTemplates) Has(name string) bool {
	_, ok := s.byName[name]
	return ok
}

// Render fills in a template and collapses it to one line: an SMS has no
// layout, and a stray line break costs characters.
func (s *SMSTemplates) Render(name string, data SMSData) (string, error) {
	t, ok := s.byName[name]
	if !ok {
		return "", fmt.Errorf("no SMS template %q (want templates/sms/%s.txt)", name, name)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return "", fmt.Errorf("SMS template %s: %w", name, err)
	}
	text := strings.Join(strings.Fields(buf.String()), " ")
	if text == "" {
		return "", fmt.Errorf("SMS template %s rendered empty", name)
	}
	return text, nil
}

var embeddedSMS = sync.OnceValues(NewSMSTemplates)

func (a *Activities) smsTemplates() (*SMSTemplates, error) {
	if a.SMSTemplates != nil {
		return a.SMSTemplates, nil
	}
	return embeddedSMS()
}

// TwilioSender sends SMS through Twilio's Messages API with twilio-go.
type TwilioSender struct {
	client  *twilio.RestClient
	from    string
	service string
}

// twilioTimeout bounds one API call. twilio-go sends without the caller's
// context, so this is what stops a hung call, well inside the activity's
// start-to-close timeout.
const twilioTimeout = 30 * time.Second

// NewTwilioSender sends with the account in c. When c.APIURL is set, every
// request goes there instead of https://api.twilio.com (a mock, a proxy).
func NewTwilioSender(c *config.Twilio) (*TwilioSender, error) {
	if c == nil || c.AccountSID == "" || c.AuthToken == "" {
		return nil, errors.New("twilio: an account SID and auth token are required")
	}
	base := &twclient.Client{
		Credentials: twclient.NewCredentials(c.AccountSID, c.AuthToken),
		HTTPClient: &http.Client{
			Timeout: twilioTimeout,
			// As twilio-go's default client: report a redirect, do not follow it.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	base.SetAccountSid(c.AccountSID)
	params := twilio.ClientParams{Client: base}
	if c.APIURL != "" {
		u, err := url.Parse(c.APIURL)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("twilio: API URL %q is not an absolute http(s) URL", c.APIURL)
		}
		params.Client = &baseURLClient{Client: base, base: u}
	}
	return &TwilioSender{client: twilio.NewRestClientWithParams(params), from: c.From, service: c.MessagingServiceSID}, nil
}

// baseURLClient is twilio-go's own HTTP client with the scheme and host of
// every request replaced: twilio-go builds each URL from a fixed
// https://api.twilio.com, and a custom client.BaseClient is the extension
// point it documents for changing requests.
type baseURLClient struct {
	*twclient.Client
	base *url.URL
}

func (c *baseURLClient) SendRequest(method, rawURL string, data url.Values, headers map[string]any, body ...byte) (*http.Response, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	u.Scheme, u.Host = c.base.Scheme, c.base.Host
	u.Path = strings.TrimSuffix(c.base.Path, "/") + u.Path
	u.RawPath = ""
	return c.Client.SendRequest(method, u.String(), data, headers, body...)
}

// Send creates one message: from the messaging service when one is set
// (with From too, if given, to pick that sender from its pool), else from
// the number in From.
func (s *TwilioSender) Send(_ context.Context, to, body, statusCallback string) (string, error) {
	params := &twapi.CreateMessageParams{}
	params.SetTo(to)
	params.SetBody(body)
	if s.service != "" {
		params.SetMessagingServiceSid(s.service)
	}
	if s.from != "" {
		params.SetFrom(s.from)
	}
	if statusCallback != "" {
		params.SetStatusCallback(statusCallback)
	}
	msg, err := s.client.Api.CreateMessage(params)
	if err != nil {
		return "", twilioError(err)
	}
	if msg.Sid == nil || *msg.Sid == "" {
		return "", fmt.Errorf("%w: Twilio answered without a message SID", ErrSMSOutcomeUnknown)
	}
	return *msg.Sid, nil
}

// twilioError sorts a failed API call: a refusal that retrying cannot fix
// (a bad number, a recipient who replied STOP) becomes a non-retryable
// error; other refusals stay retryable; a failure after the request may
// have reached Twilio is an unknown outcome.
func twilioError(err error) error {
	var rest *twclient.TwilioRestError
	if errors.As(err, &rest) {
		if permanentStatus(rest.Status) {
			return temporal.NewNonRetryableApplicationError(err.Error(), fmt.Sprintf("TwilioError%d", rest.Code), err)
		}
		return err
	}
	var restV1 *twclient.RestErrorV1
	if errors.As(err, &restV1) {
		if permanentStatus(restV1.HttpStatusCode) {
			return temporal.NewNonRetryableApplicationError(err.Error(), fmt.Sprintf("TwilioError%d", restV1.Code), err)
		}
		return err
	}
	// Not connected: nothing was sent.
	var dnsErr *net.DNSError
	var opErr *net.OpError
	if errors.As(err, &dnsErr) || (errors.As(err, &opErr) && opErr.Op == "dial") {
		return err
	}
	// twilio-go's words for an error status with a body it could not read:
	// Twilio answered, and not with a message.
	if strings.Contains(err.Error(), "error decoding the response for an HTTP error code") {
		return err
	}
	return fmt.Errorf("%w: %v", ErrSMSOutcomeUnknown, err)
}

// permanentStatus reports whether a 4xx answer will be the same next time.
// Auth and permission failures (401, 403, 404 for a wrong account), a
// timeout, a conflict and rate limiting are left to retry: an operator or
// time fixes them, and the SMS goes out late rather than never.
func permanentStatus(status int) bool {
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusRequestTimeout,
		http.StatusConflict, http.StatusTooManyRequests:
		return false
	}
	return status >= 400 && status < 500
}

// MessageTime is when Twilio took a message, from its Message resource
// (date_created, RFC 1123 with a numeric zone). Inbound webhooks carry no
// time of their own, and consent must follow the order the person texted
// in, not the order webhooks arrive in.
func (s *TwilioSender) MessageTime(_ context.Context, sid string) (time.Time, error) {
	m, err := s.client.Api.FetchMessage(sid, &twapi.FetchMessageParams{})
	if err != nil {
		return time.Time{}, twilioError(err)
	}
	if m.DateCreated == nil {
		return time.Time{}, fmt.Errorf("twilio: message %s has no date_created", sid)
	}
	t, err := time.Parse(time.RFC1123Z, *m.DateCreated)
	if err != nil {
		return time.Time{}, fmt.Errorf("twilio: message %s: date_created %q: %w", sid, *m.DateCreated, err)
	}
	return t.UTC(), nil
}
