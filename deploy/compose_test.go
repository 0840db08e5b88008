// Package deploy holds what docker-compose.yml mounts (MySQL's init SQL,
// Temporal's setup script, Prometheus's scrape config, Grafana's provisioning
// and dashboard) and the tests that check the stack statically: that its
// services find each other, that the nudge image is built the way the services
// use it, that its settings are ones Nudge knows, and that the dashboard asks
// for metrics Nudge serves (metrics_test.go).
package deploy

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net"
	"net/mail"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	mysqldriver "github.com/go-sql-driver/mysql"
	"go.yaml.in/yaml/v3"

	"github.com/nudgehq/nudge/codec"
)

// Paths are relative to this package's directory, where `go test` runs.
const (
	repoRoot    = ".."
	composeFile = "../docker-compose.yml"
)

// Service names docker-compose.yml must use.
const (
	mysqlService    = "mysql"
	temporalService = "temporal"
	setupService    = "temporal-setup"
	uiService       = "temporal-ui"
	mailService     = "mailpit"
	migrateService  = "nudge-migrate"
	workerService   = "nudge-worker"
	gatewayService  = "nudge-gateway"
	promService     = "prometheus"
	grafanaService  = "grafana"
)

// wantSearchAttributes are the attributes Nudge's workflows set
// (workflows/catalog.go), by the type the Temporal CLI names.
var wantSearchAttributes = map[string]string{
	"ContactID":      "Keyword",
	"Journey":        "Keyword",
	"JourneyStep":    "Keyword",
	"LeadScore":      "Int",
	"LifecycleStage": "Keyword",
}

// listenPorts is the port a service's image listens on inside the container,
// by image repository and by what a client uses it for.
var listenPorts = map[string]map[string]int{
	"mysql":                 {"mysql": 3306},
	"temporalio/auto-setup": {"temporal": 7233},
	"temporalio/server":     {"temporal": 7233},
	"axllent/mailpit":       {"smtp": 1025, "http": 8025},
	"temporalio/ui":         {"http": 8080},
	"prom/prometheus":       {"http": 9090},
	"grafana/grafana":       {"http": 3000},
}

// ---------------------------------------------------------------------------
// Loading docker-compose.yml

type stack struct {
	raw      string
	doc      map[string]any
	services map[string]map[string]any
}

func load(t *testing.T) *stack {
	t.Helper()
	raw, err := os.ReadFile(composeFile)
	if err != nil {
		t.Fatalf("read %s: %v", composeFile, err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("%s is not valid YAML: %v", composeFile, err)
	}
	svcs, ok := doc["services"].(map[string]any)
	if !ok || len(svcs) == 0 {
		t.Fatalf("%s: no services: mapping", composeFile)
	}
	s := &stack{raw: string(raw), doc: doc, services: map[string]map[string]any{}}
	for name, v := range svcs {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s: service %q is a %T, want a mapping", composeFile, name, v)
		}
		s.services[name] = m
	}
	for _, name := range []string{mysqlService, temporalService, setupService, uiService, mailService, migrateService, workerService, gatewayService, promService, grafanaService} {
		if _, ok := s.services[name]; !ok {
			t.Fatalf("%s: no service %q (have %s)", composeFile, name, strings.Join(s.names(), ", "))
		}
	}
	return s
}

func (s *stack) names() []string {
	var n []string
	for k := range s.services {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

func (s *stack) svc(name string) map[string]any { return s.services[name] }

// nudgeServices are the services built from the repository (build:).
func (s *stack) nudgeServices() []string {
	var n []string
	for _, name := range s.names() {
		if _, ok := s.services[name]["build"]; ok {
			n = append(n, name)
		}
	}
	return n
}

// str renders a scalar the way Compose reads it into a string.
func str(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		return fmt.Sprint(v)
	}
}

// env is a service's environment, from either the mapping or the list form.
func env(t *testing.T, name string, svc map[string]any) map[string]string {
	t.Helper()
	out := map[string]string{}
	switch e := svc["environment"].(type) {
	case nil:
	case map[string]any:
		for k, v := range e {
			out[k] = str(v)
		}
	case []any:
		for _, item := range e {
			k, v, _ := strings.Cut(str(item), "=")
			out[k] = v
		}
	default:
		t.Fatalf("service %s: environment is a %T, want a mapping or a list", name, e)
	}
	return out
}

// dependsOn maps each dependency of a service to its condition.
func dependsOn(t *testing.T, name string, svc map[string]any) map[string]string {
	t.Helper()
	out := map[string]string{}
	switch d := svc["depends_on"].(type) {
	case nil:
	case []any:
		for _, item := range d {
			out[str(item)] = "service_started"
		}
	case map[string]any:
		for dep, v := range d {
			cond := "service_started"
			if m, ok := v.(map[string]any); ok && m["condition"] != nil {
				cond = str(m["condition"])
			}
			out[dep] = cond
		}
	default:
		t.Fatalf("service %s: depends_on is a %T, want a list or a mapping", name, d)
	}
	return out
}

// argv reads command: or entrypoint: as a list of arguments.
func argv(t *testing.T, name, key string, svc map[string]any) []string {
	t.Helper()
	switch c := svc[key].(type) {
	case nil:
		return nil
	case string:
		return strings.Fields(c)
	case []any:
		var out []string
		for _, a := range c {
			out = append(out, str(a))
		}
		return out
	default:
		t.Fatalf("service %s: %s is a %T", name, key, c)
		return nil
	}
}

type portMap struct{ hostIP, host, container string }

// ports reads ports: in the short ("[ip:]host:container[/proto]") and long forms.
func ports(t *testing.T, name string, svc map[string]any) []portMap {
	t.Helper()
	list, _ := svc["ports"].([]any)
	var out []portMap
	for _, p := range list {
		switch p := p.(type) {
		case map[string]any:
			out = append(out, portMap{hostIP: str(p["host_ip"]), host: str(p["published"]), container: str(p["target"])})
		default:
			spec, _, _ := strings.Cut(str(p), "/")
			parts := strings.Split(spec, ":")
			switch len(parts) {
			case 1:
				out = append(out, portMap{container: parts[0]})
			case 2:
				out = append(out, portMap{host: parts[0], container: parts[1]})
			case 3:
				out = append(out, portMap{hostIP: parts[0], host: parts[1], container: parts[2]})
			default:
				t.Fatalf("service %s: cannot read port %q", name, str(p))
			}
		}
	}
	return out
}

// containerPorts is every port a service declares (expose: and ports: targets).
func containerPorts(t *testing.T, name string, svc map[string]any) []string {
	t.Helper()
	var out []string
	exp, _ := svc["expose"].([]any)
	for _, e := range exp {
		p, _, _ := strings.Cut(str(e), "/")
		out = append(out, p)
	}
	for _, p := range ports(t, name, svc) {
		out = append(out, p.container)
	}
	return out
}

type mount struct{ source, target string }

// binds are a service's bind mounts (sources starting with . or /).
func binds(t *testing.T, name string, svc map[string]any) []mount {
	t.Helper()
	list, _ := svc["volumes"].([]any)
	var out []mount
	for _, v := range list {
		var m mount
		switch v := v.(type) {
		case map[string]any:
			m = mount{source: str(v["source"]), target: str(v["target"])}
		default:
			parts := strings.Split(str(v), ":")
			if len(parts) < 2 {
				continue
			}
			m = mount{source: parts[0], target: parts[1]}
		}
		if strings.HasPrefix(m.source, ".") || strings.HasPrefix(m.source, "/") {
			out = append(out, m)
		}
	}
	return out
}

// image splits a service's image into repository and tag.
func image(svc map[string]any) (repo, tag string) {
	img := str(svc["image"])
	slash := strings.LastIndex(img, "/")
	if i := strings.LastIndex(img, ":"); i > slash {
		return img[:i], img[i+1:]
	}
	return img, ""
}

// splitHostPort fails the test unless hp is host:port.
func splitHostPort(t *testing.T, what, hp string) (string, int) {
	t.Helper()
	host, p, err := net.SplitHostPort(hp)
	if err != nil {
		t.Fatalf("%s: %q is not host:port: %v", what, hp, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("%s: port %q in %q is not a number", what, p, hp)
	}
	return host, port
}

// ---------------------------------------------------------------------------
// Reading config/config.go

type configVars struct {
	known    map[string]bool
	defaults map[string]string
}

// readConfig collects NUDGE_* variables from the env tags of config.Config.
func readConfig(t *testing.T) configVars {
	t.Helper()
	file := filepath.Join(repoRoot, "config", "config.go")
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, nil, 0)
	if err != nil {
		t.Fatalf("parse %s: %v", file, err)
	}
	prefix := ""
	var fields []*ast.Field
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.ValueSpec:
			for i, id := range n.Names {
				if id.Name == "prefix" && i < len(n.Values) {
					if lit, ok := n.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						prefix, _ = strconv.Unquote(lit.Value)
					}
				}
			}
		case *ast.TypeSpec:
			if st, ok := n.Type.(*ast.StructType); ok && n.Name.Name == "Config" {
				fields = st.Fields.List
			}
		}
		return true
	})
	if prefix == "" {
		t.Fatalf("%s: found no `const prefix = \"...\"`; update readConfig to where the variable prefix lives", file)
	}
	if len(fields) == 0 {
		t.Fatalf("%s: found no `type Config struct`; update readConfig", file)
	}
	c := configVars{known: map[string]bool{}, defaults: map[string]string{}}
	for _, fld := range fields {
		if fld.Tag == nil {
			continue
		}
		raw, err := strconv.Unquote(fld.Tag.Value)
		if err != nil {
			t.Fatalf("%s: field tag %s: %v", file, fld.Tag.Value, err)
		}
		tag := reflect.StructTag(raw)
		if _, ok := tag.Lookup("envPrefix"); ok {
			t.Fatalf("%s: a field has envPrefix; readConfig does not follow nested structs, extend it", file)
		}
		name := tag.Get("env")
		if name == "" || name == "-" {
			continue
		}
		name, _, _ = strings.Cut(name, ",")
		c.known[prefix+name] = true
		if d, ok := tag.Lookup("envDefault"); ok {
			c.defaults[prefix+name] = d
		}
	}
	if len(c.known) < 5 {
		t.Fatalf("%s: found only %d env tags in Config; is readConfig still reading the right struct?", file, len(c.known))
	}
	return c
}

// setting is a service's value for a NUDGE_ variable, or config's default.
func (c configVars) setting(e map[string]string, name string) string {
	if v, ok := e[name]; ok {
		return v
	}
	return c.defaults[name]
}

// ---------------------------------------------------------------------------
// Reading the Dockerfile

type instr struct {
	cmd  string // upper case: FROM, RUN, COPY, ...
	args string
	line int
}

type stage struct {
	base, name string
	instrs     []instr
}

func readDockerfile(t *testing.T, file string) []stage {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("the nudge services build from %s, which cannot be read: %v", file, err)
	}
	var stages []stage
	var cur strings.Builder
	start := 0
	flush := func() {
		text := strings.TrimSpace(cur.String())
		cur.Reset()
		if text == "" {
			return
		}
		cmd, args, _ := strings.Cut(text, " ")
		in := instr{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args), line: start}
		if in.cmd == "FROM" {
			f := strings.Fields(in.args)
			st := stage{}
			for i := 0; i < len(f); i++ {
				switch {
				case strings.HasPrefix(f[i], "--"):
				case strings.EqualFold(f[i], "AS") && i+1 < len(f):
					st.name = f[i+1]
					i++
				case st.base == "":
					st.base = f[i]
				}
			}
			stages = append(stages, st)
			return
		}
		if len(stages) == 0 {
			if in.cmd != "ARG" {
				t.Fatalf("%s:%d: %s before the first FROM", file, in.line, in.cmd)
			}
			return
		}
		stages[len(stages)-1].instrs = append(stages[len(stages)-1].instrs, in)
	}
	for i, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") {
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		flush()
	}
	flush()
	if len(stages) == 0 {
		t.Fatalf("%s has no FROM", file)
	}
	return stages
}

// ---------------------------------------------------------------------------
// Tests

// TestYAMLMergeKeys checks that the YAML library resolves `<<:` the way
// Compose does (local keys win), which every other test relies on.
func TestYAMLMergeKeys(t *testing.T) {
	const doc = `
x-base: &base
  build: {context: .}
  environment: &env {A: "1", B: "2"}
  restart: unless-stopped
services:
  one:
    <<: *base
    restart: "no"
  two:
    <<: *base
    environment:
      <<: *env
      B: "3"
`
	var m map[string]any
	if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatal(err)
	}
	svcs := m["services"].(map[string]any)
	one := svcs["one"].(map[string]any)
	two := svcs["two"].(map[string]any)
	if _, ok := one["<<"]; ok {
		t.Fatalf("merge key left unresolved: %v", one)
	}
	if one["build"] == nil || str(one["restart"]) != "no" {
		t.Errorf("service one = %v, want build from the anchor and restart \"no\" (local key wins)", one)
	}
	if e := env(t, "two", two); e["A"] != "1" || e["B"] != "3" {
		t.Errorf("service two environment = %v, want A=1 (merged) B=3 (overridden)", e)
	}

	// And the real file uses them, and they resolved.
	s := load(t)
	if !strings.Contains(s.raw, "<<: *nudge") {
		t.Errorf("%s: the nudge services no longer share x-nudge via `<<: *nudge`", composeFile)
	}
	shared, ok := s.doc["x-nudge-env"].(map[string]any)
	if !ok || len(shared) == 0 {
		t.Fatalf("%s: no x-nudge-env mapping with the shared nudge settings", composeFile)
	}
	for _, name := range s.nudgeServices() {
		if _, ok := s.svc(name)["<<"]; ok {
			t.Errorf("service %s: `<<` was not resolved by the YAML decoder", name)
		}
		e := env(t, name, s.svc(name))
		for k, v := range shared {
			if e[k] != str(v) {
				t.Errorf("service %s: %s = %q, want %q from x-nudge-env", name, k, e[k], str(v))
			}
		}
	}
}

func TestDependsOn(t *testing.T) {
	s := load(t)
	valid := map[string]bool{"service_started": true, "service_healthy": true, "service_completed_successfully": true}
	for _, name := range s.names() {
		for dep, cond := range dependsOn(t, name, s.svc(name)) {
			target, ok := s.services[dep]
			if !ok {
				t.Errorf("service %s depends on %q, which is not a service in %s (have %s)", name, dep, composeFile, strings.Join(s.names(), ", "))
				continue
			}
			if dep == name {
				t.Errorf("service %s depends on itself", name)
			}
			if !valid[cond] {
				t.Errorf("service %s: depends_on %s has condition %q, want one of service_started, service_healthy, service_completed_successfully", name, dep, cond)
			}
			if cond == "service_healthy" && target["healthcheck"] == nil {
				t.Errorf("service %s waits for %s to be healthy, but %s has no healthcheck:", name, dep, dep)
			}
			if cond == "service_completed_successfully" {
				if r := str(target["restart"]); r != "" && r != "no" {
					t.Errorf("service %s waits for %s to complete, but %s has restart: %s, so a finished run is restarted; set restart: \"no\"", name, dep, dep, r)
				}
			}
		}
	}
	// No cycles.
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(string, []string)
	visit = func(n string, trail []string) {
		switch state[n] {
		case 1:
			t.Errorf("depends_on cycle: %s -> %s", strings.Join(trail, " -> "), n)
			return
		case 2:
			return
		}
		state[n] = 1
		for dep := range dependsOn(t, n, s.svc(n)) {
			if _, ok := s.services[dep]; ok {
				visit(dep, append(trail, n))
			}
		}
		state[n] = 2
	}
	for _, n := range s.names() {
		visit(n, nil)
	}

	// What must be ready before the app runs.
	want := map[string]map[string]string{
		temporalService: {mysqlService: "service_healthy"},
		setupService:    {temporalService: "service_healthy"},
		migrateService:  {mysqlService: "service_healthy"},
		workerService:   {migrateService: "service_completed_successfully", setupService: "service_completed_successfully"},
		gatewayService:  {migrateService: "service_completed_successfully", setupService: "service_completed_successfully"},
	}
	for name, deps := range want {
		got := dependsOn(t, name, s.svc(name))
		for dep, cond := range deps {
			if got[dep] != cond {
				t.Errorf("service %s: depends_on %s is %q, want condition %s", name, dep, got[dep], cond)
			}
		}
	}
}

// closure is every service name reaches through depends_on.
func (s *stack) closure(t *testing.T, name string) map[string]bool {
	seen := map[string]bool{}
	var walk func(string)
	walk = func(n string) {
		for dep := range dependsOn(t, n, s.svc(n)) {
			if !seen[dep] && s.services[dep] != nil {
				seen[dep] = true
				walk(dep)
			}
		}
	}
	walk(name)
	return seen
}

// checkAddr checks that host:port names a service of the file, that its
// image listens on that port for role, and that the service declares it.
// It returns the service addressed.
func (s *stack) checkAddr(t *testing.T, what, hostport, role string) string {
	t.Helper()
	host, port := splitHostPort(t, what, hostport)
	target, ok := s.services[host]
	if !ok {
		t.Errorf("%s = %q: host %q is not a service in %s (have %s)", what, hostport, host, composeFile, strings.Join(s.names(), ", "))
		return ""
	}
	repo, _ := image(target)
	want, ok := listenPorts[repo][role]
	if !ok {
		t.Errorf("%s = %q: service %s runs image %q, which is not a %s server this test knows (see listenPorts)", what, hostport, host, repo, role)
		return host
	}
	if port != want {
		t.Errorf("%s = %q: %s (%s) listens for %s on %d, not %d", what, hostport, host, repo, role, want, port)
	}
	if !slices.Contains(containerPorts(t, host, target), strconv.Itoa(want)) {
		t.Errorf("%s = %q: service %s does not declare port %d under expose: or ports:", what, hostport, host, want)
	}
	return host
}

func TestAddressesPointAtServices(t *testing.T) {
	s := load(t)

	// The app: what each nudge service talks to, and so must wait for.
	uses := map[string][]string{
		migrateService: {"NUDGE_DATABASE_URL"},
		workerService:  {"NUDGE_TEMPORAL_ADDRESS", "NUDGE_DATABASE_URL", "NUDGE_SMTP_URL"},
		gatewayService: {"NUDGE_TEMPORAL_ADDRESS", "NUDGE_DATABASE_URL"},
	}
	for _, name := range s.nudgeServices() {
		e := env(t, name, s.svc(name))
		reaches := s.closure(t, name)
		// Defaults name localhost, which inside a container is the container:
		// each of these must be set.
		for _, v := range []string{"NUDGE_TEMPORAL_ADDRESS", "NUDGE_DATABASE_URL", "NUDGE_SMTP_URL"} {
			if e[v] == "" {
				t.Errorf("service %s: %s is not set (its default points at localhost, i.e. the container itself)", name, v)
			}
		}
		targets := map[string]string{}
		if v := e["NUDGE_TEMPORAL_ADDRESS"]; v != "" {
			targets["NUDGE_TEMPORAL_ADDRESS"] = s.checkAddr(t, name+": NUDGE_TEMPORAL_ADDRESS", v, "temporal")
		}
		if v := e["NUDGE_DATABASE_URL"]; v != "" {
			cfg := parseDatabaseURL(t, name, v)
			targets["NUDGE_DATABASE_URL"] = s.checkAddr(t, name+": NUDGE_DATABASE_URL tcp(...)", cfg.Addr, "mysql")
		}
		if v := e["NUDGE_SMTP_URL"]; v != "" {
			u, err := url.Parse(v)
			if err != nil || u.Scheme != "smtp" && u.Scheme != "smtps" || u.Port() == "" {
				t.Errorf("service %s: NUDGE_SMTP_URL = %q, want smtp://host:port", name, v)
			} else {
				targets["NUDGE_SMTP_URL"] = s.checkAddr(t, name+": NUDGE_SMTP_URL", u.Host, "smtp")
			}
		}
		for _, v := range uses[name] {
			if tgt := targets[v]; tgt != "" && !reaches[tgt] {
				t.Errorf("service %s uses %s (%s) but does not depend on it, directly or through its dependencies", name, tgt, v)
			}
		}
	}

	// Temporal's own clients: the UI, the setup job, auto-setup itself.
	for _, name := range s.names() {
		if v, ok := env(t, name, s.svc(name))["TEMPORAL_ADDRESS"]; ok {
			tgt := s.checkAddr(t, name+": TEMPORAL_ADDRESS", v, "temporal")
			if tgt != "" && tgt != name && !s.closure(t, name)[tgt] {
				t.Errorf("service %s talks to %s (TEMPORAL_ADDRESS) but does not depend on it", name, tgt)
			}
		}
	}
	if env(t, uiService, s.svc(uiService))["TEMPORAL_ADDRESS"] == "" {
		t.Errorf("service %s: TEMPORAL_ADDRESS is not set; the UI would look for Temporal on 127.0.0.1:7233", uiService)
	}
	// The UI decodes payloads in the browser through the gateway's codec
	// endpoint, sending the session cookie of /codec/login.
	ui, gw := env(t, uiService, s.svc(uiService)), env(t, gatewayService, s.svc(gatewayService))
	if want := strings.TrimRight(gw["NUDGE_PUBLIC_URL"], "/") + "/codec"; ui["TEMPORAL_CODEC_ENDPOINT"] != want {
		t.Errorf("service %s: TEMPORAL_CODEC_ENDPOINT = %q, want %q (the gateway's NUDGE_PUBLIC_URL and /codec)", uiService, ui["TEMPORAL_CODEC_ENDPOINT"], want)
	}
	if ui["TEMPORAL_CODEC_INCLUDE_CREDENTIALS"] != "true" {
		t.Errorf("service %s: TEMPORAL_CODEC_INCLUDE_CREDENTIALS = %q, want \"true\": without it the browser sends no session cookie", uiService, ui["TEMPORAL_CODEC_INCLUDE_CREDENTIALS"])
	}

	// Temporal's database.
	te := env(t, temporalService, s.svc(temporalService))
	if te["DB"] != "mysql8" {
		t.Errorf("service %s: DB = %q, want mysql8", temporalService, te["DB"])
	}
	if te["MYSQL_SEEDS"] == "" || te["DB_PORT"] == "" {
		t.Errorf("service %s: MYSQL_SEEDS = %q, DB_PORT = %q; both must be set", temporalService, te["MYSQL_SEEDS"], te["DB_PORT"])
	} else {
		tgt := s.checkAddr(t, temporalService+": MYSQL_SEEDS:DB_PORT", net.JoinHostPort(te["MYSQL_SEEDS"], te["DB_PORT"]), "mysql")
		if tgt != "" && !s.closure(t, temporalService)[tgt] {
			t.Errorf("service %s uses %s (MYSQL_SEEDS) but does not depend on it", temporalService, tgt)
		}
	}
}

// parseDatabaseURL reads NUDGE_DATABASE_URL as models.ParseURL does for MySQL.
func parseDatabaseURL(t *testing.T, name, v string) *mysqldriver.Config {
	t.Helper()
	dsn, ok := strings.CutPrefix(v, "mysql://")
	if !ok {
		t.Fatalf("service %s: NUDGE_DATABASE_URL = %q, want mysql://user:pass@tcp(host:3306)/db", name, v)
	}
	cfg, err := mysqldriver.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("service %s: NUDGE_DATABASE_URL = %q is not a MySQL DSN: %v", name, v, err)
	}
	if cfg.Net != "tcp" || cfg.Addr == "" || cfg.DBName == "" || cfg.User == "" {
		t.Fatalf("service %s: NUDGE_DATABASE_URL = %q, want user, tcp(host:port) and a database name", name, v)
	}
	return cfg
}

func TestNudgeImage(t *testing.T) {
	s := load(t)
	nudge := s.nudgeServices()
	for _, want := range []string{migrateService, workerService, gatewayService} {
		if !slices.Contains(nudge, want) {
			t.Errorf("service %s has no build:; it must build the nudge image from the repository", want)
		}
	}
	dockerfile := ""
	for _, name := range nudge {
		svc := s.svc(name)
		ctx, file := ".", "Dockerfile"
		switch b := svc["build"].(type) {
		case string:
			ctx = b
		case map[string]any:
			if b["context"] != nil {
				ctx = str(b["context"])
			}
			if b["dockerfile"] != nil {
				file = str(b["dockerfile"])
			}
		default:
			t.Fatalf("service %s: build is a %T", name, b)
		}
		if filepath.Clean(ctx) != "." {
			t.Errorf("service %s: build context %q, want . (the repository root, where go.mod is)", name, ctx)
		}
		df := filepath.Join(repoRoot, ctx, file)
		if dockerfile != "" && df != dockerfile {
			t.Errorf("service %s builds from %s, the others from %s", name, df, dockerfile)
		}
		dockerfile = df
		if ep := argv(t, name, "entrypoint", svc); ep != nil {
			t.Errorf("service %s overrides the image's entrypoint with %v; use command: with the nudge subcommand", name, ep)
		}
		if img := str(svc["image"]); img != "" && img != str(s.svc(gatewayService)["image"]) {
			t.Errorf("service %s tags the image %q, the gateway %q; one image serves all nudge services", name, img, str(s.svc(gatewayService)["image"]))
		}
	}
	if dockerfile == "" {
		t.Fatal("no service builds from the repository")
	}
	if fi, err := os.Stat(filepath.Join(repoRoot, "cmd", "nudge")); err != nil || !fi.IsDir() {
		t.Errorf("the Dockerfile builds ./cmd/nudge, but %s is not a directory", filepath.Join(repoRoot, "cmd", "nudge"))
	}

	stages := readDockerfile(t, dockerfile)
	build, final := -1, len(stages)-1
	out := ""
	buildRe := regexp.MustCompile(`\bgo build\b(.*)`)
	for i, st := range stages {
		for _, in := range st.instrs {
			if in.cmd == "RUN" && buildRe.MatchString(in.args) {
				build = i
				args := strings.Fields(buildRe.FindStringSubmatch(in.args)[1])
				if !slices.Contains(args, "-trimpath") {
					t.Errorf("%s:%d: go build without -trimpath", dockerfile, in.line)
				}
				if !slices.Contains(args, "./cmd/nudge") {
					t.Errorf("%s:%d: go build does not build ./cmd/nudge: %s", dockerfile, in.line, in.args)
				}
				if j := slices.Index(args, "-o"); j >= 0 && j+1 < len(args) {
					out = args[j+1]
				} else {
					t.Errorf("%s:%d: go build has no -o; the runtime stage copies the binary by path", dockerfile, in.line)
				}
			}
		}
	}
	if build < 0 {
		t.Fatalf("%s: no RUN go build", dockerfile)
	}
	if build == final {
		t.Errorf("%s: go build runs in the final stage; build in a golang stage and copy the binary into a small runtime image", dockerfile)
	}

	// The build stage: golang at go.mod's version, static, modules first.
	bs := stages[build]
	gomod, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	if m == nil {
		t.Fatal("go.mod has no go line")
	}
	repo, tag, _ := strings.Cut(bs.base, ":")
	if repo != "golang" && repo != "docker.io/library/golang" {
		t.Errorf("%s: build stage FROM %s, want golang", dockerfile, bs.base)
	}
	if v := string(m[1]); tag != v && !strings.HasPrefix(tag, v+".") && !strings.HasPrefix(tag, v+"-") {
		t.Errorf("%s: build stage FROM %s, want golang:%s (go.mod's go line)", dockerfile, bs.base, v)
	}
	cgo, modDownload, copyMod, copyAll := -1, -1, -1, -1
	for i, in := range bs.instrs {
		switch {
		case (in.cmd == "ENV" || in.cmd == "ARG" || in.cmd == "RUN") && regexp.MustCompile(`\bCGO_ENABLED=0\b`).MatchString(in.args):
			if cgo < 0 {
				cgo = i
			}
		case in.cmd == "RUN" && strings.Contains(in.args, "go mod download"):
			modDownload = i
		case in.cmd == "COPY" && strings.Contains(in.args, "go.mod") && strings.Contains(in.args, "go.sum"):
			copyMod = i
		case in.cmd == "COPY" && regexp.MustCompile(`^(--\S+\s+)*\.\s`).MatchString(in.args):
			copyAll = i
		}
		if in.cmd == "RUN" && buildRe.MatchString(in.args) && cgo < 0 {
			t.Errorf("%s:%d: go build without CGO_ENABLED=0 set before it; the runtime image has no libc to link against", dockerfile, in.line)
		}
	}
	if copyMod < 0 || modDownload < 0 || copyAll < 0 || !(copyMod < modDownload && modDownload < copyAll) {
		t.Errorf("%s: want COPY go.mod go.sum, then RUN go mod download, then COPY . . in the build stage, so the module layer is cached (got positions %d, %d, %d)", dockerfile, copyMod, modDownload, copyAll)
	}

	// The runtime stage: the binary as ENTRYPOINT, port 8080, not root.
	fs := stages[final]
	binary := ""
	var entry []string
	exposed, user := []string{}, ""
	for _, in := range fs.instrs {
		switch in.cmd {
		case "COPY":
			f := strings.Fields(in.args)
			from := ""
			var paths []string
			for _, a := range f {
				if v, ok := strings.CutPrefix(a, "--from="); ok {
					from = v
				} else if !strings.HasPrefix(a, "--") {
					paths = append(paths, a)
				}
			}
			if len(paths) == 2 && paths[0] == out && (from == bs.name || from == strconv.Itoa(build)) {
				binary = paths[1]
				if strings.HasSuffix(binary, "/") {
					binary += path.Base(out)
				}
			}
		case "ENTRYPOINT":
			if err := yaml.Unmarshal([]byte(in.args), &entry); err != nil {
				t.Errorf("%s:%d: ENTRYPOINT %s is not the exec (JSON) form: %v", dockerfile, in.line, in.args, err)
			}
		case "EXPOSE":
			exposed = append(exposed, strings.Fields(in.args)...)
		case "USER":
			user = in.args
		}
	}
	if binary == "" {
		t.Errorf("%s: the runtime stage does not COPY --from=%s %s", dockerfile, bs.name, out)
	}
	if len(entry) == 0 || entry[0] != binary {
		t.Errorf("%s: ENTRYPOINT = %v, want [%q] (the nudge binary, so `command: [worker]` runs `nudge worker`)", dockerfile, entry, binary)
	}
	if len(entry) > 1 {
		t.Errorf("%s: ENTRYPOINT = %v has arguments; the services' command: names the subcommand", dockerfile, entry)
	}
	if !slices.Contains(exposed, "8080") && !slices.Contains(exposed, "8080/tcp") {
		t.Errorf("%s: the runtime stage EXPOSEs %v, want 8080 (the gateway)", dockerfile, exposed)
	}
	if u, _, _ := strings.Cut(user, ":"); u == "" || u == "root" || u == "0" {
		t.Errorf("%s: the runtime stage runs as %q; set USER to a non-root user", dockerfile, user)
	}

	// The gateway's healthcheck needs its tool in the runtime image.
	if hc, ok := s.svc(gatewayService)["healthcheck"].(map[string]any); ok {
		test := argvOf(hc["test"])
		if len(test) > 1 && (test[0] == "CMD" || test[0] == "CMD-SHELL") {
			tool := strings.Fields(strings.Join(test[1:], " "))[0]
			base := fs.base
			switch {
			case tool == "wget" && (strings.HasPrefix(base, "alpine") || strings.HasPrefix(base, "busybox")):
			case tool == binary:
			default:
				t.Errorf("service %s: healthcheck runs %q, which the runtime image %s does not have (distroless has no shell, wget or curl)", gatewayService, tool, base)
			}
		}
	}
}

func argvOf(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{"CMD-SHELL", v}
	case []any:
		var out []string
		for _, a := range v {
			out = append(out, str(a))
		}
		return out
	}
	return nil
}

func TestDockerignore(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot, ".dockerignore"))
	if err != nil {
		t.Fatalf("read .dockerignore: %v", err)
	}
	type pat struct {
		glob string
		neg  bool
	}
	var pats []pat
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		p := pat{}
		if v, ok := strings.CutPrefix(line, "!"); ok {
			p.neg, line = true, v
		}
		p.glob = strings.TrimPrefix(path.Clean(line), "/")
		pats = append(pats, p)
	}
	ignored := func(name string) bool {
		res := false
		for _, p := range pats {
			// A pattern excludes a path if it matches the path or a parent.
			for q := name; q != "." && q != "/"; q = path.Dir(q) {
				if globMatch(p.glob, q) {
					res = !p.neg
					break
				}
			}
		}
		return res
	}
	for _, p := range []string{".git/HEAD", "bin/temporal", ".data/nudge.db", "nudge", "workflows/x.test", ".env"} {
		if !ignored(p) {
			t.Errorf(".dockerignore does not exclude %s", p)
		}
	}
	// Everything the build needs stays: go.mod, go.sum, all non-test Go
	// source outside deploy/, and the embedded templates.
	keep := []string{"go.mod", "go.sum", "cmd/nudge/main.go"}
	err = filepath.WalkDir(repoRoot, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repoRoot, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			switch rel {
			case ".git", "bin", ".data", "deploy", "node_modules":
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(rel, ".go") && !strings.HasSuffix(rel, "_test.go") || strings.HasPrefix(rel, "templates/") {
			keep = append(keep, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range keep {
		if ignored(p) {
			t.Errorf(".dockerignore excludes %s, which the build needs", p)
		}
	}
}

// globMatch matches a .dockerignore pattern: path.Match per segment, with
// ** for any number of segments.
func globMatch(pattern, name string) bool {
	var match func(ps, ns []string) bool
	match = func(ps, ns []string) bool {
		for len(ps) > 0 {
			if ps[0] == "**" {
				for i := 0; i <= len(ns); i++ {
					if match(ps[1:], ns[i:]) {
						return true
					}
				}
				return false
			}
			if len(ns) == 0 {
				return false
			}
			if ok, _ := path.Match(ps[0], ns[0]); !ok {
				return false
			}
			ps, ns = ps[1:], ns[1:]
		}
		return len(ns) == 0
	}
	return match(strings.Split(pattern, "/"), strings.Split(name, "/"))
}

func TestCommands(t *testing.T) {
	s := load(t)
	for name, want := range map[string][]string{migrateService: {"migrate"}, workerService: {"worker"}, gatewayService: {"gateway"}} {
		if got := argv(t, name, "command", s.svc(name)); !slices.Equal(got, want) {
			t.Errorf("service %s: command = %q, want %q", name, got, want)
		}
	}
}

func TestPublishedPorts(t *testing.T) {
	s := load(t)
	cfg := readConfig(t)
	published := map[string]string{} // host port -> service
	for _, name := range s.names() {
		for _, p := range ports(t, name, s.svc(name)) {
			if p.host == "" {
				continue
			}
			if other, ok := published[p.host]; ok {
				t.Errorf("host port %s is published by both %s and %s", p.host, other, name)
			}
			published[p.host] = name
		}
	}
	publishes := func(name, host, container string) bool {
		for _, p := range ports(t, name, s.svc(name)) {
			if p.host == host && p.container == container {
				return true
			}
		}
		return false
	}

	// The gateway listens where it is published and health-checked.
	ge := env(t, gatewayService, s.svc(gatewayService))
	_, listen := splitHostPort(t, gatewayService+": NUDGE_HTTP_ADDR", cfg.setting(ge, "NUDGE_HTTP_ADDR"))
	if listen != 8080 {
		t.Errorf("service %s listens on %d (NUDGE_HTTP_ADDR), want 8080", gatewayService, listen)
	}
	if !publishes(gatewayService, "8080", strconv.Itoa(listen)) {
		t.Errorf("service %s: ports = %v, want 8080:%d", gatewayService, ports(t, gatewayService, s.svc(gatewayService)), listen)
	}
	if hc, ok := s.svc(gatewayService)["healthcheck"].(map[string]any); ok {
		want := fmt.Sprintf("http://127.0.0.1:%d/healthz", listen)
		if test := strings.Join(argvOf(hc["test"]), " "); !strings.Contains(test, want) && !strings.Contains(test, strings.Replace(want, "127.0.0.1", "localhost", 1)) {
			t.Errorf("service %s: healthcheck %q does not fetch %s", gatewayService, test, want)
		}
	}

	// URLs handed to people's browsers open a published port of the right service.
	for _, c := range []struct{ variable, service, container string }{
		{"NUDGE_PUBLIC_URL", gatewayService, strconv.Itoa(listen)},
		{"NUDGE_TEMPORAL_UI_URL", uiService, strconv.Itoa(listenPorts["temporalio/ui"]["http"])},
	} {
		for _, name := range s.nudgeServices() {
			v := cfg.setting(env(t, name, s.svc(name)), c.variable)
			u, err := url.Parse(v)
			if err != nil || u.Host == "" {
				t.Errorf("service %s: %s = %q is not an absolute URL", name, c.variable, v)
				continue
			}
			if h := u.Hostname(); h != "localhost" && h != "127.0.0.1" {
				continue // a real domain in front; nothing to check here
			}
			port := u.Port()
			if port == "" {
				port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
			}
			if !publishes(c.service, port, c.container) {
				t.Errorf("service %s: %s = %q, but %s does not publish %s:%s", name, c.variable, v, c.service, port, c.container)
			}
		}
	}
	if repo, _ := image(s.svc(uiService)); repo != "temporalio/ui" {
		t.Errorf("service %s runs %q, want temporalio/ui", uiService, repo)
	}
	if !publishes(uiService, "8233", "8080") {
		t.Errorf("service %s: ports = %v, want 8233:8080", uiService, ports(t, uiService, s.svc(uiService)))
	}
	if !publishes(mailService, "8025", "8025") {
		t.Errorf("service %s: ports = %v, want the web UI on 8025:8025", mailService, ports(t, mailService, s.svc(mailService)))
	}
}

func TestSearchAttributes(t *testing.T) {
	s := load(t)
	svc := s.svc(setupService)
	if repo, _ := image(svc); repo != "temporalio/admin-tools" {
		t.Errorf("service %s runs %q, want temporalio/admin-tools (it has the temporal CLI)", setupService, repo)
	}
	run := append(argv(t, setupService, "entrypoint", svc), argv(t, setupService, "command", svc)...)
	var scriptPath string
	for _, a := range run {
		if strings.HasSuffix(a, ".sh") {
			scriptPath = a
		}
	}
	if scriptPath == "" {
		t.Fatalf("service %s runs %q; want it to run the setup script mounted from deploy/", setupService, run)
	}
	var script string
	for _, m := range binds(t, setupService, svc) {
		if m.target == scriptPath {
			b, err := os.ReadFile(filepath.Join(repoRoot, m.source))
			if err != nil {
				t.Fatalf("service %s mounts %s, which cannot be read: %v", setupService, m.source, err)
			}
			script = string(b)
			if sh, err := exec.LookPath("sh"); err == nil {
				if out, err := exec.Command(sh, "-n", filepath.Join(repoRoot, m.source)).CombinedOutput(); err != nil {
					t.Errorf("%s is not valid sh: %v\n%s", m.source, err, out)
				}
			}
		}
	}
	if script == "" {
		t.Fatalf("service %s runs %s, but no volume mounts a file there", setupService, scriptPath)
	}

	if !regexp.MustCompile(`temporal operator search-attribute create\s+--namespace "\$NAMESPACE"\s+--name "\$1"\s+--type "\$2"`).MatchString(script) {
		t.Errorf("%s: create() no longer runs `temporal operator search-attribute create --namespace \"$NAMESPACE\" --name \"$1\" --type \"$2\"`", scriptPath)
	}
	got := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^create\s+(\S+)\s+(\S+)\s*$`).FindAllStringSubmatch(script, -1) {
		if _, dup := got[m[1]]; dup {
			t.Errorf("%s registers %s twice", scriptPath, m[1])
		}
		got[m[1]] = m[2]
	}
	if !reflect.DeepEqual(got, wantSearchAttributes) {
		t.Errorf("%s registers %v, want exactly %v", scriptPath, got, wantSearchAttributes)
	}
	if m := regexp.MustCompile(`(?m)^for name in (.+); do`).FindStringSubmatch(script); m == nil {
		t.Errorf("%s: no `for name in ...; do` check that the attributes are registered", scriptPath)
	} else {
		checked := strings.Fields(m[1])
		sort.Strings(checked)
		var want []string
		for k := range wantSearchAttributes {
			want = append(want, k)
		}
		sort.Strings(want)
		if !slices.Equal(checked, want) {
			t.Errorf("%s checks %v after registering, want %v", scriptPath, checked, want)
		}
	}

	// The namespace: the one auto-setup creates, the app uses, the script fills.
	cfg := readConfig(t)
	ns := env(t, setupService, svc)["NAMESPACE"]
	for _, name := range s.nudgeServices() {
		if appNS := cfg.setting(env(t, name, s.svc(name)), "NUDGE_TEMPORAL_NAMESPACE"); appNS != ns {
			t.Errorf("service %s uses namespace %q (NUDGE_TEMPORAL_NAMESPACE), but %s registers the attributes on %q", name, appNS, setupService, ns)
		}
	}
	created := env(t, temporalService, s.svc(temporalService))["DEFAULT_NAMESPACE"]
	if created == "" {
		created = "default" // auto-setup's default
	}
	if created != ns {
		t.Errorf("service %s creates namespace %q (DEFAULT_NAMESPACE), but %s registers the attributes on %q", temporalService, created, setupService, ns)
	}

	// And the code sets no attribute that is not registered.
	code := searchAttributesInCode(t)
	if !reflect.DeepEqual(code, wantSearchAttributes) {
		t.Errorf("the Go code declares search attributes %v; this test and %s register %v: keep them in step", code, scriptPath, wantSearchAttributes)
	}
}

// searchAttributesInCode finds temporal.NewSearchAttributeKey<Type>("Name")
// calls outside this package.
func searchAttributesInCode(t *testing.T) map[string]string {
	t.Helper()
	types := map[string]string{
		"NewSearchAttributeKeyKeyword":     "Keyword",
		"NewSearchAttributeKeyString":      "Text",
		"NewSearchAttributeKeyInt64":       "Int",
		"NewSearchAttributeKeyFloat64":     "Double",
		"NewSearchAttributeKeyBool":        "Bool",
		"NewSearchAttributeKeyTime":        "Datetime",
		"NewSearchAttributeKeyKeywordList": "KeywordList",
	}
	out := map[string]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(repoRoot, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "bin", ".data", "deploy", "node_modules", "testdata":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			return nil // someone's file mid-edit; the build will say
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) != 1 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			typ, ok := types[sel.Sel.Name]
			if !ok {
				return true
			}
			if lit, ok := call.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
				name, _ := strconv.Unquote(lit.Value)
				out[name] = typ
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestNudgeEnvironment(t *testing.T) {
	s := load(t)
	cfg := readConfig(t)

	// Every NUDGE_ variable anywhere in the file is one config.Config reads.
	check := func(where string, e map[string]string) {
		for k := range e {
			if strings.HasPrefix(k, "NUDGE_") && !cfg.known[k] {
				var known []string
				for k := range cfg.known {
					known = append(known, k)
				}
				sort.Strings(known)
				t.Errorf("%s sets %s, which config/config.go does not read (known: %s)", where, k, strings.Join(known, ", "))
			}
		}
	}
	if shared, ok := s.doc["x-nudge-env"].(map[string]any); ok {
		e := map[string]string{}
		for k, v := range shared {
			e[k] = str(v)
		}
		check("x-nudge-env", e)
	}
	for _, name := range s.names() {
		check("service "+name, env(t, name, s.svc(name)))
	}
	for _, m := range regexp.MustCompile(`\bNUDGE_[A-Z0-9_]+`).FindAllString(s.raw, -1) {
		if !cfg.known[m] {
			t.Errorf("%s mentions %s, which config/config.go does not read", composeFile, m)
		}
	}

	// What a long-running gateway needs (config.RequireServing), with the
	// rules config.validate applies.
	for _, name := range []string{gatewayService, workerService} {
		e := env(t, name, s.svc(name))
		for _, v := range []string{"NUDGE_WRITE_KEYS", "NUDGE_ADMIN_KEYS", "NUDGE_SECRET"} {
			if strings.TrimSpace(e[v]) == "" {
				t.Errorf("service %s: %s is not set; `nudge gateway` refuses to start without it", name, v)
			}
		}
		// config.RequireEncryption: keys that parse, or encryption off by name.
		if keys := e["NUDGE_ENCRYPTION_KEYS"]; keys == "" && e["NUDGE_ENCRYPTION"] != "off" {
			t.Errorf("service %s: NUDGE_ENCRYPTION_KEYS is not set; `nudge %s` refuses to start without it (or NUDGE_ENCRYPTION=off)", name, name)
		} else if keys != "" {
			if _, err := codec.ParseKeys(keys); err != nil {
				t.Errorf("service %s: NUDGE_ENCRYPTION_KEYS: %v", name, err)
			}
		}
		if n := len(e["NUDGE_SECRET"]); n < 16 {
			t.Errorf("service %s: NUDGE_SECRET is %d characters, config wants at least 16", name, n)
		}
		write := strings.Split(e["NUDGE_WRITE_KEYS"], ",")
		for _, k := range append(slices.Clone(write), strings.Split(e["NUDGE_ADMIN_KEYS"], ",")...) {
			if k == "" || strings.TrimSpace(k) != k {
				t.Errorf("service %s: a write or admin key is empty or has spaces around it: %q", name, k)
			}
		}
		for _, k := range strings.Split(e["NUDGE_ADMIN_KEYS"], ",") {
			if slices.Contains(write, k) {
				t.Errorf("service %s: %q is both a write key and an admin key; config refuses that", name, k)
			}
		}
		if a, err := mail.ParseAddress(cfg.setting(e, "NUDGE_EMAIL_FROM")); err != nil || a.Address == "" {
			t.Errorf("service %s: NUDGE_EMAIL_FROM = %q is not an address: %v", name, cfg.setting(e, "NUDGE_EMAIL_FROM"), err)
		}
		if v := e["NUDGE_ACCOUNT_OWNER"]; v != "" {
			if a, err := mail.ParseAddress(v); err != nil || a.Name == "" {
				t.Errorf("service %s: NUDGE_ACCOUNT_OWNER = %q, want 'Name <address>'", name, v)
			}
		}
		for _, v := range []string{"NUDGE_PUBLIC_URL", "NUDGE_TEMPORAL_UI_URL"} {
			if u, err := url.Parse(cfg.setting(e, v)); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				t.Errorf("service %s: %s = %q is not an absolute http(s) URL", name, v, cfg.setting(e, v))
			}
		}
	}

	// Placeholder secrets say so, so nobody mistakes them for real ones.
	secrets := map[string]string{}
	for _, name := range s.nudgeServices() {
		e := env(t, name, s.svc(name))
		for _, v := range []string{"NUDGE_WRITE_KEYS", "NUDGE_ADMIN_KEYS", "NUDGE_SECRET"} {
			secrets[name+": "+v] = e[v]
		}
		if e["NUDGE_DATABASE_URL"] != "" {
			secrets[name+": NUDGE_DATABASE_URL password"] = parseDatabaseURL(t, name, e["NUDGE_DATABASE_URL"]).Passwd
		}
	}
	secrets[mysqlService+": MYSQL_ROOT_PASSWORD"] = env(t, mysqlService, s.svc(mysqlService))["MYSQL_ROOT_PASSWORD"]
	secrets[temporalService+": MYSQL_PWD"] = env(t, temporalService, s.svc(temporalService))["MYSQL_PWD"]
	for where, v := range secrets {
		if !strings.Contains(v, "change-me") {
			t.Errorf("%s = %q: a placeholder secret must contain \"change-me\"", where, v)
		}
	}
}

func TestMySQLInit(t *testing.T) {
	s := load(t)
	mysqlSvc := s.svc(mysqlService)
	if repo, tag := image(mysqlSvc); repo != "mysql" || !strings.HasPrefix(tag, "8.") {
		t.Errorf("service %s runs %s:%s, want mysql:8.x (Temporal's DB=mysql8)", mysqlService, repo, tag)
	}
	if mysqlSvc["healthcheck"] == nil {
		t.Errorf("service %s has no healthcheck", mysqlService)
	}
	hasVolume := false
	declared, _ := s.doc["volumes"].(map[string]any)
	vols, _ := mysqlSvc["volumes"].([]any)
	for _, v := range vols {
		src, dst, _ := strings.Cut(str(v), ":")
		if strings.HasPrefix(dst, "/var/lib/mysql") {
			if _, ok := declared[src]; !ok {
				t.Errorf("service %s mounts volume %q, which is not declared under top-level volumes:", mysqlService, src)
			}
			hasVolume = true
		}
	}
	if !hasVolume {
		t.Errorf("service %s keeps no volume on /var/lib/mysql; data would go with the container", mysqlService)
	}

	// Read every SQL file mounted into the init directory.
	var sql strings.Builder
	var files []string
	for _, m := range binds(t, mysqlService, mysqlSvc) {
		if !strings.HasPrefix(m.target, "/docker-entrypoint-initdb.d") {
			continue
		}
		src := filepath.Join(repoRoot, m.source)
		if !strings.HasPrefix(filepath.ToSlash(filepath.Clean(m.source)), "deploy/") {
			t.Errorf("service %s mounts %s for init; keep it under deploy/", mysqlService, m.source)
		}
		fi, err := os.Stat(src)
		if err != nil {
			t.Fatalf("service %s mounts %s, which is missing: %v", mysqlService, m.source, err)
		}
		paths := []string{src}
		if fi.IsDir() {
			paths, _ = filepath.Glob(filepath.Join(src, "*.sql"))
		}
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, p)
			sql.Write(b)
			sql.WriteString("\n")
		}
	}
	if len(files) == 0 {
		t.Fatalf("service %s mounts no .sql file into /docker-entrypoint-initdb.d", mysqlService)
	}
	text := regexp.MustCompile(`(?m)--.*$`).ReplaceAllString(sql.String(), "")
	dbs := map[string]bool{}
	for _, m := range regexp.MustCompile("(?i)CREATE\\s+DATABASE\\s+(?:IF\\s+NOT\\s+EXISTS\\s+)?`?(\\w+)`?").FindAllStringSubmatch(text, -1) {
		dbs[m[1]] = true
	}
	users := map[string]string{}
	for _, m := range regexp.MustCompile(`(?i)CREATE\s+USER\s+(?:IF\s+NOT\s+EXISTS\s+)?'([^']+)'@'([^']+)'\s+IDENTIFIED\s+BY\s+'([^']*)'`).FindAllStringSubmatch(text, -1) {
		if m[2] != "%" {
			t.Errorf("%v: user %s is for host %q; the other containers connect from their own addresses, use '%%'", files, m[1], m[2])
		}
		users[m[1]] = m[3]
	}
	grants := map[string]map[string]bool{}
	for _, m := range regexp.MustCompile("(?i)GRANT\\s+ALL(?:\\s+PRIVILEGES)?\\s+ON\\s+`?(\\w+)`?\\.\\*\\s+TO\\s+'([^']+)'@").FindAllStringSubmatch(text, -1) {
		if grants[m[2]] == nil {
			grants[m[2]] = map[string]bool{}
		}
		grants[m[2]][m[1]] = true
	}
	rootPwd := env(t, mysqlService, mysqlSvc)["MYSQL_ROOT_PASSWORD"]
	account := func(who, user, pwd string, dbNames ...string) {
		t.Helper()
		if user == "root" {
			if pwd != rootPwd {
				t.Errorf("%s logs in as root with a password other than %s's MYSQL_ROOT_PASSWORD", who, mysqlService)
			}
			return
		}
		want, ok := users[user]
		if !ok {
			t.Errorf("%s logs in as %q, but %v creates no such user", who, user, files)
			return
		}
		if want != pwd {
			t.Errorf("%s logs in as %q with password %q, but %v sets %q", who, user, pwd, files, want)
		}
		for _, db := range dbNames {
			if !grants[user][db] {
				t.Errorf("%s uses database %q as %q, but %v grants %s nothing on it", who, db, user, files, user)
			}
		}
	}

	// The app's database.
	for _, name := range s.nudgeServices() {
		v := env(t, name, s.svc(name))["NUDGE_DATABASE_URL"]
		if v == "" {
			continue
		}
		cfg := parseDatabaseURL(t, name, v)
		if !dbs[cfg.DBName] {
			t.Errorf("service %s uses database %q (NUDGE_DATABASE_URL), but %v creates only %v", name, cfg.DBName, files, dbs)
		}
		account("service "+name, cfg.User, cfg.Passwd, cfg.DBName)
	}

	// Temporal's two.
	te := env(t, temporalService, s.svc(temporalService))
	store, vis := te["DBNAME"], te["VISIBILITY_DBNAME"]
	if store == "" {
		store = "temporal"
	}
	if vis == "" {
		vis = "temporal_visibility"
	}
	for _, db := range []string{store, vis} {
		if !dbs[db] {
			t.Errorf("%v does not create %q for Temporal (have %v)", files, db, dbs)
		}
	}
	account("service "+temporalService, te["MYSQL_USER"], te["MYSQL_PWD"], store, vis)
}

func TestImagesPinned(t *testing.T) {
	s := load(t)
	for _, name := range s.names() {
		svc := s.svc(name)
		repo, tag := image(svc)
		if svc["build"] != nil {
			continue
		}
		if repo == "" {
			t.Errorf("service %s has neither image: nor build:", name)
			continue
		}
		if tag == "" || tag == "latest" {
			t.Errorf("service %s: image %s is not pinned to a version tag", name, str(svc["image"]))
		}
	}
	_, server := image(s.svc(temporalService))
	if repo, _ := image(s.svc(temporalService)); repo != "temporalio/auto-setup" || !regexp.MustCompile(`^1\.2\d\.\d+$`).MatchString(server) {
		t.Errorf("service %s runs %s, want temporalio/auto-setup:1.2x.y", temporalService, str(s.svc(temporalService)["image"]))
	}
	if _, tools := image(s.svc(setupService)); tools != server && !strings.HasPrefix(tools, server+"-") {
		t.Errorf("service %s runs admin-tools %s, service %s runs server %s; keep them on the same server version", setupService, tools, temporalService, server)
	}
	if repo, _ := image(s.svc(mailService)); repo != "axllent/mailpit" {
		t.Errorf("service %s runs %s, want axllent/mailpit", mailService, repo)
	}
}
