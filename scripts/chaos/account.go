package main

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"go.temporal.io/api/enums/v1"

	"github.com/nudgehq/nudge/workflows"
)

// Expectation is one email a scenario is owed: a sign-up's welcome or a
// buyer's order confirmation, owed once both calls were accepted.
type Expectation struct {
	Person
	AckAt time.Time // when the call that triggers it was accepted
}

// Expectations collects what is owed, from many goroutines.
type Expectations struct {
	mu   sync.Mutex
	list []Expectation
}

// Add records an owed email.
func (e *Expectations) Add(p Person, at time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.list = append(e.list, Expectation{Person: p, AckAt: at})
}

// All returns what is owed.
func (e *Expectations) All() []Expectation {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.list)
}

type mailKey struct{ to, subject string }

func keyOf(p Person) mailKey { return mailKey{strings.ToLower(p.Email), p.Subject()} }

// msgRow is what the harness reads of a messages row.
type msgRow struct {
	ContactID string
	Journey   string
	Step      string
	Status    string
	Attempts  int
}

// Tally is the count of one scenario's email.
type Tally struct {
	Expected, Delivered, Lost, Duplicated int
	UnknownRows                           int // messages rows with status "unknown" (the rule's count)
	UnknownMissing                        int // owed emails not received whose row says "unknown": not repeated, by the rule
	Repeated                              int // transactional copies sent again after an uncertain first try, by the rule
	Unexpected                            int // emails received that no accepted call owed
	LastMail                              time.Time
	Latencies                             []time.Duration // accepted call to email, per delivered expectation
	LostSample                            []string
	DupSample                             []string
	MessageStates                         map[string]int
	EventStates                           map[string]int
	Fates                                 map[string]int // how the SMTP exchanges ended
}

// tally counts emails against expectations, and reads the app database.
func tally(ctx context.Context, st *Stack, exps []Expectation) Tally {
	t := Tally{Expected: len(exps), Fates: map[string]int{}}
	mails := st.SMTP.Mails()
	byKey := map[mailKey][]*Mail{}
	for _, m := range mails {
		t.Fates[m.Fate()]++
		for _, to := range m.To {
			k := mailKey{to, m.Subject}
			byKey[k] = append(byKey[k], m)
		}
	}
	rows := readMessages(ctx, st)
	t.MessageStates = map[string]int{}
	for _, r := range rows {
		t.MessageStates[r.Status]++
		if r.Status == "unknown" {
			t.UnknownRows++
		}
	}
	t.EventStates = countBy(ctx, st, "events")
	rowFor := map[string]msgRow{}
	for _, r := range rows {
		rowFor[r.ContactID+"\x00"+r.Journey+"\x00"+r.Step] = r
	}

	owed := map[mailKey]bool{}
	for _, e := range exps {
		k := keyOf(e.Person)
		owed[k] = true
		got := byKey[k]
		if len(got) > 0 {
			t.Delivered++
			if got[0].At.After(t.LastMail) {
				t.LastMail = got[0].At
			}
			t.Latencies = append(t.Latencies, max(0, got[0].At.Sub(e.AckAt)))
			continue
		}
		j, s := e.Journey()
		r, ok := rowFor[e.UserID+"\x00"+j+"\x00"+s]
		if ok && r.Status == "unknown" {
			t.UnknownMissing++
			continue
		}
		t.Lost++
		if len(t.LostSample) < 5 {
			state := "no messages row"
			if ok {
				state = fmt.Sprintf("messages row %q, %d attempts", r.Status, r.Attempts)
			}
			evs := describeEvents(ctx, st, e.MessageIDs())
			t.LostSample = append(t.LostSample, fmt.Sprintf("%s (userId %q): %s; events: %s; %s",
				e.Email, e.UserID, state, strings.Join(evs, ", "), journeyEvidence(ctx, st, e.Person)))
		}
	}
	for k, got := range byKey {
		if !owed[k] {
			t.Unexpected++
		}
		if len(got) < 2 {
			continue
		}
		extra := len(got) - 1
		// The rule for transactional email: a send whose outcome was
		// unknown is repeated once, with the same Message-ID.
		first := got[0]
		if len(got) == 2 && !first.Marketing && got[1].MessageID == first.MessageID &&
			(first.Fate() == fateNoReply || first.Fate() == fateClientGone) {
			t.Repeated++
			extra--
		}
		t.Duplicated += extra
		if extra > 0 && len(t.DupSample) < 5 {
			var d []string
			for _, m := range got {
				d = append(d, fmt.Sprintf("#%d %s Message-ID %s (%s)", m.Seq, m.At.Format("15:04:05.000"), clip(m.MessageID, 12), m.Fate()))
			}
			t.DupSample = append(t.DupSample, fmt.Sprintf("%s %q ×%d: %s", k.to, k.subject, len(got), strings.Join(d, "; ")))
		}
	}
	sort.Slice(t.Latencies, func(i, j int) bool { return t.Latencies[i] < t.Latencies[j] })
	return t
}

// journeyEvidence says where the person's journey run is in Temporal, and
// why it failed if it did.
func journeyEvidence(ctx context.Context, st *Stack, p Person) string {
	name, _ := p.Journey()
	j, ok := workflows.Lookup(name)
	if !ok {
		return "no journey " + name
	}
	key := ""
	if p.Order {
		key = fmt.Sprintf("o-%d", p.Index)
	}
	id := j.WorkflowID(p.UserID, key)
	tc, err := st.TemporalClient(ctx)
	if err != nil {
		return "run " + id + ": " + err.Error()
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	desc, err := tc.DescribeWorkflowExecution(cctx, id, "")
	if err != nil {
		return "run " + id + ": " + err.Error()
	}
	out := fmt.Sprintf("run %s %s", id, desc.GetWorkflowExecutionInfo().GetStatus())
	if desc.GetWorkflowExecutionInfo().GetStatus() == enums.WORKFLOW_EXECUTION_STATUS_FAILED {
		it := tc.GetWorkflowHistory(cctx, id, "", false, enums.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT)
		if it.HasNext() {
			if ev, err := it.Next(); err == nil {
				out += ": " + clip(ev.GetWorkflowExecutionFailedEventAttributes().GetFailure().GetMessage(), 200)
			}
		}
	}
	return out
}

// describeEvents says where each event is: its status and, when the table
// has them and they are set, its attempts, last error, lease and next try.
func describeEvents(ctx context.Context, st *Stack, ids []string) []string {
	var rows []map[string]any
	if err := st.Store.DB().WithContext(ctx).Raw("SELECT * FROM events WHERE message_id IN ?", ids).Scan(&rows).Error; err != nil {
		return []string{"unreadable: " + err.Error()}
	}
	found := map[string]string{}
	for _, row := range rows {
		id := fmt.Sprint(row["message_id"])
		d := fmt.Sprint(row["status"])
		for _, col := range []string{"attempts", "last_error", "lease_owner", "lease_until", "next_attempt_at"} {
			v, ok := row[col]
			if !ok || v == nil || fmt.Sprint(v) == "" || fmt.Sprint(v) == "0" {
				continue
			}
			if b, isBytes := v.([]byte); isBytes {
				v = string(b)
			}
			if tm, isTime := v.(time.Time); isTime {
				v = tm.UTC().Format("15:04:05")
			}
			d += fmt.Sprintf(" %s=%s", col, clip(fmt.Sprint(v), 80))
		}
		found[id] = d
	}
	out := make([]string, len(ids))
	for i, id := range ids {
		d, ok := found[id]
		if !ok {
			d = "not stored"
		}
		out[i] = id + " " + d
	}
	return out
}

func readMessages(ctx context.Context, st *Stack) []msgRow {
	var rows []msgRow
	err := st.Store.DB().WithContext(ctx).Raw(
		"SELECT contact_id, journey, step, status, attempts FROM messages WHERE channel = ?", "email").Scan(&rows).Error
	if err != nil {
		return nil
	}
	return rows
}

// countBy counts a table's rows by status.
func countBy(ctx context.Context, st *Stack, table string) map[string]int {
	var rows []struct {
		Status string
		N      int
	}
	out := map[string]int{}
	if err := st.Store.DB().WithContext(ctx).Raw("SELECT status, COUNT(*) AS n FROM " + table + " GROUP BY status").Scan(&rows).Error; err != nil {
		out["(unreadable: "+err.Error()+")"] = 0
		return out
	}
	for _, r := range rows {
		out[r.Status] = r.N
	}
	return out
}

// ackedNotStored returns the messageIds a client got 200 for that are not
// in the events table, and those stored but not delivered to Temporal.
func ackedCheck(ctx context.Context, st *Stack, acked map[string]time.Time) (missing, undelivered []string, err error) {
	ids := make([]string, 0, len(acked))
	for id := range acked {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	status := map[string]string{}
	for chunk := range slices.Chunk(ids, 500) {
		var rows []struct {
			MessageID string
			Status    string
		}
		if err := st.Store.DB().WithContext(ctx).Raw("SELECT message_id, status FROM events WHERE message_id IN ?", chunk).Scan(&rows).Error; err != nil {
			return nil, nil, err
		}
		for _, r := range rows {
			status[r.MessageID] = r.Status
		}
	}
	var notDelivered []string
	for _, id := range ids {
		s, ok := status[id]
		switch {
		case !ok:
			missing = append(missing, id)
		case s != "delivered":
			notDelivered = append(notDelivered, id)
		}
	}
	if len(notDelivered) > 0 {
		undelivered = describeEvents(ctx, st, notDelivered[:min(5, len(notDelivered))])
		for _, id := range notDelivered[min(5, len(notDelivered)):] {
			undelivered = append(undelivered, id)
		}
	}
	return missing, undelivered, nil
}

// waitDrain waits until every owed email has arrived or is explained by the
// unknown-outcome rule, giving up after stall without progress; then it
// waits for quiet (no new email, no change in the messages table, no
// accepted event still undelivered) so that late duplicates are seen.
func waitDrain(ctx context.Context, r *Run, exps []Expectation) {
	st := r.Stack
	owed := map[mailKey]Expectation{}
	for _, e := range exps {
		owed[keyOf(e.Person)] = e
	}
	began := time.Now()
	lastProgress := time.Now()
	lastCount := ""
	lastReport := time.Now()
	var lastRead time.Time
	rowFor := map[string]string{}
	events := ""
	pending := 0
	for ctx.Err() == nil {
		got := map[mailKey]bool{}
		for _, m := range st.SMTP.Mails() {
			for _, to := range m.To {
				if k := (mailKey{to, m.Subject}); owed[k].UserID != "" {
					got[k] = true
				}
			}
		}
		n := len(got)
		if n < len(owed) {
			// The tables are read every few seconds, not to weigh on
			// the stack: owed emails whose row says unknown will not
			// come, and events still on their way (a lease to run out,
			// a retry to come) may yet bring the rest.
			if time.Since(lastRead) > 3*time.Second {
				lastRead = time.Now()
				rowFor = map[string]string{}
				for _, row := range readMessages(ctx, st) {
					rowFor[row.ContactID+"\x00"+row.Journey+"\x00"+row.Step] = row.Status
				}
				states := countBy(ctx, st, "events")
				events, pending = fmtStates(states), inFlight(states)
			}
			for k, e := range owed {
				j, s := e.Journey()
				if !got[k] && rowFor[e.UserID+"\x00"+j+"\x00"+s] == "unknown" {
					n++
				}
			}
		}
		progress := fmt.Sprint(n, " ", st.SMTP.Count(), " ", events)
		if progress != lastCount {
			lastCount, lastProgress = progress, time.Now()
		}
		if n >= len(owed) {
			break
		}
		// Give up after -stall without progress, unless events are still
		// on their way: then wait for them, up to -max-wait.
		if time.Since(lastProgress) > flagStall && (pending == 0 || time.Since(began) > flagMaxWait) {
			r.Notef("gave up waiting after %s: %d of %d owed emails accounted for, no progress for %s, %d events not yet delivered to Temporal",
				round(time.Since(began)), n, len(owed), round(time.Since(lastProgress)), pending)
			break
		}
		if time.Since(lastReport) > 15*time.Second {
			lastReport = time.Now()
			r.Progress("waiting for email: %d of %d accounted for (%d received in all)", n, len(owed), st.SMTP.Count())
		}
		sleepCtx(ctx, 500*time.Millisecond)
	}
	waitQuiet(ctx, r)
}

// waitQuiet waits until nothing changes for flagQuiet: no new email, the
// same message states, and no accepted event pending (capped at 2 minutes).
func waitQuiet(ctx context.Context, r *Run) {
	st := r.Stack
	deadline := time.Now().Add(2*time.Minute + flagQuiet)
	var last string
	since := time.Now()
	for ctx.Err() == nil && time.Now().Before(deadline) {
		ev := countBy(ctx, st, "events")
		state := fmt.Sprint(st.SMTP.Count(), countBy(ctx, st, "messages"), ev)
		if state != last {
			last, since = state, time.Now()
		}
		if time.Since(since) >= flagQuiet && inFlight(ev) == 0 {
			return
		}
		sleepCtx(ctx, 500*time.Millisecond)
	}
}

// inFlight counts events neither delivered, dead-lettered nor held for an
// identify: ones a relay still has to deliver.
func inFlight(states map[string]int) int {
	n := 0
	for s, c := range states {
		switch s {
		case "delivered", "dead", "held":
		default:
			n += c
		}
	}
	return n
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func pct(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	return sorted[max(0, min(len(sorted)-1, i-1))]
}

func fmtStates(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, " ")
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond)
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	default:
		return d.Round(time.Millisecond)
	}
}
