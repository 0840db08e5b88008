package activities_test

import (
	"bytes"
	"io"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/nudgehq/nudge/activities"
	"github.com/nudgehq/nudge/config"
	"github.com/nudgehq/nudge/internal/smtptest"
	"github.com/nudgehq/nudge/links"
	"github.com/nudgehq/nudge/workflows"
)

// A report goes by email, with the daily chart inline as PNG, and to Slack
// with a link to the dashboard, once per destination however often the
// activity runs.
func TestSendReport(t *testing.T) {
	f := newSlackFixture(t)
	srv, err := smtptest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	smtpCfg, err := config.ParseSMTP("smtp://" + srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	f.acts.Mailer = activities.NewSMTPMailer(smtpCfg)
	f.acts.From = mail.Address{Name: "Nudge", Address: "reports@nudge.example"}
	f.acts.Links = links.NewSigner("test-secret-0123456789", "https://nudge.example")
	sends(t, f.store, "winback", 4, 1, 0)

	run := workflows.ReportRun{
		ReportRequest: workflows.ReportRequest{Name: "weekly@mon 09:00 UTC", Period: 7 * 24 * time.Hour, Emails: []string{"ops@example.com"}, Slack: []string{"#marketing"}},
		Key:           "nudge-report-weekly-2026-03-02T09:00:00Z",
		From:          time.Date(2026, 2, 23, 9, 0, 0, 0, time.UTC), To: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC),
	}
	var res workflows.ReportResult
	if err := f.run(t, workflows.SendReportActivity, run, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Emailed) != 1 || len(res.Posted) != 1 || len(res.Skipped) != 0 {
		t.Fatalf("result %+v", res)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 || msgs[0].To[0] != "ops@example.com" {
		t.Fatalf("%d emails", len(msgs))
	}
	// Read past the transfer encoding: quoted-printable soft breaks and =3D.
	decoded, _ := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(msgs[0].Raw)))
	raw := string(decoded)
	for _, want := range []string{
		"Subject: Nudge report, weekly@mon 09:00 UTC: 2026-02-23 to 2026-03-02",
		"Emails sent: 4 (+4)",          // the text part: four sent on 1 March, none the week before
		"Bounce rate: 25.0%",           // one of the four bounced
		"winback: 0, 0, 4, 0, 0, 0.00", // the journey table
		`src="cid:daily.png"`,          // the chart, inline
		"Content-Type: image/png",
		"Content-ID: <daily.png>", // RFC 2392: the brackets; the HTML says cid:daily.png
		"Dashboard: https://nudge.example/dashboard?from=2026-02-23T09:00:00Z&to=2026-03-02T09:00:00Z",
	} {
		if !strings.Contains(strings.ToLower(raw), strings.ToLower(want)) {
			t.Errorf("the email lacks %q", want)
		}
	}
	reqs := f.slack.requests()
	if len(reqs) != 1 || reqs[0].Form.Get("channel") != "#marketing" ||
		reqs[0].Form.Get("text") != "Nudge report, weekly@mon 09:00 UTC: 2026-02-23 to 2026-03-02" ||
		!strings.Contains(reqs[0].Form.Get("blocks"), `"url":"https://nudge.example/dashboard?from=2026-02-23T09:00:00Z\u0026to=2026-03-02T09:00:00Z"`) {
		t.Fatalf("slack %+v", reqs)
	}

	// Retried: nothing goes out twice.
	var again workflows.ReportResult
	if err := f.run(t, workflows.SendReportActivity, run, &again); err != nil {
		t.Fatal(err)
	}
	if len(again.Emailed)+len(again.Posted) != 0 || len(again.Skipped) != 2 || len(srv.Messages()) != 1 || len(f.slack.requests()) != 1 {
		t.Fatalf("a retry sent again: %+v", again)
	}
}
