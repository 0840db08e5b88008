package deploy

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// Paths are relative to this package's directory, where `go test` runs.
const (
	dashboardFile = "grafana/nudge.json"
	scrapedFile   = "testdata/scraped-metrics.txt"
	metricsDir    = "../metrics"
)

const (
	// metricsPath is where Nudge serves metrics (metrics.Path).
	metricsPath = "/metrics"
	// promDefaultConfig is where prom/prometheus reads its config unless
	// told otherwise with --config.file.
	promDefaultConfig  = "/etc/prometheus/prometheus.yml"
	grafanaDatasources = "/etc/grafana/provisioning/datasources"
	grafanaDashboards  = "/etc/grafana/provisioning/dashboards"
)

// pendingNudgeMetrics are series other code creates, which may not be
// written yet: the relay's backlog gauges, registered by the gateway, and the
// journey counters workflow code records through the SDK's metrics handler as
// "nudge_journeys_started" and "nudge_journeys_ended" (the exporter adds
// _total to counters).
var pendingNudgeMetrics = []string{
	"nudge_relay_backlog_events",
	"nudge_relay_backlog_age_seconds",
	"nudge_relay_dead_letters",
	"nudge_journeys_started_total",
	"nudge_journeys_ended_total",
}

// ---------------------------------------------------------------------------
// Reading the files

// mounted is the repository file a service sees at target, through a bind
// mount of the file itself or of a directory above it.
func mounted(t *testing.T, s *stack, name, target string) string {
	t.Helper()
	for _, m := range binds(t, name, s.svc(name)) {
		rel, err := filepath.Rel(m.target, target)
		if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
			continue
		}
		src := filepath.Join(repoRoot, m.source, rel)
		if _, err := os.Stat(src); err != nil {
			t.Fatalf("service %s: %s is mounted from %s, which is missing: %v", name, target, filepath.Join(m.source, rel), err)
		}
		return src
	}
	t.Fatalf("service %s: no volume mounts a repository file at %s", name, target)
	return ""
}

// yamlFiles reads every .yml and .yaml file in dir into v, one at a time.
func yamlFiles[T any](t *testing.T, dir string) map[string]T {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]T{}
	for _, e := range entries {
		if ext := filepath.Ext(e.Name()); ext != ".yml" && ext != ".yaml" {
			continue
		}
		file := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var v T
		if err := yaml.Unmarshal(b, &v); err != nil {
			t.Fatalf("%s is not valid YAML: %v", file, err)
		}
		out[file] = v
	}
	if len(out) == 0 {
		t.Fatalf("%s has no .yml file", dir)
	}
	return out
}

type promConfig struct {
	ScrapeConfigs []struct {
		JobName       string `yaml:"job_name"`
		MetricsPath   string `yaml:"metrics_path"`
		Scheme        string `yaml:"scheme"`
		StaticConfigs []struct {
			Targets []string `yaml:"targets"`
		} `yaml:"static_configs"`
		DNSSDConfigs []struct {
			Names []string `yaml:"names"`
			Type  string   `yaml:"type"`
			Port  int      `yaml:"port"`
		} `yaml:"dns_sd_configs"`
	} `yaml:"scrape_configs"`
}

// scrapeTargets reads the Prometheus config the prometheus service runs
// with, as host:port targets by job.
func scrapeTargets(t *testing.T, s *stack) map[string][]string {
	t.Helper()
	file := promDefaultConfig
	for _, a := range argv(t, promService, "command", s.svc(promService)) {
		if v, ok := strings.CutPrefix(a, "--config.file="); ok {
			file = v
		}
	}
	src := mounted(t, s, promService, file)
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var cfg promConfig
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("%s is not valid YAML: %v", src, err)
	}
	jobs := map[string][]string{}
	for _, sc := range cfg.ScrapeConfigs {
		if _, dup := jobs[sc.JobName]; dup || sc.JobName == "" {
			t.Errorf("%s: job_name %q is empty or repeated", src, sc.JobName)
		}
		if sc.MetricsPath != "" && sc.MetricsPath != metricsPath {
			t.Errorf("%s: job %s scrapes %s; Nudge serves %s", src, sc.JobName, sc.MetricsPath, metricsPath)
		}
		if sc.Scheme != "" && sc.Scheme != "http" {
			t.Errorf("%s: job %s scrapes over %s; Nudge serves plain http", src, sc.JobName, sc.Scheme)
		}
		var targets []string
		for _, st := range sc.StaticConfigs {
			targets = append(targets, st.Targets...)
		}
		for _, d := range sc.DNSSDConfigs {
			// Compose's DNS has A records only; the default type is SRV.
			if d.Type != "A" || d.Port == 0 {
				t.Errorf("%s: job %s: dns_sd_configs type %q port %d, want type A and a port", src, sc.JobName, d.Type, d.Port)
			}
			for _, n := range d.Names {
				targets = append(targets, net.JoinHostPort(n, strconv.Itoa(d.Port)))
			}
		}
		if len(targets) == 0 {
			t.Errorf("%s: job %s has no targets", src, sc.JobName)
		}
		jobs[sc.JobName] = targets
	}
	return jobs
}

// grafanaDatasource is the Prometheus data source Grafana is provisioned with.
type grafanaDatasource struct {
	Name, UID, Type, URL string
}

func datasources(t *testing.T, s *stack) []grafanaDatasource {
	t.Helper()
	type file struct {
		Datasources []grafanaDatasource `yaml:"datasources"`
	}
	var out []grafanaDatasource
	for _, f := range yamlFiles[file](t, mounted(t, s, grafanaService, grafanaDatasources)) {
		out = append(out, f.Datasources...)
	}
	return out
}

// dashboardPaths are the directories Grafana's file providers load.
func dashboardPaths(t *testing.T, s *stack) []string {
	t.Helper()
	type file struct {
		Providers []struct {
			Name    string `yaml:"name"`
			Type    string `yaml:"type"`
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	var out []string
	for name, f := range yamlFiles[file](t, mounted(t, s, grafanaService, grafanaDashboards)) {
		for _, p := range f.Providers {
			if p.Type != "file" || p.Options.Path == "" {
				t.Errorf("%s: provider %q is type %q with path %q; want type file and a path", name, p.Name, p.Type, p.Options.Path)
				continue
			}
			out = append(out, p.Options.Path)
		}
	}
	return out
}

type dashboard struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
}

type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type panel struct {
	ID         int            `json:"id"`
	Type       string         `json:"type"`
	Title      string         `json:"title"`
	Datasource *datasourceRef `json:"datasource"`
	GridPos    struct{ H, W, X, Y int }
	Targets    []struct {
		RefID      string         `json:"refId"`
		Expr       string         `json:"expr"`
		Datasource *datasourceRef `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // a collapsed row's
}

func readDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s is not valid JSON: %v", dashboardFile, err)
	}
	return d
}

// allPanels flattens rows.
func (d dashboard) allPanels() []panel {
	var out []panel
	for _, p := range d.Panels {
		out = append(out, p)
		out = append(out, p.Panels...)
	}
	return out
}

// nudgeMetrics are the metric names metrics/*.go defines: string literals
// that look like one.
func nudgeMetrics(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(metricsDir, "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Go files in %s: %v", metricsDir, err)
	}
	re := regexp.MustCompile(`^nudge_[a-z0-9_]+$`)
	var out []string
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatalf("parse %s: %v", f, err)
		}
		for _, lit := range stringLiterals(af) {
			if re.MatchString(lit) && !slices.Contains(out, lit) {
				out = append(out, lit)
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s defines no nudge_ metric; is nudgeMetrics reading the right files?", metricsDir)
	}
	sort.Strings(out)
	return out
}

// scrapedMetrics are the series names a real scrape showed, with the
// _bucket, _sum and _count series of histograms and summaries.
func scrapedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(scrapedFile)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			t.Fatalf("%s:%d: %q is not \"name type\"", scrapedFile, i+1, line)
		}
		name, typ := f[0], f[1]
		switch typ {
		case "counter", "gauge", "untyped":
			out[name] = true
		case "histogram":
			out[name+"_bucket"], out[name+"_sum"], out[name+"_count"] = true, true, true
		case "summary":
			out[name], out[name+"_sum"], out[name+"_count"] = true, true, true
		default:
			t.Fatalf("%s:%d: unknown type %q", scrapedFile, i+1, typ)
		}
	}
	return out
}

// ---------------------------------------------------------------------------
// PromQL, as much as the check needs

var (
	promStrings  = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`")
	promMatchers = regexp.MustCompile(`\{[^}]*\}`)
	promRanges   = regexp.MustCompile(`\[[^\]]*\]`)
	promGrouping = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promIdent    = regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*`)
	promKeywords = []string{"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right", "inf", "nan", "atan2"}
	jobMatcher   = regexp.MustCompile(`\bjob\s*(=~|=)\s*"([^"]*)"`)
)

// metricNames are the metric names a PromQL expression selects: identifiers
// that are not functions, keywords, labels, durations or Grafana variables.
func metricNames(expr string) []string {
	e := promStrings.ReplaceAllString(expr, `""`)
	e = promMatchers.ReplaceAllString(e, "")
	e = promRanges.ReplaceAllString(e, "")
	e = promGrouping.ReplaceAllString(e, "")
	var out []string
	for _, loc := range promIdent.FindAllStringIndex(e, -1) {
		name := e[loc[0]:loc[1]]
		if loc[0] > 0 && strings.ContainsAny(e[loc[0]-1:loc[0]], "$.0123456789") {
			continue // a variable, or the exponent of a number
		}
		if strings.HasPrefix(strings.TrimLeft(e[loc[1]:], " \t\n"), "(") || slices.Contains(promKeywords, strings.ToLower(name)) {
			continue
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

// jobsSelected are the job label values an expression names literally.
func jobsSelected(expr string) []string {
	var out []string
	for _, m := range jobMatcher.FindAllStringSubmatch(expr, -1) {
		if m[1] == "=" {
			out = append(out, m[2])
			continue
		}
		for _, alt := range strings.Split(m[2], "|") {
			if regexp.QuoteMeta(alt) == alt { // a literal, not a pattern
				out = append(out, alt)
			}
		}
	}
	return out
}

func TestMetricNames(t *testing.T) {
	for expr, want := range map[string][]string{
		`sum by (source) (rate(nudge_events_accepted_total[$__rate_interval]))`:                                          {"nudge_events_accepted_total"},
		`histogram_quantile(0.99, sum by (le, operation) (rate(temporal_request_latency_seconds_bucket[5m])))`:           {"temporal_request_latency_seconds_bucket"},
		`sum(rate(a_total[1m])) / sum(rate(b_total{outcome="delivered", x=~"y|z"}[1m])) > bool 1e3`:                      {"a_total", "b_total"},
		`sum(rate(a[1m])) by (job) * on (instance) group_left (version) go_info offset 5m`:                               {"a", "go_info"},
		`process_resident_memory_bytes{job=~"nudge-worker|nudge-gateway"} or vector(0)`:                                  {"process_resident_memory_bytes"},
		`sum by (channel) (increase(nudge_sends_total{outcome="unknown"}[$__range])) and on() hour() > 8 unless up == 0`: {"nudge_sends_total", "up"},
	} {
		if got := metricNames(expr); !slices.Equal(got, want) {
			t.Errorf("metricNames(%s) = %q, want %q", expr, got, want)
		}
	}
	if got := jobsSelected(`a{job="x"} + b{job=~"y|z"} + c{job=~"nudge-.*"}`); !slices.Equal(got, []string{"x", "y", "z"}) {
		t.Errorf("jobsSelected = %q, want [x y z]", got)
	}
}

// ---------------------------------------------------------------------------
// Tests

// Prometheus scrapes the worker and the gateway where they serve metrics.
func TestPrometheusScrapesNudge(t *testing.T) {
	s := load(t)
	cfg := readConfig(t)
	if repo, _ := image(s.svc(promService)); repo != "prom/prometheus" {
		t.Errorf("service %s runs %q, want prom/prometheus", promService, repo)
	}
	if cfg.defaults["NUDGE_METRICS_ADDR"] == "" {
		t.Fatalf("config/config.go has no default for NUDGE_METRICS_ADDR")
	}

	scraped := map[string]bool{}
	for job, targets := range scrapeTargets(t, s) {
		for _, target := range targets {
			host, port := splitHostPort(t, "prometheus.yml job "+job, target)
			svc, ok := s.services[host]
			if !ok {
				t.Errorf("prometheus.yml: job %s scrapes %s, but %s is not a service in %s (have %s)", job, target, host, composeFile, strings.Join(s.names(), ", "))
				continue
			}
			if _, ok := svc["build"]; !ok {
				t.Errorf("prometheus.yml: job %s scrapes %s, which is not a nudge service", job, host)
				continue
			}
			// The dashboard tells the worker from the gateway by job.
			if job != host {
				t.Errorf("prometheus.yml: job %s scrapes service %s; name the job after the service", job, host)
			}
			addr := cfg.setting(env(t, host, svc), "NUDGE_METRICS_ADDR")
			if addr == "off" {
				t.Errorf("prometheus.yml scrapes %s, whose NUDGE_METRICS_ADDR is off", host)
				continue
			}
			listen, want := splitHostPort(t, host+": NUDGE_METRICS_ADDR", addr)
			if ip := net.ParseIP(listen); listen == "localhost" || ip != nil && ip.IsLoopback() {
				t.Errorf("service %s: NUDGE_METRICS_ADDR = %q listens on loopback only; Prometheus, in another container, cannot reach it (use 0.0.0.0:%d)", host, addr, want)
			}
			if port != want {
				t.Errorf("prometheus.yml: job %s scrapes %s, but %s serves metrics on %d (NUDGE_METRICS_ADDR = %q)", job, target, host, want, addr)
			}
			if !slices.Contains(containerPorts(t, host, svc), strconv.Itoa(want)) {
				t.Errorf("service %s serves metrics on %d, but does not declare it under expose:", host, want)
			}
			scraped[host] = true
		}
	}
	for _, name := range []string{workerService, gatewayService} {
		if !scraped[name] {
			t.Errorf("prometheus.yml does not scrape %s", name)
		}
	}
	// Each container serves on its own address; nothing nudge publishes
	// its metrics port, so two services never fight over a host port.
	for _, name := range s.nudgeServices() {
		addr := cfg.setting(env(t, name, s.svc(name)), "NUDGE_METRICS_ADDR")
		if addr == "off" {
			continue
		}
		_, port := splitHostPort(t, name+": NUDGE_METRICS_ADDR", addr)
		for _, p := range ports(t, name, s.svc(name)) {
			if p.container == strconv.Itoa(port) {
				t.Errorf("service %s publishes its metrics port %d to the host; Prometheus reaches it inside the network", name, port)
			}
		}
	}
	if !slices.ContainsFunc(ports(t, promService, s.svc(promService)), func(p portMap) bool { return p.container == "9090" }) {
		t.Errorf("service %s does not publish its web UI (9090)", promService)
	}
}

// Grafana starts with the data source and the dashboard, and its login is a
// placeholder that says so.
func TestGrafanaProvisioning(t *testing.T) {
	s := load(t)
	svc := s.svc(grafanaService)
	if repo, _ := image(svc); repo != "grafana/grafana" {
		t.Errorf("service %s runs %q, want grafana/grafana", grafanaService, repo)
	}
	e := env(t, grafanaService, svc)
	if pw := e["GF_SECURITY_ADMIN_PASSWORD"]; !strings.Contains(pw, "change-me") {
		t.Errorf("service %s: GF_SECURITY_ADMIN_PASSWORD = %q; set a placeholder containing \"change-me\" (the image's default is admin)", grafanaService, pw)
	}
	if strings.EqualFold(e["GF_AUTH_ANONYMOUS_ENABLED"], "true") && e["GF_AUTH_ANONYMOUS_ORG_ROLE"] != "Viewer" {
		t.Errorf("service %s: anonymous users get role %q; give them Viewer at most", grafanaService, e["GF_AUTH_ANONYMOUS_ORG_ROLE"])
	}
	if !slices.ContainsFunc(ports(t, grafanaService, svc), func(p portMap) bool { return p.container == "3000" }) {
		t.Errorf("service %s does not publish its web UI (3000)", grafanaService)
	}

	// The data source is the prometheus service, which Grafana waits for.
	var prom []grafanaDatasource
	for _, ds := range datasources(t, s) {
		if ds.Type == "prometheus" {
			prom = append(prom, ds)
		}
	}
	if len(prom) != 1 {
		t.Fatalf("Grafana is provisioned with %d Prometheus data sources, want 1", len(prom))
	}
	u, err := url.Parse(prom[0].URL)
	if err != nil || u.Scheme != "http" || u.Port() == "" {
		t.Fatalf("data source %s: url %q, want http://service:port", prom[0].Name, prom[0].URL)
	}
	if tgt := s.checkAddr(t, "Grafana data source "+prom[0].Name, u.Host, "http"); tgt != promService {
		t.Errorf("Grafana data source %s points at %q, want service %s", prom[0].Name, tgt, promService)
	} else if !s.closure(t, grafanaService)[promService] {
		t.Errorf("service %s uses %s but does not depend on it", grafanaService, promService)
	}

	// The dashboard file is where a provider looks, and uses that data source.
	var loaded []string
	for _, dir := range dashboardPaths(t, s) {
		for _, m := range binds(t, grafanaService, svc) {
			if path.Dir(m.target) == path.Clean(dir) && path.Ext(m.target) == ".json" {
				loaded = append(loaded, filepath.Clean(filepath.Join(repoRoot, m.source)))
			}
		}
	}
	want := filepath.Clean(filepath.Join(repoRoot, "deploy", dashboardFile))
	if !slices.Contains(loaded, want) {
		t.Errorf("Grafana's dashboard providers load %v, not %s", loaded, want)
	}
	if home := e["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]; home != "" {
		if got := filepath.Clean(mounted(t, s, grafanaService, home)); got != want {
			t.Errorf("service %s: the home dashboard is %s, want %s", grafanaService, got, want)
		}
	}
	d := readDashboard(t)
	for _, p := range d.allPanels() {
		if p.Type == "row" {
			continue
		}
		refs := []*datasourceRef{p.Datasource}
		for _, tg := range p.Targets {
			if tg.Datasource != nil {
				refs = append(refs, tg.Datasource)
			}
		}
		for _, ref := range refs {
			if ref == nil || ref.UID != prom[0].UID || ref.Type != "prometheus" {
				t.Errorf("%s: panel %q uses data source %+v, want the provisioned {prometheus %s}", dashboardFile, p.Title, ref, prom[0].UID)
				break
			}
		}
	}
}

// Every query on the dashboard asks for a metric Nudge serves, and every
// metric Nudge defines is on the dashboard.
func TestDashboardQueriesServedMetrics(t *testing.T) {
	d := readDashboard(t)
	if d.UID == "" || d.Title == "" || d.SchemaVersion < 36 {
		t.Errorf("%s: uid %q, title %q, schemaVersion %d; want a uid, a title and schemaVersion 36 or later", dashboardFile, d.UID, d.Title, d.SchemaVersion)
	}
	own := append(nudgeMetrics(t), pendingNudgeMetrics...)
	known := scrapedMetrics(t)
	for _, m := range own {
		known[m] = true
	}
	s := load(t)
	jobs := scrapeTargets(t, s)

	used := map[string]bool{}
	ids := map[int]string{}
	for _, p := range d.allPanels() {
		if other, dup := ids[p.ID]; dup || p.ID == 0 {
			t.Errorf("%s: panel %q has id %d, also %q's (or zero)", dashboardFile, p.Title, p.ID, other)
		}
		ids[p.ID] = p.Title
		if p.GridPos.W < 1 || p.GridPos.X+p.GridPos.W > 24 || p.GridPos.H < 1 {
			t.Errorf("%s: panel %q gridPos %+v is outside the 24-column grid", dashboardFile, p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("%s: panel %q has no query", dashboardFile, p.Title)
		}
		for _, tg := range p.Targets {
			names := metricNames(tg.Expr)
			if len(names) == 0 {
				t.Errorf("%s: panel %q query %s: %q selects no metric", dashboardFile, p.Title, tg.RefID, tg.Expr)
			}
			for _, n := range names {
				used[n] = true
				if !known[n] {
					t.Errorf("%s: panel %q asks for %s, which is neither Nudge's (metrics/metrics.go) nor in %s from a real scrape", dashboardFile, p.Title, n, scrapedFile)
				}
			}
			for _, j := range jobsSelected(tg.Expr) {
				if _, ok := jobs[j]; !ok {
					t.Errorf("%s: panel %q selects job %q, which prometheus.yml does not scrape", dashboardFile, p.Title, j)
				}
			}
		}
	}
	for _, m := range own {
		if !used[m] {
			t.Errorf("%s: no panel shows %s", dashboardFile, m)
		}
	}
}

// stringLiterals are the string constants in a file.
func stringLiterals(f *ast.File) []string {
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
			if s, err := strconv.Unquote(lit.Value); err == nil {
				out = append(out, s)
			}
		}
		return true
	})
	return out
}
