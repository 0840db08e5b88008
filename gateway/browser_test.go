package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// chromium finds Debian's chromium. Without one the browser tests skip,
// saying so, unless CI is set: .ci/run installs it, so there its absence
// is a failure.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no Chromium found, and CI is set: .ci/run installs Debian's chromium with apt-get")
	}
	t.Skip("no Chromium found (apt-get install chromium); the dashboard's browser tests are skipped")
	return ""
}

// screenshots is where the browser tests leave their screenshots for
// review: NUDGE_SCREENSHOTS, else a folder under the system's temp dir.
func screenshots(t *testing.T) string {
	dir := os.Getenv("NUDGE_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "nudge-dashboard-screenshots")
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	return dir
}

// The dashboard in a real headless Chromium: sign in, every page, a date
// range, pause and resume; figures equal to the API's, charts as SVG, no
// error in the console.
func TestDashboardInABrowser(t *testing.T) {
	path := chromium(t)
	e := newEnv(t)
	resultsFixture(t, e)
	srv := httptest.NewServer(e.h)
	defer srv.Close()
	shots := screenshots(t)

	alloc, cancel := chromedp.NewExecAllocator(context.Background(),
		append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.WindowSize(1280, 900))...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	var mu sync.Mutex
	var problems []string
	require.NoError(t, chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+ev.ExceptionDetails.Text)
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				problems = append(problems, "console.error")
			}
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError {
				problems = append(problems, "log: "+ev.Entry.Text+" "+ev.Entry.URL)
			}
		}
	}))
	run := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		require.NoError(t, chromedp.Do(tctx, steps...))
	}
	text := func(sel string) string {
		t.Helper()
		tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		s, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS(sel)))
		require.NoError(t, err, sel)
		return strings.TrimSpace(s)
	}
	eval := func(js string) string {
		t.Helper()
		tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		s, err := chromedp.Run(tctx, chromedp.Evaluate[string](js))
		require.NoError(t, err, js)
		return s
	}
	shot := func(name string) {
		t.Helper()
		tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		png, err := chromedp.Run(tctx, chromedp.FullScreenshot(100))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644))
	}
	// The API's figure for the same period, to compare the page with.
	api := func(path string) map[string]any {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+adminKey)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		var body map[string]any
		require.NoError(t, json.NewDecoder(res.Body).Decode(&body))
		return body
	}
	period := "from=2026-03-01&to=2026-03-31"

	// Sign in: the dashboard sends the browser to the form, and back.
	run(chromedp.Navigate(srv.URL+"/dashboard?"+period), chromedp.WaitVisible(chromedp.CSS("#key")))
	shot("01-login")
	run(chromedp.SendKeys(chromedp.CSS("#key"), adminKey), chromedp.Submit(chromedp.CSS("#key")), chromedp.WaitVisible(chromedp.CSS(".tiles")))
	shot("02-overview")
	kpis := api("/v1/metrics/overview?" + period)["overview"].(map[string]any)["kpis"].([]any)
	assert.Equal(t, fmt.Sprint(kpis[0].(map[string]any)["value"]), text(`[data-kpi="emails_sent"] b`), "the tile shows the API's figure")
	assert.Equal(t, "1", eval(`String(document.querySelectorAll('.card svg').length)`))
	assert.Contains(t, eval(`document.querySelector('.card svg').textContent`), "Emails by send date")

	// Journeys, and a journey with its funnel.
	run(chromedp.Click(chromedp.CSS(`header a[href^="/dashboard/journeys"]`)), chromedp.WaitVisible(chromedp.CSS(`tr[data-journey="welcome_ecommerce"]`)))
	shot("03-journeys")
	row := text(`tr[data-journey="welcome_ecommerce"]`)
	for _, j := range api("/v1/metrics/journeys?" + period)["journeys"].([]any) {
		if m := j.(map[string]any); m["journey"] == "welcome_ecommerce" {
			assert.True(t, strings.HasPrefix(strings.Join(strings.Fields(row), " "), fmt.Sprintf("welcome_ecommerce %v %v", m["entered"], m["converted"])), row)
		}
	}
	run(chromedp.Click(chromedp.CSS(`a[href^="/dashboard/journeys/welcome_ecommerce"]`)), chromedp.WaitVisible(chromedp.CSS(`tr[data-step="welcome"]`)))
	shot("04-journey")
	assert.Contains(t, eval(`document.querySelector('.card svg').textContent`), "converted")

	// Pause, then resume, from the page.
	run(chromedp.SendKeys(chromedp.CSS(`input[name="reason"]`), "checking the copy"),
		chromedp.Click(chromedp.CSS(`form[action$="/pause"] button`)), chromedp.WaitVisible(chromedp.CSS(`form[action$="/resume"]`)))
	shot("05-paused")
	assert.Contains(t, text(".card"), "paused by dashboard: checking the copy.")
	paused, err := e.store.JourneyPaused(t.Context(), "welcome_ecommerce")
	require.NoError(t, err)
	assert.True(t, paused)
	run(chromedp.Click(chromedp.CSS(`form[action$="/resume"] button`)), chromedp.WaitVisible(chromedp.CSS(`form[action$="/pause"]`)))
	paused, err = e.store.JourneyPaused(t.Context(), "welcome_ecommerce")
	require.NoError(t, err)
	assert.False(t, paused)

	// Every other page, and a date range from the picker.
	for _, p := range []struct{ nav, wait, shot string }{
		{"/dashboard/pipeline", `tr[data-stage="lead"]`, "06-pipeline"},
		{"/dashboard/list-health", `tr[data-threshold="bounce_rate"]`, "07-list-health"},
		{"/dashboard/contacts", `input[name="q"]`, "08-contacts"},
		{"/dashboard/ads", `div[data-ads="off"]`, "09-ads"},
		{"/dashboard/experiments", `div[data-experiments="none"]`, "09-experiments"},
	} {
		run(chromedp.Click(chromedp.CSS(`header a[href^="`+p.nav+`"]`)), chromedp.WaitVisible(chromedp.CSS(p.wait)))
		shot(p.shot)
	}
	run(chromedp.Click(chromedp.CSS(`header a[href^="/dashboard?"]`)), chromedp.WaitVisible(chromedp.CSS(".tiles")),
		chromedp.Click(chromedp.CSS(`.ranges a[href="?days=7"]`)), chromedp.WaitVisible(chromedp.CSS(`.ranges a.on`)))
	assert.Equal(t, "7 days", text(".ranges a.on"))
	assert.Equal(t, "0", text(`[data-kpi="emails_sent"] b`), "March's emails are not in the last 7 days")
	shot("10-last-7-days")

	mu.Lock()
	defer mu.Unlock()
	assert.Empty(t, problems, "the browser saw errors")
	t.Logf("screenshots in %s", shots)
}
