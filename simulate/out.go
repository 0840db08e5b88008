package simulate

import (
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/nudgehq/nudge/models"
)

// outFile is one message written by --out, as index.html lists it.
type outFile struct {
	Offset, Channel, Journey, Step, Status, To, Subject string
	Files                                               []string
}

var unsafeName = regexp.MustCompile(`[^a-z0-9_.-]+`)

// writeOut writes every message of the run under dir: an email as .html and
// .txt, an SMS as .txt, a Slack alert as its Block Kit .json; and an
// index.html listing them in the order sent, with their offsets.
func writeOut(dir string, msgs []models.Message, offset func(time.Time) time.Duration) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var index []outFile
	for i, m := range msgs {
		name := fmt.Sprintf("%02d-%s-%s-%s", i+1, m.Channel, m.Journey, m.Step)
		name = strings.Trim(unsafeName.ReplaceAllString(strings.ToLower(name), "-"), "-")
		f := outFile{Offset: offsetLabel(offset(m.At)), Channel: m.Channel, Journey: m.Journey, Step: m.Step, Status: m.Status, To: m.To, Subject: m.Subject}
		write := func(ext, body string) error {
			if body == "" {
				return nil
			}
			f.Files = append(f.Files, name+ext)
			return os.WriteFile(filepath.Join(dir, name+ext), []byte(body), 0o644)
		}
		var err error
		switch m.Channel {
		case models.ChannelEmail:
			if err = write(".html", m.HTML); err == nil {
				err = write(".txt", m.Text)
			}
		case models.ChannelSlack:
			err = write(".json", m.HTML)
		default:
			err = write(".txt", m.Text)
		}
		if err != nil {
			return err
		}
		index = append(index, f)
	}
	out, err := os.Create(filepath.Join(dir, "index.html"))
	if err != nil {
		return err
	}
	defer out.Close()
	return indexPage.Execute(out, index)
}

var indexPage = template.Must(template.New("index").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Simulated messages</title>
<style>body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;margin:32px}td,th{padding:4px 10px;text-align:left;border-bottom:1px solid #ddd}</style>
</head><body>
<h1>Simulated messages</h1>
<p>Rendered by nudge simulate, in the order sent. None was delivered.</p>
<table>
<tr><th>At</th><th>Channel</th><th>Journey</th><th>Step</th><th>Status</th><th>To</th><th>Subject</th><th>Files</th></tr>
{{range .}}<tr><td>{{.Offset}}</td><td>{{.Channel}}</td><td>{{.Journey}}</td><td>{{.Step}}</td><td>{{.Status}}</td><td>{{.To}}</td><td>{{.Subject}}</td><td>{{range .Files}}<a href="{{.}}">{{.}}</a> {{end}}</td></tr>
{{end}}</table>
</body></html>
`))
