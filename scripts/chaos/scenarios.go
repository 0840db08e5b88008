package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"time"
)

var scenarios = []Scenario{
	{Name: "poison", Run: poison},
	{Name: "crash", Run: crash},
	{Name: "uncertain-noreply", Group: "uncertain", Run: func(ctx context.Context, r *Run) error { return uncertain(ctx, r, modeNoReply) }},
	{Name: "uncertain-noquit", Group: "uncertain", Run: func(ctx context.Context, r *Run) error { return uncertain(ctx, r, modeNoQuit) }},
	{Name: "batch", Run: batch},
	{Name: "drain", Run: drain},
	{Name: "worker-kill", Group: "regression", Run: workerKill},
	{Name: "temporal-kill", Group: "regression", Run: temporalKill},
	{Name: "gateway-kill", Group: "regression", Run: gatewayKill},
	{Name: "smtp-outage", Group: "regression", Run: smtpOutage},
	{Name: "two-gateways", Group: "mysql", Run: twoGateways},
	{Name: "mysql-restart", Group: "mysql", Run: mysqlRestart},
}

// signups is the scenario's size: -signups, or its own default.
func signups(def int) int {
	if flagSignups > 0 {
		return flagSignups
	}
	return def
}

// 1. Poison events: IDs in non-ASCII, a NUL, a Shopify guest checkout keyed
// by an accented email, ahead of ordinary sign-ups that must all get their
// welcome promptly.
func poison(ctx context.Context, r *Run) error {
	n := signups(200)
	r.Sizes = fmt.Sprintf("%d ordinary sign-ups (16 in flight) after 3 sign-ups with non-ASCII userIds, a NUL userId, an invalid-UTF-8 userId and a Shopify guest checkout; SQLite.", n)
	if err := r.Start(ctx, StackOptions{}); err != nil {
		return err
	}
	odd := []Person{
		{Index: 0, UserID: "müller", Email: "mueller@example.com"},
		{Index: 1, UserID: "🦄", Email: "unicorn@example.com"},
		{Index: 2, UserID: "Zoë Ångström 山田 🎉", Email: "zoe@example.com"},
	}
	for _, p := range odd {
		out, ok := r.Client.SignUp(ctx, p)
		if !ok {
			r.Failf("sign-up with userId %q refused: %d %s", p.UserID, out.Status, out.Body)
			continue
		}
		r.Exps.Add(p, out.At)
	}
	// Refused at the door, with 400: nothing stored, nothing stalls.
	for _, bad := range []struct {
		what, id string
		body     []byte
	}{
		{"a NUL in the userId", "m-nul", []byte(`{"userId":"nul\u0000user","messageId":"m-nul","event":"Signed Up"}`)},
		{"invalid UTF-8 in the userId", "m-utf8", []byte("{\"userId\":\"bad\xff\xfeutf8\",\"messageId\":\"m-utf8\",\"event\":\"Signed Up\"}")},
	} {
		out := r.Client.Send(ctx, Call{Path: "/v1/track", Body: bad.body, MessageIDs: []string{bad.id}})
		if out.Status == http.StatusBadRequest {
			r.Notef("%s: 400 %s", bad.what, clip(out.Body, 160))
		} else {
			r.Failf("%s: want 400, got %d %s", bad.what, out.Status, clip(out.Body, 160))
		}
	}
	guest := "josé@café.example"
	checkout := guestCheckout(guest)
	call := ShopifyCall(r.Stack.ShopifySecret, "checkouts/create", "chaos-guest-1",
		"nudge:shopify-checkout-chaosguestcheckout0001-"+checkout["updated_at"].(string)+"-started", checkout)
	if out := r.Client.Send(ctx, call); out.OK() {
		r.Notef("Shopify guest checkout for %s (no customer id): 200 %s", guest, clip(out.Body, 120))
	} else {
		r.Failf("Shopify guest checkout for %s: want 200, got %d %s", guest, out.Status, clip(out.Body, 160))
	}

	load := r.Drive(ctx, People("user", len(odd), n, 0), 16, 0)
	if err := load.Wait(ctx); err != nil {
		return err
	}
	r.Finish(ctx)
	// Promptly: nobody's welcome was held up behind a bad event.
	t := r.tally
	if len(t.Latencies) > 0 && t.Latencies[len(t.Latencies)-1] > flagPrompt {
		r.Failf("a welcome took %s after its sign-up (limit %s): events were held up", round(t.Latencies[len(t.Latencies)-1]), flagPrompt)
	}
	var rows []struct{ Status string }
	r.Stack.Store.DB().WithContext(ctx).Raw("SELECT status FROM events WHERE contact_id = ?", guest).Scan(&rows)
	var states []string
	for _, row := range rows {
		states = append(states, row.Status)
	}
	r.Notef("the guest checkout's events (contact %q): %s", guest, strings.Join(states, ", "))
	return nil
}

// guestCheckout is a checkouts/create payload with no customer: the email
// is the contact ID.
func guestCheckout(email string) map[string]any {
	return map[string]any{
		"id": 35506012684999, "token": "chaosguestcheckout0001", "email": email,
		"created_at": time.Now().UTC().Format(time.RFC3339), "updated_at": time.Now().UTC().Format(time.RFC3339),
		"currency": "EUR", "total_price": "89.00", "completed_at": nil,
		"abandoned_checkout_url": "https://shop.example/checkouts/chaosguestcheckout0001/recover",
		"billing_address":        map[string]any{"first_name": "José", "last_name": "Núñez"},
		"line_items": []any{map[string]any{"product_id": 7713449787575, "variant_id": 42871193092279, "title": "Linen Shirt",
			"variant_title": "Sand / M", "quantity": 1, "price": "89.00", "sku": "LS-SAND-M", "vendor": "Harbor & Pine"}},
	}
}

// 2. The worker killed -9 mid-send, against an SMTP server that takes about
// 3 s a message.
func crash(ctx context.Context, r *Run) error {
	n := signups(100)
	orders := min(flagOrders, n/2)
	r.Sizes = fmt.Sprintf("%d contacts (%d sign-ups, %d buyers with a transactional confirmation) over ~20 s; SMTP waits 1 s at greeting, after RCPT and after the final \".\"; 4 worker kill -9, each while a message's final \".\" awaits its reply; SQLite.", n, n-orders, orders)
	if err := r.Start(ctx, StackOptions{}); err != nil {
		return err
	}
	r.Stack.SMTP.SetDelays(time.Second, time.Second, time.Second)
	load := r.Drive(ctx, People("crash", 0, n, orders), 8, max(float64(n)/20, 1))
	for k := 1; k <= 4; k++ {
		load.WaitStarted(ctx, float64(k)/5)
		if err := killWorkerMidSend(ctx, r, k); err != nil {
			return err
		}
	}
	if err := load.Wait(ctx); err != nil {
		return err
	}
	r.Finish(ctx)
	return nil
}

// killWorkerMidSend waits (up to 15 s) until a message's final "." awaits
// its reply, kills the worker -9 and starts it again.
func killWorkerMidSend(ctx context.Context, r *Run, k int) error {
	st := r.Stack
	deadline := time.Now().Add(15 * time.Second)
	for st.SMTP.InDataWait() == 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	waiting, open := st.SMTP.InDataWait(), st.SMTP.Sessions()
	st.Worker.Kill9()
	r.Notef("kill %d: worker killed -9 with %d SMTP sessions open, %d of them after the final \".\" awaiting the reply", k, open, waiting)
	r.Progress("kill %d: worker killed -9 (%d sessions open, %d awaiting the DATA reply); restarting", k, open, waiting)
	return st.StartWorker()
}

// 3. Uncertain sends: the SMTP server takes the final "." and drops the
// connection without replying (noreply), or replies 250 and drops it before
// QUIT (noquit).
func uncertain(ctx context.Context, r *Run, mode string) error {
	n := flagUncertain
	orders := min(flagOrders, n/2)
	what := map[string]string{
		modeNoReply: "takes the final \".\" and drops the connection without replying",
		modeNoQuit:  "replies 250 to the final \".\" and drops the connection before QUIT",
	}[mode]
	r.Sizes = fmt.Sprintf("%d contacts (%d sign-ups, %d buyers); the SMTP server %s, for the first %d messages; SQLite.", n, n-orders, orders, what, n)
	if err := r.Start(ctx, StackOptions{}); err != nil {
		return err
	}
	r.Stack.SMTP.Misbehave(n, mode)
	load := r.Drive(ctx, People("unsure", 0, n, orders), 4, 0)
	if err := load.Wait(ctx); err != nil {
		return err
	}
	r.Finish(ctx)
	return nil
}

// 4. A 10,000-call /v1/batch, in batches that fit 500 KB: each request
// answered at once, every event delivered.
func batch(ctx context.Context, r *Run) error {
	n := flagBatchCalls / 2
	if err := r.Start(ctx, StackOptions{}); err != nil {
		return err
	}
	people := People("batch", 0, n, 0)
	type group struct {
		body   []byte
		ids    []string
		people []Person
	}
	const limit = 490 << 10 // under the 500 KB limit, with room for the envelope
	var groups []group
	var cur []json.RawMessage
	var curIDs []string
	var curPeople []Person
	size := 0
	flush := func() {
		if len(cur) == 0 {
			return
		}
		body, _ := json.Marshal(map[string]any{"batch": cur, "sentAt": time.Now().UTC().Format(time.RFC3339Nano)})
		groups = append(groups, group{body, curIDs, curPeople})
		cur, curIDs, curPeople, size = nil, nil, nil, 0
	}
	for _, p := range people {
		var raws []json.RawMessage
		var ids []string
		add := 0
		for _, c := range p.Calls() {
			raw, _ := json.Marshal(c)
			raws, ids, add = append(raws, raw), append(ids, c["messageId"].(string)), add+len(raw)+1
		}
		if size+add > limit {
			flush()
		}
		cur, curIDs, curPeople, size = append(cur, raws...), append(curIDs, ids...), append(curPeople, p), size+add
	}
	flush()
	r.Sizes = fmt.Sprintf("%d calls (identify + Signed Up for %d contacts) in %d /v1/batch requests of at most 490 KB, sent one after another; SQLite.", 2*n, n, len(groups))

	var took []time.Duration
	for i, g := range groups {
		out := r.Client.Send(ctx, Call{Path: "/v1/batch", Body: g.body, MessageIDs: g.ids, Index: i})
		took = append(took, out.Took)
		r.Progress("batch %d/%d: %d calls, %d KB: %d in %s (%d attempts)", i+1, len(groups), len(g.ids), len(g.body)>>10, out.Status, round(out.Took), out.Attempts)
		if out.OK() {
			for _, p := range g.people {
				r.Exps.Add(p, out.At)
			}
		} else {
			r.Failf("batch %d refused: %d %s", i+1, out.Status, clip(out.Body, 200))
		}
	}
	slices.Sort(took)
	r.Notef("batch response time: p50 %s, max %s (limit %s)", round(pct(took, 50)), round(took[len(took)-1]), flagSlow)
	if took[len(took)-1] > flagSlow {
		r.Failf("a batch took %s to be answered (limit %s): not answered at once", round(took[len(took)-1]), flagSlow)
	}
	r.Finish(ctx)
	return nil
}

// 5. The drain: sign-ups at full speed; intake rate, time to the last
// welcome, the worker's memory at the end.
func drain(ctx context.Context, r *Run) error {
	n := flagDrainSignups
	r.Sizes = fmt.Sprintf("%d sign-ups at full speed (32 in flight); SQLite.", n)
	if err := r.Start(ctx, StackOptions{}); err != nil {
		return err
	}
	start := time.Now()
	load := r.Drive(ctx, People("drain", 0, n, 0), 32, 0)
	if err := load.Wait(ctx); err != nil {
		return err
	}
	intake := load.End.Sub(start)
	snap := r.Client.Snapshot()
	r.Notef("intake: %d calls accepted in %s: %.0f calls/s, %.0f sign-ups/s", snap.Accepted, round(intake),
		float64(snap.Accepted)/intake.Seconds(), float64(snap.Accepted)/2/intake.Seconds())
	r.Finish(ctx)
	if t := r.tally; !t.LastMail.IsZero() {
		r.Notef("last welcome accepted by SMTP %s after the first sign-up", round(t.LastMail.Sub(start)))
	}
	if rss, err := r.Stack.Worker.RSS(); err == nil {
		r.Notef("worker RSS at the end: %d MB", rss>>20)
	} else {
		r.Notef("worker RSS: %v", err)
	}
	return nil
}

// 6a. The worker killed -9 five times during the sign-ups.
func workerKill(ctx context.Context, r *Run) error {
	n := signups(600)
	r.Sizes = fmt.Sprintf("%d sign-ups over ~30 s; the worker killed -9 and restarted 5 times; SQLite.", n)
	if err := r.Start(ctx, StackOptions{}); err != nil {
		return err
	}
	load := r.Drive(ctx, People("wk", 0, n, 0), 8, max(float64(n)/30, 1))
	for k := 1; k <= 5; k++ {
		load.WaitStarted(ctx, float64(k)/6)
		open := r.Stack.SMTP.Sessions()
		r.Stack.Worker.Kill9()
		r.Notef("kill %d: worker killed -9 with %d SMTP sessions open, %d sign-ups begun", k, open, load.Started())
		r.Progress("kill %d: worker killed -9; restarting", k)
		if err := r.Stack.StartWorker(); err != nil {
			return err
		}
	}
	if err := load.Wait(ctx); err != nil {
		return err
	}
	r.Finish(ctx)
	return nil
}

// 6b. The Temporal dev server killed -9 under 50 events/s, down for the
// outage, restarted on the same database file.
func temporalKill(ctx context.Context, r *Run) error {
	span := flagOutage + 15*time.Second
	n := signups(int(25 * span.Seconds()))
	rate := float64(n) / span.Seconds()
	r.Sizes = fmt.Sprintf("%d sign-ups at %.0f a second (%.0f events/s) over %s; Temporal killed -9 after 5 s, down %s, restarted on the same database file; SQLite.", n, rate, 2*rate, span, flagOutage)
	if err := r.Start(ctx, StackOptions{}); err != nil {
		return err
	}
	load := r.Drive(ctx, People("tk", 0, n, 0), 16, rate)
	load.WaitStarted(ctx, 5/span.Seconds())
	r.Stack.Temporal.Kill9()
	killed := time.Now()
	r.Progress("Temporal killed -9; down for %s", flagOutage)
	before := r.Client.Snapshot().Accepted
	sleepCtx(ctx, flagOutage)
	during := r.Client.Snapshot().Accepted - before
	if err := r.Stack.StartTemporal(ctx); err != nil {
		return err
	}
	r.Progress("Temporal back")
	r.Notef("Temporal killed -9 at %s, answering again at %s; calls accepted meanwhile: %d", killed.Format("15:04:05"), time.Now().Format("15:04:05"), during)
	if err := load.Wait(ctx); err != nil {
		return err
	}
	r.Finish(ctx)
	if s := r.snap; s.FirstTry != s.Calls {
		r.Failf("not every client got 200 at once: %d of %d calls needed a resend or were refused (%s)", s.Calls-s.FirstTry, s.Calls, s.Refusals())
	}
	return nil
}

// 6c. The gateway killed -9 while events were pending, and restarted.
func gatewayKill(ctx context.Context, r *Run) error {
	n := signups(300)
	r.Sizes = fmt.Sprintf("%d sign-ups over ~10 s (16 in flight); at 40%%, Temporal is paused (SIGSTOP) for 2 s so requests hold stored, unsignalled events, the gateway is killed -9, Temporal resumed, the gateway restarted; SQLite.", n)
	if err := r.Start(ctx, StackOptions{}); err != nil {
		return err
	}
	load := r.Drive(ctx, People("gk", 0, n, 0), 16, max(float64(n)/10, 1))
	load.WaitStarted(ctx, 0.4)
	killGatewayWithPending(ctx, r, r.Stack.Gateways[0])
	if err := r.Stack.Gateways[0].Restart(ctx); err != nil {
		return err
	}
	r.Progress("gateway restarted")
	if err := load.Wait(ctx); err != nil {
		return err
	}
	r.Finish(ctx)
	return nil
}

// killGatewayWithPending pauses Temporal for 2 s, so that requests have
// stored events they cannot signal yet, kills the gateway -9, and resumes
// Temporal.
func killGatewayWithPending(ctx context.Context, r *Run, g *Gateway) {
	r.Stack.Temporal.Freeze()
	sleepCtx(ctx, 2*time.Second)
	g.Kill9()
	r.Stack.Temporal.Thaw()
	pending := inFlight(countBy(ctx, r.Stack, "events"))
	r.Notef("%s killed -9 with %d events stored and not delivered in the database", g.Name, pending)
	r.Progress("%s killed -9 (%d events not delivered)", g.Name, pending)
}

// 6d. The SMTP server down (not listening) for the outage.
func smtpOutage(ctx context.Context, r *Run) error {
	n := signups(300)
	span := flagOutage + 10*time.Second
	r.Sizes = fmt.Sprintf("%d sign-ups over %s; the SMTP server stops listening for %s after 15%%; SQLite.", n, span, flagOutage)
	if err := r.Start(ctx, StackOptions{}); err != nil {
		return err
	}
	load := r.Drive(ctx, People("so", 0, n, 0), 8, float64(n)/span.Seconds())
	load.WaitStarted(ctx, 0.15)
	r.Stack.SMTP.Stop()
	r.Progress("SMTP down for %s", flagOutage)
	got := r.Stack.SMTP.Count()
	sleepCtx(ctx, flagOutage)
	if err := r.Stack.SMTP.Resume(); err != nil {
		return err
	}
	r.Progress("SMTP back")
	r.Notef("SMTP server down for %s after %d emails", flagOutage, got)
	if err := load.Wait(ctx); err != nil {
		return err
	}
	r.Finish(ctx)
	return nil
}

// 7. Two gateways on one MySQL database, the load split across both; one
// killed -9 mid-way (with events pending) and not restarted.
func twoGateways(ctx context.Context, r *Run) error {
	n := signups(400)
	r.Sizes = fmt.Sprintf("%d sign-ups over ~20 s, alternating between gateway-a and gateway-b on one MariaDB database (a call refused by one is resent to the other); at 50%%, Temporal paused 2 s and gateway-b killed -9, not restarted.", n)
	if !mysqlPing(ctx) {
		return fmt.Errorf("MariaDB does not answer at 127.0.0.1:3306")
	}
	if err := r.Start(ctx, StackOptions{Gateways: 2, MySQL: true}); err != nil {
		return err
	}
	load := r.Drive(ctx, People("gw2", 0, n, 0), 16, max(float64(n)/20, 1))
	load.WaitStarted(ctx, 0.5)
	killGatewayWithPending(ctx, r, r.Stack.Gateways[1])
	if err := load.Wait(ctx); err != nil {
		return err
	}
	r.Finish(ctx)
	return nil
}

// 8. MariaDB shut down under load for 10 s and started again.
func mysqlRestart(ctx context.Context, r *Run) (err error) {
	n := signups(400)
	r.Sizes = fmt.Sprintf("%d sign-ups over ~30 s on MariaDB; after 25%%, `mysqladmin shutdown`, 10 s down, started again with start-stop-daemon; refused calls resent with the same messageId.", n)
	if !mysqlPing(ctx) {
		return fmt.Errorf("MariaDB does not answer at 127.0.0.1:3306")
	}
	if err := r.Start(ctx, StackOptions{MySQL: true}); err != nil {
		return err
	}
	defer func() {
		if !mysqlPing(context.Background()) { // never leave the machine without its database
			if e := startMariaDB(context.Background()); e != nil && err == nil {
				err = e
			}
		}
	}()
	load := r.Drive(ctx, People("my", 0, n, 0), 16, max(float64(n)/30, 1))
	load.WaitStarted(ctx, 0.25)
	before := r.Client.Snapshot()
	if out, err := exec.CommandContext(ctx, "mysqladmin", "--host=127.0.0.1", "--user=root", "shutdown").CombinedOutput(); err != nil {
		return fmt.Errorf("mysqladmin shutdown: %v %s", err, out)
	}
	r.Progress("MariaDB shut down; starting it again in 10 s")
	down := time.Now()
	sleepCtx(ctx, 10*time.Second)
	if err := startMariaDB(ctx); err != nil {
		return err
	}
	r.Progress("MariaDB back after %s", round(time.Since(down)))
	after := r.Client.Snapshot()
	refused := 0
	for k, v := range after.Responses {
		if k != "200" {
			refused += v - before.Responses[k]
		}
	}
	r.Notef("MariaDB down for %s; answers other than 200 meanwhile: %d (resent until accepted)", round(time.Since(down)), refused)
	if err := load.Wait(ctx); err != nil {
		return err
	}
	r.Finish(ctx)
	return nil
}

// startMariaDB starts the server as the brief says and waits for a ping.
func startMariaDB(ctx context.Context) error {
	cmd := exec.Command("start-stop-daemon", "--start", "--oknodo", "--background", "--exec", "/usr/sbin/mariadbd")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("start-stop-daemon: %v %s", err, out)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for !mysqlPing(ctx) {
		if time.Now().After(deadline) {
			return fmt.Errorf("MariaDB did not answer mysqladmin ping within 2 minutes of starting")
		}
		sleepCtx(ctx, 250*time.Millisecond)
	}
	return nil
}
