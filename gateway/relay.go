package gateway

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"google.golang.org/grpc/status"

	"github.com/nudgehq/nudge/metrics"
	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// How events reach Temporal.
//
// Every accepted event is stored before anything else; the client's 200
// means "stored". The gateway that stored it leases it to itself (a lease in
// the database: owner and expiry) and hands it to its relay, which signals
// it with SignalWithStartWorkflow to the contact's workflow. The relay
// delivers each contact's events in the order stored, one contact at a time
// per worker and many contacts at once, folding a contact's queued events
// into one signal.
//
// What can go wrong, and what happens:
//   - Temporal is unreachable: the relay gives its leases back and stops
//     taking new ones; events are stored unleased, and the claim loop probes
//     with backoff, then drains the backlog in order. Nobody's attempts are
//     counted: it is not the events' fault.
//   - Temporal refuses one event (a payload it will not take): that event
//     alone waits RetryBackoff, holding back only its own contact's later
//     events, and after models.MaxEventAttempts it is dead-lettered. Other
//     contacts never wait for it.
//   - The gateway dies: its leases run out and any gateway's claim loop
//     (ClaimPending) takes the events over, in order.
//   - A delivered mark is lost: the event is signalled again, and the
//     contact's workflow drops the duplicate (it remembers recent message IDs).

// Defaults for the tunables on Gateway, used when a field is zero.
const (
	DefaultRelayInterval   = time.Second
	DefaultRelayMaxBackoff = 30 * time.Second
	DefaultRelayBatch      = 500
	DefaultSignalTimeout   = 5 * time.Second
	DefaultRelayWorkers    = 32
)

const (
	// leaseFor is how long a gateway holds the events it has not yet
	// signalled; another gateway takes them over once it runs out. The
	// claim loop renews its leases every leaseRenewal, so a lease runs out
	// only when its gateway has died (or lost its database).
	leaseFor     = 30 * time.Second
	leaseRenewal = 10 * time.Second
	// leaseMargin: an event whose lease ends sooner than this is given
	// back rather than signalled, so two gateways never both signal it.
	leaseMargin = 5 * time.Second
	// maxQueued bounds the events a relay holds in memory; beyond it,
	// events are stored unleased and claimed from the database later.
	maxQueued = 10_000
	// maxFold is the most events folded into one signal: 16 calls of at
	// most 32 KB stay under Temporal's 512 KB payload warning.
	maxFold = 16
	// maxPerContactClaim is the most events of one contact a claim takes.
	maxPerContactClaim = 256
)

// relay signals stored events to contacts' workflows (see above).
type relay struct {
	g     *Gateway
	owner string // this gateway's name in leases

	mu      sync.Mutex
	queues  map[string]*contactQueue // by contact ID
	ready   []string                 // contacts with events to signal, none of them busy
	queued  int                      // events in memory
	workers int                      // running signalling goroutines
	idle    *sync.Cond               // broadcast when a worker stops
	running atomic.Bool              // RunRelay is running: marks are batched, a claim loop exists
	down    atomic.Bool              // Temporal is unreachable: store unleased, probe with backoff
	renewed atomic.Int64             // until when the last renewal extended every lease held (Unix ns)
	held    map[uint64]struct{}      // IDs of the events in memory, queued or in flight: the leases to renew

	unmarkedMu sync.Mutex
	unmarked   []uint64 // delivered marks a failed write left, for the next flush
	kick       chan struct{}
	marks      chan uint64
	stopping   bool
}

// contactQueue is one contact's events in memory, in id order.
type contactQueue struct {
	events   []*queuedEvent
	busy     bool // a worker is signalling some of them
	reserved int  // claims adding events; not signalled until they finish
}

type queuedEvent struct {
	ev   *models.Event
	done chan struct{} // closed once the event is delivered, refused or given back
}

func newRelay(g *Gateway) *relay {
	host, _ := os.Hostname()
	r := &relay{
		g:      g,
		owner:  fmt.Sprintf("%.30s-%d-%s", host, os.Getpid(), rand.Text()[:8]),
		queues: map[string]*contactQueue{},
		held:   map[uint64]struct{}{},
		kick:   make(chan struct{}, 1),
		marks:  make(chan uint64, markQueue),
	}
	r.idle = sync.NewCond(&r.mu)
	return r
}

// lease is what a request asks the store for: a lease to this relay while
// it can take more events, none while Temporal is down or memory is full.
func (r *relay) lease() models.Lease {
	r.mu.Lock()
	full := r.queued >= maxQueued || r.stopping
	r.mu.Unlock()
	if full || r.down.Load() {
		return models.Lease{}
	}
	return models.Lease{Owner: r.owner, Until: time.Now().Add(leaseFor)}
}

// take hands stored events to the relay: those leased to it are queued for
// signalling (their done channels returned), the rest are left for the
// claim loop, which is woken. With inline, the contacts that had nothing
// queued are not handed to a worker but returned, marked busy, for the
// caller to serve itself: a single call is signalled by its own request,
// with no hand-off between goroutines.
func (r *relay) take(evs []*models.Event, inline bool) (dones []chan struct{}, mine []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	unleased := false
	for _, ev := range evs {
		if ev.LeaseOwner != r.owner {
			unleased = unleased || ev.ContactID != ""
			continue
		}
		qe := &queuedEvent{ev: ev, done: make(chan struct{})}
		dones = append(dones, qe.done)
		switch {
		case !r.queueLocked(qe):
		case inline:
			r.queues[ev.ContactID].busy = true
			mine = append(mine, ev.ContactID)
		default:
			r.schedule(ev.ContactID)
		}
	}
	if unleased {
		r.wake()
	}
	return dones, mine
}

// queueLocked adds an event to its contact's queue, in id order, and
// reports whether the contact has work now and nobody to do it: not busy,
// not being claimed, and this its only event.
func (r *relay) queueLocked(qe *queuedEvent) bool {
	q := r.queues[qe.ev.ContactID]
	if q == nil {
		q = &contactQueue{}
		r.queues[qe.ev.ContactID] = q
	}
	i, found := slices.BinarySearchFunc(q.events, qe.ev.ID, func(e *queuedEvent, id uint64) int {
		return compareIDs(e.ev.ID, id)
	})
	if found {
		close(qe.done) // already queued (claimed again after a request queued it)
		return false
	}
	q.events = slices.Insert(q.events, i, qe)
	r.queued++
	r.held[qe.ev.ID] = struct{}{}
	return !q.busy && q.reserved == 0 && len(q.events) == 1
}

func compareIDs(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// schedule makes a contact ready and starts a worker if one is free.
// Workers stop when nothing is ready, so an idle relay holds no goroutines.
func (r *relay) schedule(contact string) {
	r.ready = append(r.ready, contact)
	if r.workers < r.g.relayWorkers() {
		r.workers++
		go r.work()
	}
}

// work signals ready contacts until none is left.
func (r *relay) work() {
	for {
		r.mu.Lock()
		if len(r.ready) == 0 {
			r.workers--
			r.idle.Broadcast()
			r.mu.Unlock()
			return
		}
		contact := r.ready[0]
		r.ready = r.ready[1:]
		r.queues[contact].busy = true
		r.mu.Unlock()
		r.serve(contact, nil)
	}
}

// serve signals a busy contact's queued events, a signal at a time, until
// none is left, then marks it idle. A request serving its own contact stops
// once its own events are out (done says so) and hands the rest to a worker.
func (r *relay) serve(contact string, done func() bool) {
	for {
		r.mu.Lock()
		q := r.queues[contact]
		if len(q.events) == 0 || q.reserved > 0 || done != nil && done() {
			q.busy = false
			switch {
			case len(q.events) == 0 && q.reserved == 0:
				delete(r.queues, contact)
			case q.reserved == 0:
				r.schedule(contact)
			}
			r.mu.Unlock()
			return
		}
		batch := q.events[:foldable(q.events)]
		q.events = q.events[len(batch):]
		r.queued -= len(batch)
		r.mu.Unlock()
		r.deliver(contact, batch)
	}
}

// foldable is how many of a contact's queued events go in one signal: up to
// maxFold, and an event Temporal refused before goes alone, so a poison
// event costs one signal per try and never takes others down with it.
func foldable(events []*queuedEvent) int {
	if events[0].ev.Attempts > 0 {
		return 1
	}
	n := 1
	for n < len(events) && n < maxFold && events[n].ev.Attempts == 0 {
		n++
	}
	return n
}

// deliver signals one contact's events, folded into one signal, and
// settles each: delivered, waiting for a retry, dead, or given back.
func (r *relay) deliver(contact string, batch []*queuedEvent) {
	defer func() {
		for _, qe := range batch {
			close(qe.done)
		}
	}()
	ctx := context.Background()
	renewed := time.Unix(0, r.renewed.Load())
	stale := time.Now().Add(leaseMargin)
	if slices.ContainsFunc(batch, func(qe *queuedEvent) bool { return qe.ev.LeaseUntil.Before(stale) && renewed.Before(stale) }) {
		// Held too long: another gateway may take these over any moment.
		r.giveBack(contact, batch, "lease about to run out before the event could be signalled")
		return
	}
	err := r.signal(ctx, contact, batch)
	if err == nil {
		r.delivered(batch)
		return
	}
	if !ownFault(err) {
		r.unreachable(contact, batch, err)
		return
	}
	// One of them is at fault, or the fold as a whole (too large): find out
	// one at a time, in order.
	for i, qe := range batch {
		if len(batch) > 1 {
			err = r.signal(ctx, contact, batch[i:i+1])
		}
		switch {
		case err == nil:
			r.delivered(batch[i : i+1])
			continue
		case !ownFault(err):
			r.unreachable(contact, batch[i:], err)
			return
		}
		cause := fmt.Sprintf("signal to %s refused: %v", workflows.ContactWorkflowID(contact), err)
		dead, ferr := r.g.Store.FailEvent(ctx, r.owner, qe.ev.ID, cause, func(attempts int) time.Time {
			return time.Now().Add(r.g.retryBackoff(attempts))
		})
		r.unhold(qe)
		if ferr != nil {
			r.g.log().Error("could not record a refused event; its lease will run out and it will be retried", "event", qe.ev.MessageID, "error", ferr)
		}
		if dead {
			metrics.RelaySignals.WithLabelValues("dead_lettered").Inc()
			r.g.log().Error("event dead-lettered: Temporal refused it every time", "event", qe.ev.MessageID, "contact", contact,
				"attempts", models.MaxEventAttempts, "error", err)
			continue // a dead event no longer holds its contact back
		}
		metrics.RelaySignals.WithLabelValues("failed").Inc()
		r.g.log().Warn("Temporal refused an event; it will be retried, and its contact's later events wait for it",
			"event", qe.ev.MessageID, "contact", contact, "error", err)
		// The contact's later events go back to the database, behind it.
		r.giveBack(contact, batch[i+1:], "")
		return
	}
}

// signal sends one contact's events in one SignalWithStartWorkflow.
func (r *relay) signal(ctx context.Context, contact string, batch []*queuedEvent) error {
	ctx, cancel := context.WithTimeout(ctx, orDefault(r.g.SignalTimeout, DefaultSignalTimeout))
	defer cancel()
	evs := make([]workflows.Event, len(batch))
	for i, qe := range batch {
		evs[i] = qe.ev.Signal()
	}
	// One event goes as the plain signal every version of ContactWorkflow knows.
	name, arg := workflows.SignalEvents, any(evs)
	if len(evs) == 1 {
		name, arg = workflows.SignalEvent, evs[0]
	}
	id := workflows.ContactWorkflowID(contact)
	_, err := r.g.Temporal.SignalWithStartWorkflow(ctx, id, name, arg,
		client.StartWorkflowOptions{
			ID:                    id,
			TaskQueue:             r.g.Config.TaskQueue,
			TypedSearchAttributes: workflows.StartAttributes(contact),
		},
		workflows.ContactWorkflowName, workflows.NewContact(contact))
	return err
}

// ownFault tells an error about this signal (Temporal will refuse it again:
// a payload too large, an ID it will not take, an event it cannot encode)
// from Temporal being unreachable or overloaded, which is nobody's event's
// fault.
func ownFault(err error) bool {
	var invalid *serviceerror.InvalidArgument
	var precondition *serviceerror.FailedPrecondition
	if errors.As(err, &invalid) || errors.As(err, &precondition) {
		return true
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return false
	}
	// An error with no gRPC status never reached the server: the SDK could
	// not encode the event.
	_, isStatus := status.FromError(err)
	var svc serviceerror.ServiceError
	return !isStatus && !errors.As(err, &svc)
}

func (r *relay) delivered(batch []*queuedEvent) {
	r.unhold(batch...)
	ids := make([]uint64, len(batch))
	for i, qe := range batch {
		ids[i] = qe.ev.ID
	}
	metrics.RelaySignals.WithLabelValues("delivered").Inc()
	metrics.RelayEvents.Add(float64(len(batch)))
	if r.down.CompareAndSwap(true, false) {
		r.g.log().Info("Temporal is reachable again; delivering the backlog")
		r.wake()
	}
	if err := r.markDelivered(ids); err != nil {
		// The workflow drops events it has seen, so a redelivery is harmless.
		r.g.log().Warn("could not record delivered events; they will be signalled again", "events", len(ids), "error", err)
	}
}

// unreachable handles Temporal failing for reasons of its own: the relay
// gives back everything it holds, and stores events unleased, until a probe
// gets through.
func (r *relay) unreachable(contact string, batch []*queuedEvent, err error) {
	metrics.RelaySignals.WithLabelValues("unreachable").Inc()
	if r.down.CompareAndSwap(false, true) {
		r.g.log().Warn("Temporal is unreachable: events are stored and will be delivered when it is back", "error", err)
	}
	r.giveBack(contact, batch, "Temporal unreachable: "+err.Error())
	r.mu.Lock()
	var held []*queuedEvent
	for c, q := range r.queues {
		if !q.busy && q.reserved == 0 {
			held = append(held, q.events...)
			r.queued -= len(q.events)
			delete(r.queues, c)
		}
	}
	r.ready = r.ready[:0]
	r.mu.Unlock()
	r.release(held, "")
	for _, qe := range held {
		close(qe.done)
	}
}

// giveBack releases a contact's batch and its queued events to the database.
func (r *relay) giveBack(contact string, batch []*queuedEvent, why string) {
	r.mu.Lock()
	var rest []*queuedEvent
	if q := r.queues[contact]; q != nil {
		rest = q.events
		q.events = nil
		r.queued -= len(rest)
	}
	r.mu.Unlock()
	r.release(append(slices.Clone(batch), rest...), why)
	for _, qe := range rest {
		close(qe.done)
	}
	r.wake()
}

func (r *relay) release(evs []*queuedEvent, why string) {
	if len(evs) == 0 {
		return
	}
	r.unhold(evs...)
	ids := make([]uint64, len(evs))
	for i, qe := range evs {
		ids[i] = qe.ev.ID
	}
	if err := r.g.Store.ReleaseEvents(context.Background(), r.owner, ids, why); err != nil {
		// Their leases run out instead, and a claim takes them then.
		r.g.log().Warn("could not give back leased events; they wait for their leases to run out", "events", len(ids), "error", err)
	}
}

// unhold forgets events the relay no longer holds: delivered, refused or
// given back. Their leases are no longer renewed.
func (r *relay) unhold(evs ...*queuedEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, qe := range evs {
		delete(r.held, qe.ev.ID)
	}
}

// wake makes the claim loop look for work now.
func (r *relay) wake() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// RunRelay runs the claim loop until ctx is done: it claims pending events
// no gateway is signalling (stored unleased, given back, or whose gateway
// died) and signals them. While Temporal is unreachable it probes with
// backoff. On the way out it finishes what is in flight and gives back the
// rest.
func (g *Gateway) RunRelay(ctx context.Context) {
	r := g.relay
	r.running.Store(true)
	interval := orDefault(g.RelayInterval, DefaultRelayInterval)
	maxBackoff := max(orDefault(g.RelayMaxBackoff, DefaultRelayMaxBackoff), interval)
	flush := time.NewTicker(markInterval)
	defer flush.Stop()
	renew := time.NewTicker(leaseRenewal)
	defer renew.Stop()
	timer := time.NewTimer(0)
	defer timer.Stop()
	backoff := interval
	for {
		select {
		case <-ctx.Done():
			r.stop()
			return
		case <-flush.C:
			r.flushMarks(ctx)
			continue
		case <-renew.C:
			r.renewLeases(ctx)
			continue
		case <-r.kick:
		case <-timer.C:
		}
		r.flushMarks(ctx) // so a claim does not see delivered events as pending
		probe := r.down.Load()
		n, err := r.claim(ctx, probe)
		wait := interval
		switch {
		case err != nil && ctx.Err() != nil:
			r.stop()
			return
		case err != nil:
			g.log().Warn("relay could not read pending events", "error", err)
			backoff = min(backoff*2, maxBackoff)
			wait = backoff
		case probe || r.down.Load():
			backoff = min(backoff*2, maxBackoff)
			wait = backoff
		default:
			backoff = interval
			if n > 0 {
				wait = 10 * time.Millisecond // more may be waiting
			}
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
	}
}

// renewLeases extends the lease on every event this gateway holds, so none
// runs out while it waits its turn here.
func (r *relay) renewLeases(ctx context.Context) {
	until := time.Now().Add(leaseFor)
	r.mu.Lock()
	ids := make([]uint64, 0, len(r.held))
	for id := range r.held {
		ids = append(ids, id)
	}
	r.mu.Unlock()
	if err := r.g.Store.RenewLeases(ctx, r.owner, ids, until); err != nil {
		// Events held past their lease are given back, not signalled.
		r.g.log().Warn("could not renew the relay's leases", "error", err)
		return
	}
	r.renewed.Store(until.UnixNano())
}

// claim takes one round of pending events from the database and queues
// them. A probe (Temporal was unreachable) takes one contact's.
func (r *relay) claim(ctx context.Context, probe bool) (int, error) {
	contacts := r.g.RelayBatch
	if contacts <= 0 {
		contacts = DefaultRelayBatch
	}
	if probe {
		contacts = 1
	}
	r.mu.Lock()
	room := maxQueued - r.queued
	r.mu.Unlock()
	if room <= 0 {
		return 0, nil
	}
	var reserved []string
	skip := func(contact string) bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		q := r.queues[contact]
		if q != nil && (q.busy || len(q.events) > 0) {
			return true
		}
		if q == nil {
			q = &contactQueue{}
			r.queues[contact] = q
		}
		// Hold the contact while the claim runs, so a request's newer event
		// is not signalled before the older ones the claim brings.
		q.reserved++
		reserved = append(reserved, contact)
		return false
	}
	now := time.Now()
	evs, err := r.g.Store.ClaimPending(ctx, models.Claim{
		Owner: r.owner, Now: now, Until: now.Add(leaseFor),
		Contacts: min(contacts, room), PerContact: min(maxPerContactClaim, room), Skip: skip,
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ev := range evs {
		r.queueLocked(&queuedEvent{ev: ev, done: make(chan struct{})}) // scheduled below, once the claim is done
	}
	for _, contact := range reserved {
		q := r.queues[contact]
		q.reserved--
		switch {
		case q.reserved > 0 || q.busy:
		case len(q.events) == 0:
			delete(r.queues, contact)
		case !slices.Contains(r.ready, contact):
			r.schedule(contact)
		}
	}
	if len(evs) > 0 {
		r.g.log().Debug("relay claimed pending events", "events", len(evs))
	}
	return len(evs), err
}

// stop finishes the signals in flight (for a few seconds at most), gives
// back whatever is still queued, and records the delivered marks.
func (r *relay) stop() {
	r.mu.Lock()
	r.stopping = true
	deadline := time.AfterFunc(10*time.Second, func() {
		r.mu.Lock()
		r.ready = r.ready[:0]
		r.idle.Broadcast()
		r.mu.Unlock()
	})
	for r.workers > 0 {
		r.idle.Wait()
	}
	deadline.Stop()
	var held []*queuedEvent
	for c, q := range r.queues {
		if !q.busy {
			held = append(held, q.events...)
			delete(r.queues, c)
		}
	}
	r.queued = 0
	r.ready = r.ready[:0]
	r.mu.Unlock()
	r.release(held, "")
	for _, qe := range held {
		close(qe.done)
	}
	r.running.Store(false) // from here on, delivered marks are written at once
	r.flushMarks(context.Background())
}

// Batching of delivered marks: one write per batch instead of one per event.
const (
	markQueue    = 4096
	markBatch    = 1000
	markInterval = 250 * time.Millisecond
)

// markDelivered records delivered events: queued for RunRelay's next batch
// while it runs, written at once otherwise (or when the queue is full).
func (r *relay) markDelivered(ids []uint64) error {
	if !r.running.Load() {
		return r.g.Store.MarkDelivered(context.Background(), ids...)
	}
	for i, id := range ids {
		select {
		case r.marks <- id:
		default:
			return r.g.Store.MarkDelivered(context.Background(), ids[i:]...)
		}
	}
	return nil
}

// flushMarks writes the queued delivered marks, a batch at a time. Marks a
// failed write left (the database restarting, say) go first next time: an
// event delivered and never marked would be signalled again once its lease
// ran out, which is harmless, but the backlog would count it meanwhile.
func (r *relay) flushMarks(ctx context.Context) {
	for {
		r.unmarkedMu.Lock()
		batch := r.unmarked[:min(len(r.unmarked), markBatch)]
		r.unmarked = r.unmarked[len(batch):]
		r.unmarkedMu.Unlock()
	fill:
		for len(batch) < markBatch {
			select {
			case id := <-r.marks:
				batch = append(batch, id)
			default:
				break fill
			}
		}
		if len(batch) == 0 {
			return
		}
		if err := r.g.Store.MarkDelivered(ctx, batch...); err != nil {
			r.g.log().Warn("could not record delivered events; will try again", "events", len(batch), "error", err)
			r.unmarkedMu.Lock()
			if len(r.unmarked) < maxQueued {
				r.unmarked = append(batch, r.unmarked...)
			}
			r.unmarkedMu.Unlock()
			return
		}
		if len(batch) < markBatch {
			return
		}
	}
}

// accept stores calls and hands them to the relay, and returns once the
// relay has signalled the events it took (or given up on them for now): a
// client sending one call at a time goes at the pace Temporal takes them.
// The calls are acknowledged once stored, though: what the relay cannot
// signal now stays pending and is delivered later.
func (g *Gateway) accept(ctx context.Context, calls []models.Incoming) error {
	return g.enqueue(ctx, calls, true)
}

// acceptAsync stores calls and returns at once; the relay signals them.
func (g *Gateway) acceptAsync(ctx context.Context, calls []models.Incoming) error {
	return g.enqueue(ctx, calls, false)
}

func (g *Gateway) enqueue(ctx context.Context, calls []models.Incoming, wait bool) error {
	evs, err := g.Store.Accept(ctx, calls, g.relay.lease())
	if err != nil {
		return err
	}
	metrics.EventsAccepted.WithLabelValues(sourceOf(ctx)).Add(float64(len(calls)))
	dones, mine := g.relay.take(evs, wait)
	for _, contact := range mine {
		g.relay.serve(contact, func() bool { return allClosed(dones) })
	}
	if !wait || len(dones) == 0 {
		return nil
	}
	timeout := time.NewTimer(2 * orDefault(g.SignalTimeout, DefaultSignalTimeout))
	defer timeout.Stop()
	for _, done := range dones {
		select {
		case <-done:
		case <-timeout.C:
			return nil // stored; it goes out when Temporal takes it
		case <-ctx.Done():
			return nil
		}
	}
	return nil
}

func allClosed(chans []chan struct{}) bool {
	for _, c := range chans {
		select {
		case <-c:
		default:
			return false
		}
	}
	return true
}

func (g *Gateway) retryBackoff(attempt int) time.Duration {
	if g.RetryBackoff != nil {
		return g.RetryBackoff(attempt)
	}
	return models.RetryBackoff(attempt)
}

func (g *Gateway) relayWorkers() int {
	if g.RelayWorkers > 0 {
		return g.RelayWorkers
	}
	return DefaultRelayWorkers
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
