package gateway

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// Deliver signals each event to its contact's workflow, starting the
// workflow if need be, in order. It stops at the first failure: the events
// before it are marked delivered, the failed one gets an attempt recorded,
// and it and the rest stay pending for the relay.
func (g *Gateway) Deliver(ctx context.Context, evs []*models.Event) error {
	delivered := make([]uint64, 0, len(evs))
	var failure error
	for _, ev := range evs {
		if ev.ContactID == "" {
			continue // held for an identify; never signalled without a contact
		}
		if err := g.signal(ctx, ev); err != nil {
			failure = fmt.Errorf("signal event %s to %s: %w", ev.MessageID, workflows.ContactWorkflowID(ev.ContactID), err)
			g.backlog.Store(true)
			if err := g.Store.MarkAttempt(ctx, ev.ID, err); err != nil {
				failure = errors.Join(failure, fmt.Errorf("record the failed attempt: %w", err))
			}
			break
		}
		delivered = append(delivered, ev.ID)
	}
	if err := g.markDelivered(ctx, delivered); err != nil {
		// The workflow drops events it has seen, so a redelivery is harmless.
		failure = errors.Join(failure, fmt.Errorf("mark %d events delivered: %w", len(delivered), err))
	}
	return failure
}

func (g *Gateway) signal(ctx context.Context, ev *models.Event) error {
	ctx, cancel := context.WithTimeout(ctx, orDefault(g.SignalTimeout, DefaultSignalTimeout))
	defer cancel()
	id := workflows.ContactWorkflowID(ev.ContactID)
	_, err := g.Temporal.SignalWithStartWorkflow(ctx, id, workflows.SignalEvent,
		workflows.Event{
			MessageID:  ev.MessageID,
			Kind:       ev.Kind,
			Name:       ev.Name,
			Properties: ev.Properties,
			Traits:     ev.Traits,
			Timestamp:  ev.Timestamp,
		},
		client.StartWorkflowOptions{
			ID:                    id,
			TaskQueue:             g.Config.TaskQueue,
			TypedSearchAttributes: temporal.NewSearchAttributes(workflows.ContactIDKey.ValueSet(ev.ContactID)),
		},
		workflows.ContactWorkflowName, workflows.ContactState{ContactID: ev.ContactID})
	return err
}

// accept stores calls and signals the events that are ready, unless the
// relay is catching up: then they wait their turn behind the older pending
// ones. A call is acknowledged once stored: if Temporal does not take the
// signal, the event stays pending and the relay delivers it. While a request
// works on its events they are in flight, and the relay leaves them alone;
// they are marked so before they are stored, so the relay cannot read them
// in between.
func (g *Gateway) accept(ctx context.Context, calls []models.Incoming) error {
	for _, c := range calls {
		g.inflight.Store(c.MessageID, struct{}{})
	}
	defer func() {
		for _, c := range calls {
			g.inflight.Delete(c.MessageID)
		}
	}()
	evs, err := g.Store.Accept(ctx, calls)
	if err != nil {
		return err
	}
	if len(evs) == 0 {
		return nil
	}
	if g.relaying.Load() && g.backlog.Load() {
		g.log().Debug("events left to the relay while it catches up", "events", len(evs))
		return nil
	}
	// Events released by an identify were stored earlier: claim them too.
	for _, ev := range evs {
		g.inflight.Store(ev.MessageID, struct{}{})
	}
	defer func() {
		for _, ev := range evs {
			g.inflight.Delete(ev.MessageID)
		}
	}()
	// Stored: finish delivering even if the client hangs up now.
	if err := g.Deliver(context.WithoutCancel(ctx), evs); err != nil {
		g.log().Warn("events stored but not yet signalled; the relay will retry", "error", err)
	}
	return nil
}

// RunRelay delivers pending events until ctx is done: events stored while
// Temporal was unreachable, or by a gateway that stopped before signalling.
// It backs off while Temporal keeps failing.
func (g *Gateway) RunRelay(ctx context.Context) {
	interval := orDefault(g.RelayInterval, DefaultRelayInterval)
	maxBackoff := max(orDefault(g.RelayMaxBackoff, DefaultRelayMaxBackoff), interval)
	// Whatever an earlier process left pending goes before anything new.
	// Set before relaying, so no request signals while the first round reads.
	g.backlog.Store(true)
	g.relaying.Store(true)
	defer g.relaying.Store(false)

	wait := time.Duration(0)
	timer := time.NewTimer(wait)
	defer timer.Stop()
	flush := time.NewTicker(markInterval)
	defer flush.Stop()
	for {
		select {
		case <-ctx.Done():
			g.relaying.Store(false) // from here on, requests mark their own events
			g.flushMarks(context.WithoutCancel(ctx))
			return
		case <-flush.C:
			g.flushMarks(ctx)
			continue
		case <-timer.C:
		}
		// Record what requests delivered first, so the round does not
		// signal those events again.
		g.flushMarks(ctx)
		if err := g.relayRound(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			wait = min(max(wait*2, interval), maxBackoff)
			g.log().Warn("relay could not deliver pending events", "error", err, "retry_in", wait)
		} else {
			wait = interval
		}
		timer.Reset(wait)
	}
}

// relayRound delivers one batch of pending events, oldest first.
func (g *Gateway) relayRound(ctx context.Context) error {
	limit := g.RelayBatch
	if limit <= 0 {
		limit = DefaultRelayBatch
	}
	catchingUp := g.backlog.Load()
	before := time.Now().Add(-orDefault(g.RelayGrace, DefaultRelayGrace))
	if catchingUp {
		// Requests leave events to the relay now, so none is in flight.
		before = time.Now()
	}
	evs, err := g.Store.PendingEvents(ctx, before, limit)
	if err != nil {
		return fmt.Errorf("read pending events: %w", err)
	}
	skipped := 0
	evs = slices.DeleteFunc(evs, func(ev *models.Event) bool {
		_, busy := g.inflight.Load(ev.MessageID)
		if busy {
			skipped++
		}
		return busy
	})
	if len(evs) > 0 {
		if err := g.Deliver(ctx, evs); err != nil {
			return err
		}
		g.log().Info("relay delivered pending events", "events", len(evs))
	}
	// Caught up once a round finds nothing more; events a request still
	// holds may be older than the next one it stores, so wait for them too.
	if catchingUp && len(evs) < limit && skipped == 0 {
		g.backlog.Store(false)
	}
	return nil
}

// Batching of delivered marks (see Gateway.marks).
const (
	markQueue    = 4096
	markBatch    = 1000
	markInterval = 250 * time.Millisecond
)

// markDelivered records delivered events: queued for RunRelay's next batch
// while it runs, written at once otherwise (or when the queue is full).
func (g *Gateway) markDelivered(ctx context.Context, ids []uint64) error {
	if !g.relaying.Load() {
		return g.Store.MarkDelivered(ctx, ids...)
	}
	for i, id := range ids {
		select {
		case g.marks <- id:
		default:
			return g.Store.MarkDelivered(ctx, ids[i:]...)
		}
	}
	return nil
}

// flushMarks writes the queued delivered marks, a batch at a time.
func (g *Gateway) flushMarks(ctx context.Context) {
	for {
		batch := make([]uint64, 0, markBatch)
	fill:
		for len(batch) < markBatch {
			select {
			case id := <-g.marks:
				batch = append(batch, id)
			default:
				break fill
			}
		}
		if len(batch) == 0 {
			return
		}
		if err := g.Store.MarkDelivered(ctx, batch...); err != nil {
			// They stay pending; the relay signals them again, harmlessly.
			g.log().Warn("could not record delivered events", "events", len(batch), "error", err)
		}
		if len(batch) < markBatch {
			return
		}
	}
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
