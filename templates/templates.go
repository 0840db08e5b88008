// Package templates holds the copy Nudge sends and shows: email templates,
// the content they draw on, and the gateway's pages, embedded into the binary.
// Copy lives here and not in workflow code, so editing it never changes a
// workflow's history.
//
// Each email is two files under email/<journey>/: <step>.txt defines
// "subject" and "text", <step>.html defines "body". layout.txt and
// layout.html wrap every email and add the footer with the unsubscribe link
// and postal address; partials.txt and partials.html hold pieces several
// emails share, such as the list of products in a cart or an order.
//
// The scheduled report's email is reports/report.html.
//
// Each SMS is one file, sms/<journey>/<step>.txt: one text template whose
// output is collapsed to a single line.
package templates

import "embed"

//go:embed email content inapp pages reports sms
var FS embed.FS
