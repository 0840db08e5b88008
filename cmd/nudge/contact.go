package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/platform"
	"github.com/nudgehq/nudge/workflows"
)

// runContact prints where to find a contact: asked for by its ID or by the
// email address or phone number it was identified with, since a contact
// identified by an address has an opaque ID (c_…) in Temporal.
func runContact(ctx context.Context, p *platform.Platform, args []string, out io.Writer) error {
	if len(args) != 1 || strings.HasPrefix(args[0], "-") {
		return errors.New("usage: nudge contact ID|EMAIL|PHONE")
	}
	id, err := p.Store.ResolveContact(ctx, args[0])
	if err != nil {
		return err
	}
	c, err := p.Store.Contact(ctx, id)
	if errors.Is(err, models.ErrNotFound) {
		return fmt.Errorf("no contact %q", args[0])
	}
	if err != nil {
		return err
	}
	wfID := workflows.ContactWorkflowID(c.ID)
	ns := p.Config.TemporalNamespace
	fmt.Fprintf(out, "Contact      %s\nEmail        %s\nStage        %s\nLead score   %d\nWorkflow     %s\nTemporal UI  %s/namespaces/%s/workflows/%s\n",
		c.ID, c.Email, c.LifecycleStage, c.LeadScore, wfID,
		strings.TrimRight(p.Config.TemporalUIURL, "/"), url.PathEscape(ns), url.PathEscape(wfID))
	return nil
}
