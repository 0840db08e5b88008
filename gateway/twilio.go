package gateway

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	twclient "github.com/twilio/twilio-go/client"

	"github.com/nudgehq/nudge/metrics"
	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// Twilio webhooks:
//
//   - POST /webhooks/twilio/inbound: a reply to one of our numbers. STOP
//     (and Twilio's other opt-out words) withdraws SMS consent from every
//     contact with that number; START gives it back; HELP answers with who
//     we are and how to stop; anything else becomes an SMS Received event.
//   - POST /webhooks/twilio/status: a delivery report for an SMS we sent,
//     matched by its message SID.
//
// Both check X-Twilio-Signature against the auth token, over the URL
// Twilio calls: NUDGE_PUBLIC_URL + the request's path (and query), so
// NUDGE_PUBLIC_URL must be the address Twilio is given. A missing or wrong
// signature gets 403, as in Twilio's own examples, and changes nothing.

const (
	hdrTwilioSignature = "X-Twilio-Signature"
	// twilioBodyLimit is far above any SMS webhook, an MMS with ten media
	// URLs included.
	twilioBodyLimit = 64 << 10
	twilioFormKey   = "nudge.twilioForm"

	msgTwilioNotConfigured = "Twilio is not configured: set NUDGE_TWILIO_ACCOUNT_SID and NUDGE_TWILIO_AUTH_TOKEN"
	msgTwilioNoSignature   = "missing " + hdrTwilioSignature + ": only Twilio may call this endpoint"
	msgTwilioBadSignature  = hdrTwilioSignature + " does not match: the request was altered, it did not come from Twilio, " +
		"NUDGE_TWILIO_AUTH_TOKEN is not the account's auth token, or NUDGE_PUBLIC_URL is not the URL Twilio calls"
)

// Keywords an inbound SMS may be, trimmed and upper-cased: Twilio's
// default opt-out, opt-in and help words.
var (
	optOutWords = map[string]bool{"STOP": true, "STOPALL": true, "UNSUBSCRIBE": true, "CANCEL": true, "END": true, "QUIT": true}
	optInWords  = map[string]bool{"START": true, "YES": true, "UNSTOP": true}
	helpWords   = map[string]bool{"HELP": true, "INFO": true}
)

func (g *Gateway) twilioRoutes(r *gin.Engine) {
	hooks := r.Group("/webhooks/twilio", g.requireTwilio)
	hooks.POST("/inbound", g.twilioInbound)
	hooks.POST("/status", g.twilioStatus)
}

// requireTwilio lets through only requests Twilio signed, and hands the
// handlers the form it read.
func (g *Gateway) requireTwilio(c *gin.Context) {
	tw := g.Config.Twilio
	if tw == nil {
		fail(c, http.StatusNotFound, msgTwilioNotConfigured)
		return
	}
	sig := strings.TrimSpace(c.GetHeader(hdrTwilioSignature))
	if sig == "" {
		fail(c, http.StatusForbidden, msgTwilioNoSignature)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, twilioBodyLimit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			(&apiError{Status: http.StatusRequestEntityTooLarge, Error: fmt.Sprintf("the body is over the %d KB limit for a Twilio webhook", twilioBodyLimit>>10), Limit: twilioBodyLimit}).send(c)
			return
		}
		fail(c, http.StatusBadRequest, "could not read the body: "+err.Error())
		return
	}
	validator := twclient.NewRequestValidator(tw.AuthToken)
	if !validator.ValidateBody(g.Config.PublicURL+c.Request.URL.RequestURI(), body, sig) {
		g.log().Warn("Twilio webhook with a bad signature", "path", c.Request.URL.Path, "client", c.ClientIP())
		fail(c, http.StatusForbidden, msgTwilioBadSignature)
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		fail(c, http.StatusBadRequest, "the body is not a form (application/x-www-form-urlencoded): "+err.Error())
		return
	}
	c.Set(twilioFormKey, form)
	c.Next()
}

func twilioForm(c *gin.Context) url.Values {
	form, _ := c.MustGet(twilioFormKey).(url.Values)
	return form
}

// twilioInbound handles a reply to one of our numbers. An unknown number
// gets the same answer, and nothing is stored.
func (g *Gateway) twilioInbound(c *gin.Context) {
	form := twilioForm(c)
	from, sid, body := strings.TrimSpace(form.Get("From")), strings.TrimSpace(form.Get("MessageSid")), form.Get("Body")
	if from == "" || sid == "" {
		fail(c, http.StatusBadRequest, "From and MessageSid are required")
		return
	}
	if aerr := checkTwilioSID(sid); aerr != nil {
		aerr.send(c)
		return
	}
	if !utf8.ValidString(body) {
		// Stored as it is, it would turn into U+FFFD without a word.
		(&apiError{Status: http.StatusBadRequest, Field: "Body", Error: "Body: is not valid UTF-8 text"}).send(c)
		return
	}
	keyword := strings.ToUpper(strings.TrimSpace(body))
	// Finish what was started even if Twilio hangs up.
	ctx := context.WithoutCancel(c.Request.Context())
	now := time.Now().UTC()

	var (
		ids   []string
		err   error
		event string
		props map[string]any
		reply string
	)
	switch {
	case optOutWords[keyword]:
		// Twilio confirms a STOP itself; a reply of ours would not arrive.
		ids, err = g.smsKeyword(ctx, sid, from, true, now)
		event, props = workflows.EventSMSOptedOut, map[string]any{"channel": "sms", "keyword": keyword, "message_sid": sid}
	case optInWords[keyword]:
		ids, err = g.smsKeyword(ctx, sid, from, false, now)
		event, props = workflows.EventSMSOptedIn, map[string]any{"channel": "sms", "keyword": keyword, "message_sid": sid}
		reply = g.smsStartReply()
	case helpWords[keyword]:
		reply = g.smsHelpReply()
	default:
		ids, err = g.Store.ContactIDsWithPhone(ctx, from)
		event, props = workflows.EventSMSReceived, map[string]any{"body": body, "message_sid": sid}
	}
	if err == nil && len(ids) > 0 {
		err = g.accept(ctx, smsEvents(ids, event, sid, props, now))
	}
	if err != nil {
		// Twilio shows the failure in its console and tries the fallback
		// URL; a second delivery is harmless (messageIds repeat).
		g.log().Error("could not record an inbound SMS", "message_sid", sid, "event", event, "error", err)
		fail(c, http.StatusInternalServerError, "could not record the message; the gateway log has the details")
		return
	}
	twiml(c, reply)
}

// smsKeyword applies a STOP or START once per message SID, in the order
// Twilio took the messages. The rule when Twilio cannot say when it took
// one: the time it reached Nudge counts, logged and counted as
// nudge_sms_consent_unordered_total.
func (g *Gateway) smsKeyword(ctx context.Context, sid, from string, optOut bool, received time.Time) ([]string, error) {
	at := received
	// A replay is answered from the receipt; it costs no call to Twilio.
	seen, err := g.Store.Received(ctx, models.ReceiptTwilio, sid)
	if err != nil {
		return nil, err
	}
	if g.SMSTimes != nil && !seen {
		t, err := g.SMSTimes.MessageTime(ctx, sid)
		if err == nil {
			at = t
		} else {
			metrics.SMSConsentUnordered.Inc()
			g.log().Warn("could not ask Twilio when it took a STOP or START; ordering it by arrival", "message_sid", sid, "error", err)
		}
	}
	ids, applied, err := g.Store.SMSKeyword(ctx, sid, from, optOut, at)
	if err == nil && !applied {
		g.log().Info("SMS keyword changed nothing: a repeat of a handled message, or older than the keyword in force", "message_sid", sid, "stop", optOut)
	}
	return ids, err
}

// smsEvents are the track events for an inbound SMS, one per contact with
// the number. Each messageId comes from Twilio's message SID, so a webhook
// Twilio sends again is acknowledged and not processed twice.
func smsEvents(contactIDs []string, name, messageSID string, props map[string]any, at time.Time) []models.Incoming {
	calls := make([]models.Incoming, 0, len(contactIDs))
	for _, id := range contactIDs {
		msgID := workflows.OwnID("twilio", messageSID, id)
		if len(msgID) > maxIDLength {
			msgID = workflows.OwnID("twilio", messageSID, fmt.Sprintf("%x", contactHash(id)))
		}
		calls = append(calls, models.Incoming{
			Event:  models.Event{MessageID: msgID, Kind: workflows.KindTrack, Name: name, Properties: props, Timestamp: at},
			UserID: id,
		})
	}
	return calls
}

func (g *Gateway) smsHelpReply() string {
	reply := g.Config.BrandName + ": offers and reminders by text. Msg frequency varies. Msg & data rates may apply. Reply STOP to opt out."
	if g.Config.SiteURL != "" {
		reply += " Help: " + g.Config.SiteURL
	}
	return reply
}

func (g *Gateway) smsStartReply() string {
	return g.Config.BrandName + ": you are subscribed to our texts again. Reply STOP to opt out, HELP for help."
}

// twilioStatus records a delivery report. An unknown message SID is still
// acknowledged, or Twilio would keep sending it.
func (g *Gateway) twilioStatus(c *gin.Context) {
	form := twilioForm(c)
	sid, status := strings.TrimSpace(form.Get("MessageSid")), strings.TrimSpace(form.Get("MessageStatus"))
	if sid == "" || status == "" {
		fail(c, http.StatusBadRequest, "MessageSid and MessageStatus are required")
		return
	}
	if aerr := checkTwilioSID(sid); aerr != nil {
		aerr.send(c)
		return
	}
	if !twilioStatusWord.MatchString(status) {
		(&apiError{Status: http.StatusBadRequest, Field: "MessageStatus",
			Error: fmt.Sprintf("MessageStatus: must be a status word such as delivered or undelivered (lower-case letters and _, at most %d), got %q", twilioStatusLimit, clip(status))}).send(c)
		return
	}
	var reason string
	code := strings.TrimSpace(form.Get("ErrorCode"))
	if code != "" && !twilioErrorCode.MatchString(code) {
		(&apiError{Status: http.StatusBadRequest, Field: "ErrorCode", Error: fmt.Sprintf("ErrorCode: must be Twilio's numeric error code, got %q", clip(code))}).send(c)
		return
	}
	if code != "" && code != "0" {
		reason = "twilio error " + code
	}
	found, err := g.Store.SetDeliveryStatus(context.WithoutCancel(c.Request.Context()), sid, status, reason)
	if err != nil {
		g.log().Error("could not record an SMS delivery status", "message_sid", sid, "status", status, "error", err)
		fail(c, http.StatusInternalServerError, "could not record the status; the gateway log has the details")
		return
	}
	if !found {
		g.log().Warn("SMS delivery status for a message Nudge does not know", "message_sid", sid, "status", status)
	}
	c.Status(http.StatusNoContent)
}

// What the status webhook stores, checked first: a message SID is a
// provider ID (a column of 64) and part of messageIds; a status fits the
// delivery_status column (32).
const (
	twilioSIDLimit    = 64
	twilioStatusLimit = 32
)

var (
	twilioStatusWord = regexp.MustCompile(`^[a-z_]{1,32}$`)
	twilioErrorCode  = regexp.MustCompile(`^[0-9]{1,10}$`)
)

// checkTwilioSID refuses a MessageSid that cannot be stored as it is.
func checkTwilioSID(sid string) *apiError {
	if err := workflows.CheckID(sid); err != nil {
		return &apiError{Status: http.StatusBadRequest, Field: "MessageSid", Error: fmt.Sprintf("MessageSid: %v", err)}
	}
	if n := utf8.RuneCountInString(sid); n > twilioSIDLimit {
		return &apiError{Status: http.StatusBadRequest, Field: "MessageSid", Limit: twilioSIDLimit,
			Error: fmt.Sprintf("MessageSid: is %d characters long; Twilio's are 34, and the limit is %d", n, twilioSIDLimit)}
	}
	return nil
}

const twimlProlog = `<?xml version="1.0" encoding="UTF-8"?>`

// twiml answers a Twilio webhook: an SMS back to the sender, or nothing.
func twiml(c *gin.Context, message string) {
	var b strings.Builder
	b.WriteString(twimlProlog + "<Response>")
	if message != "" {
		b.WriteString("<Message>")
		_ = xml.EscapeText(&b, []byte(message))
		b.WriteString("</Message>")
	}
	b.WriteString("</Response>")
	c.Data(http.StatusOK, "text/xml; charset=utf-8", []byte(b.String()))
}
