// Package config reads Nudge's settings from NUDGE_* environment variables,
// in one place, and says which variable is wrong when one is.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/caarlos0/env/v11"

	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// Config is every setting, with its variable and default. README.md documents
// the same list; keep them together.
type Config struct {
	TemporalAddress   string   `env:"TEMPORAL_ADDRESS" envDefault:"localhost:7233"`
	TemporalNamespace string   `env:"TEMPORAL_NAMESPACE" envDefault:"default"`
	TemporalUIURL     string   `env:"TEMPORAL_UI_URL" envDefault:"http://localhost:8233"`
	TaskQueue         string   `env:"TASK_QUEUE" envDefault:"nudge"`
	DatabaseURL       string   `env:"DATABASE_URL" envDefault:"sqlite://.data/nudge.db"`
	HTTPAddr          string   `env:"HTTP_ADDR" envDefault:":8080"`
	PublicURL         string   `env:"PUBLIC_URL" envDefault:"http://localhost:8080"`
	SMTPURL           string   `env:"SMTP_URL"`
	EmailFrom         string   `env:"EMAIL_FROM" envDefault:"Nudge <hello@nudge.localhost>"`
	AccountOwner      string   `env:"ACCOUNT_OWNER"`
	BrandName         string   `env:"BRAND_NAME" envDefault:"Nudge"`
	BrandAddress      string   `env:"BRAND_ADDRESS" envDefault:"Nudge Inc., 1 Example Street, Springfield"`
	SiteURL           string   `env:"SITE_URL" envDefault:"http://localhost:8080"`
	WriteKeys         []string `env:"WRITE_KEYS"`
	AdminKeys         []string `env:"ADMIN_KEYS"`
	Secret            string   `env:"SECRET"`
	Journeys          []string `env:"JOURNEYS" envDefault:"all"`
	LogLevel          string   `env:"LOG_LEVEL" envDefault:"info"`

	// Derived from the raw values above by Load.
	SMTP  *SMTP        `env:"-"`
	From  mail.Address `env:"-"`
	Owner mail.Address `env:"-"`
	Level slog.Level   `env:"-"`
}

const prefix = "NUDGE_"

// Load reads the environment. It fails on the first group of bad values, each
// named by its variable.
func Load() (*Config, error) { return LoadFrom(nil) }

// LoadFrom reads settings from vars (NUDGE_* names) instead of the process
// environment; nil means the environment. Tests and the benchmark use it.
func LoadFrom(vars map[string]string) (*Config, error) {
	var c Config
	if err := env.ParseWithOptions(&c, env.Options{Prefix: prefix, Environment: vars}); err != nil {
		return nil, namedError(err)
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// namedError rewrites the env library's errors, which name Go fields, to name
// the variables a person sets.
func namedError(err error) error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return err
	}
	var msgs []string
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			f, _ := reflect.TypeOf(Config{}).FieldByName(pe.Name)
			msgs = append(msgs, fmt.Sprintf("%s%s: %v", prefix, f.Tag.Get("env"), pe.Err))
			continue
		}
		msgs = append(msgs, e.Error())
	}
	return errors.New(strings.Join(msgs, "; "))
}

func (c *Config) validate() error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf(prefix+name+": "+format, args...))
	}
	if _, _, err := models.ParseURL(c.DatabaseURL); err != nil {
		bad("DATABASE_URL", "%v", err)
	}
	for _, v := range []struct{ name, value string }{{"PUBLIC_URL", c.PublicURL}, {"SITE_URL", c.SiteURL}, {"TEMPORAL_UI_URL", c.TemporalUIURL}} {
		if u, err := url.Parse(v.value); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad(v.name, "%q is not an absolute http(s) URL", v.value)
		}
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	c.SiteURL = strings.TrimRight(c.SiteURL, "/")
	if c.SMTPURL != "" {
		s, err := ParseSMTP(c.SMTPURL)
		if err != nil {
			bad("SMTP_URL", "%v", err)
		}
		c.SMTP = s
	}
	if a, err := mail.ParseAddress(c.EmailFrom); err != nil {
		bad("EMAIL_FROM", "%q is not an email address like 'Acme <hello@acme.com>': %v", c.EmailFrom, err)
	} else {
		c.From = *a
	}
	c.Owner = c.From
	if c.AccountOwner != "" {
		if a, err := mail.ParseAddress(c.AccountOwner); err != nil || a.Name == "" {
			bad("ACCOUNT_OWNER", "%q is not a person's name and address like 'Sam Lee <sam@acme.com>'", c.AccountOwner)
		} else {
			c.Owner = *a
		}
	}
	if c.Secret != "" && len(c.Secret) < 16 {
		bad("SECRET", "is %d characters; use at least 16 random ones", len(c.Secret))
	}
	for _, k := range append(slices.Clone(c.WriteKeys), c.AdminKeys...) {
		if strings.TrimSpace(k) != k || k == "" {
			bad("WRITE_KEYS/NUDGE_ADMIN_KEYS", "a key is empty or has spaces around it")
			break
		}
	}
	for _, k := range c.WriteKeys {
		if slices.Contains(c.AdminKeys, k) {
			bad("ADMIN_KEYS", "a key is also a write key; admin keys must stay out of web pages")
			break
		}
	}
	if len(c.Journeys) == 1 && c.Journeys[0] == "all" {
		c.Journeys = workflows.JourneyNames()
	} else {
		for _, j := range c.Journeys {
			if !slices.Contains(workflows.JourneyNames(), j) {
				bad("JOURNEYS", "unknown journey %q (known: all, %s)", j, strings.Join(workflows.JourneyNames(), ", "))
			}
		}
	}
	if err := c.Level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		bad("LOG_LEVEL", "%q is not debug, info, warn or error", c.LogLevel)
	}
	if c.TaskQueue == "" {
		bad("TASK_QUEUE", "is empty")
	}
	return errors.Join(errs...)
}

// RequireServing checks what only a long-running gateway needs: keys and a
// secret. `nudge dev` fills them in for the developer instead.
func (c *Config) RequireServing() error {
	var errs []error
	if len(c.WriteKeys) == 0 {
		errs = append(errs, errors.New(prefix+"WRITE_KEYS: set at least one write key (comma-separated) for sources to send events with"))
	}
	if len(c.AdminKeys) == 0 {
		errs = append(errs, errors.New(prefix+"ADMIN_KEYS: set at least one admin key (comma-separated) for the read APIs"))
	}
	if c.Secret == "" {
		errs = append(errs, errors.New(prefix+"SECRET: set 16 or more random characters; it signs unsubscribe links"))
	}
	return errors.Join(errs...)
}

// SMTP is where email goes.
type SMTP struct {
	Host     string
	Port     int
	Username string
	Password string
	// ImplicitTLS: smtps://, TLS from the first byte (port 465).
	ImplicitTLS bool
	// RequireSTARTTLS: smtp://...?starttls=required refuses a server that
	// does not offer STARTTLS; by default it is used when offered.
	RequireSTARTTLS bool
}

// ParseSMTP reads smtps://user:pass@host:465 or smtp://user:pass@host:587,
// with ?starttls=required to insist on STARTTLS.
func ParseSMTP(raw string) (*SMTP, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%q is not a URL: %v", raw, err)
	}
	s := &SMTP{Host: u.Hostname()}
	switch u.Scheme {
	case "smtps":
		s.ImplicitTLS, s.Port = true, 465
	case "smtp":
		s.Port = 587
	default:
		return nil, fmt.Errorf("scheme %q: use smtps:// (TLS, port 465) or smtp:// (STARTTLS when offered, port 587)", u.Scheme)
	}
	if s.Host == "" {
		return nil, fmt.Errorf("%q names no host", raw)
	}
	if p := u.Port(); p != "" {
		if s.Port, err = strconv.Atoi(p); err != nil || s.Port <= 0 || s.Port > 65535 {
			return nil, fmt.Errorf("port %q is not a port number", p)
		}
	}
	if u.User != nil {
		s.Username = u.User.Username()
		s.Password, _ = u.User.Password()
	}
	for k, v := range u.Query() {
		switch {
		case k == "starttls" && v[0] == "required":
			if s.ImplicitTLS {
				return nil, errors.New("starttls=required does not apply to smtps://, which is TLS from the start")
			}
			s.RequireSTARTTLS = true
		case k == "starttls" && v[0] == "opportunistic":
		default:
			return nil, fmt.Errorf("unknown option %s=%s (known: starttls=required, starttls=opportunistic)", k, v[0])
		}
	}
	return s, nil
}
