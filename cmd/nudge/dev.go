package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/nudgehq/nudge/codec"
	"github.com/nudgehq/nudge/config"
	"github.com/nudgehq/nudge/platform"
)

// devKeysFile keeps the development keys, so the write key `make dev` prints
// stays the same from one start to the next.
const devKeysFile = ".data/dev-keys.json"

type devKeys struct {
	WriteKey string `json:"write_key"`
	AdminKey string `json:"admin_key"`
	Secret   string `json:"secret"`
	// EncryptionKey encrypts Temporal payloads, as in production; files
	// from before it get one added.
	EncryptionKey string `json:"encryption_key,omitempty"`
}

// devSetup fills in the keys and secret a developer has not set.
func devSetup(cfg *config.Config) error {
	var keys devKeys
	raw, err := os.ReadFile(devKeysFile)
	switch {
	case err == nil:
		if err := json.Unmarshal(raw, &keys); err != nil {
			return fmt.Errorf("%s is damaged (%v): delete it to make new keys", devKeysFile, err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	if keys.WriteKey == "" || keys.EncryptionKey == "" {
		if keys.WriteKey == "" {
			keys = devKeys{WriteKey: "wk_dev_" + rand.Text()[:20], AdminKey: "ak_dev_" + rand.Text()[:20], Secret: rand.Text()}
		}
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		keys.EncryptionKey = "dev:" + base64.StdEncoding.EncodeToString(key)
		raw, _ := json.MarshalIndent(keys, "", "  ")
		if err := os.MkdirAll(filepath.Dir(devKeysFile), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(devKeysFile, raw, 0o600); err != nil {
			return err
		}
	}
	if len(cfg.WriteKeys) == 0 {
		cfg.WriteKeys = []string{keys.WriteKey}
	}
	if len(cfg.AdminKeys) == 0 {
		cfg.AdminKeys = []string{keys.AdminKey}
	}
	if cfg.Secret == "" {
		cfg.Secret = keys.Secret
	}
	if cfg.EncryptionKeys == nil && cfg.Encryption != "off" {
		k, err := codec.ParseKeys(keys.EncryptionKey)
		if err != nil {
			return fmt.Errorf("%s: encryption_key: %v: delete the file to make new keys", devKeysFile, err)
		}
		cfg.EncryptionKeys = k
	}
	return cfg.RequireServing()
}

// runDev runs the worker and the gateway together and says how to use them.
func runDev(ctx context.Context, p *platform.Platform) error {
	l, err := net.Listen("tcp", p.Config.HTTPAddr)
	if err != nil {
		return fmt.Errorf("NUDGE_HTTP_ADDR: %w", err)
	}
	metricsAddr, err := p.ServeMetrics(ctx)
	if err != nil {
		l.Close()
		return err
	}
	w, err := p.StartWorker(ctx)
	if err != nil {
		return err
	}
	defer w.Stop()

	cfg := p.Config
	fmt.Printf(`
Nudge is running.

  Gateway      %s
  Dashboard    %s/dashboard (sign in with the admin key)
  Temporal UI  %s
  Metrics      %s
  Write key    %s
  Admin key    %s
  Journeys     %v
  Email        %s
  SMS          %s
  Slack        %s
  Ads          %s

Try it:
  curl -u %s: %s/v1/identify -H 'Content-Type: application/json' \
    -d '{"userId":"u1","traits":{"email":"ada@example.com","firstName":"Ada"}}'
  curl -u %s: %s/v1/track -H 'Content-Type: application/json' \
    -d '{"userId":"u1","event":"Signed Up"}'
  curl -H 'Authorization: Bearer %s' %s/v1/contacts/u1
%s
`, cfg.PublicURL, cfg.PublicURL, cfg.TemporalUIURL, metricsURL(metricsAddr), cfg.WriteKeys[0], cfg.AdminKeys[0], cfg.Journeys, emailMode(cfg), smsMode(cfg), slackMode(cfg), adsMode(cfg),
		cfg.WriteKeys[0], cfg.PublicURL, cfg.WriteKeys[0], cfg.PublicURL, cfg.AdminKeys[0], cfg.PublicURL, codecMode(cfg))
	return p.Serve(ctx, l)
}

// codecMode says how to read the encrypted payloads in the Temporal UI.
func codecMode(cfg *config.Config) string {
	if cfg.EncryptionKeys == nil {
		return "\nTemporal payloads are not encrypted (NUDGE_ENCRYPTION=off).\n"
	}
	return fmt.Sprintf(`
Temporal payloads are encrypted. To read them in the Temporal UI, sign this
browser in at %s/codec/login with the admin key, and follow the steps there.
`, strings.TrimRight(cfg.PublicURL, "/"))
}
