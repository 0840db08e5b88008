package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nudgehq/nudge/workflows"
)

var socialTargets = SocialTargets{Mastodon: true, Webhooks: []string{"buffer", "zapier"}}

func TestParseSocialPosts(t *testing.T) {
	src := `
posts:
  spring-launch:
    text: "  Spring is here.  "
    link: https://shop.example.com/spring
    image: https://shop.example.com/spring.jpg
    image_alt: " A linen dress on a washing line. "
    at: "2027-03-20 09:00"
    zone: Europe/Paris
    to: mastodon
    approve: true
  sale:
    text: Sale
    at: 2027-07-01T08:30
    to: webhook:buffer
`
	ny, _ := time.LoadLocation("America/New_York")
	posts, err := ParseSocialPosts("social.yaml", []byte(src), ny, socialTargets)
	if err != nil {
		t.Fatal(err)
	}
	if len(posts) != 2 || posts[0].Name != "spring-launch" || posts[1].Name != "sale" {
		t.Fatalf("posts = %+v, want spring-launch then sale in file order", posts)
	}
	p := posts[0]
	if p.Text != "Spring is here." || p.Link != "https://shop.example.com/spring" || p.Image != "https://shop.example.com/spring.jpg" || p.ImageAlt != "A linen dress on a washing line." ||
		p.Zone != "Europe/Paris" || p.To != "mastodon" || !p.Approve {
		t.Errorf("spring-launch = %+v", p)
	}
	if want := time.Date(2027, 3, 20, 8, 0, 0, 0, time.UTC); !p.At.Equal(want) {
		t.Errorf("spring-launch at %s, want %s (09:00 in Paris, UTC+1 in March)", p.At.UTC(), want)
	}
	s := posts[1]
	if s.Zone != "America/New_York" || s.To != "webhook:buffer" || s.Approve {
		t.Errorf("sale = %+v", s)
	}
	if want := time.Date(2027, 7, 1, 12, 30, 0, 0, time.UTC); !s.At.Equal(want) {
		t.Errorf("sale at %s, want %s (the default zone, EDT)", s.At.UTC(), want)
	}
	if posts, err := ParseSocialPosts("social.yaml", []byte("posts:\n"), nil, socialTargets); err != nil || len(posts) != 0 {
		t.Errorf("no posts = %v, %v", posts, err)
	}
}

// Each mistake names the file, the post, its line and the field.
func TestBadSocialPosts(t *testing.T) {
	entry := func(fields string) string {
		return "posts:\n  launch:\n" + fields
	}
	ok := "    text: Hello\n    at: \"2027-03-20 09:00\"\n    zone: Europe/Paris\n    to: mastodon\n"
	long := strings.Repeat("x", 480)
	for _, tc := range []struct {
		name, src, want string
		targets         SocialTargets
	}{
		{"bad time", entry("    text: Hello\n    at: tomorrow at nine\n    to: mastodon\n"), `social.yaml: post "launch" (line 4): at: "tomorrow at nine" is not a time`, socialTargets},
		{"no time", entry("    text: Hello\n    to: mastodon\n"), `post "launch" (line 3): at: is empty`, socialTargets},
		{"unknown zone", entry("    text: Hello\n    at: \"2027-03-20 09:00\"\n    zone: Mars/Olympus\n    to: mastodon\n"), `post "launch" (line 5): zone: "Mars/Olympus" is not an IANA time zone`, socialTargets},
		{"unknown target", entry("    text: Hello\n    at: \"2027-03-20 09:00\"\n    to: myspace\n"), `post "launch" (line 5): to: unknown target "myspace"`, socialTargets},
		{"unknown webhook", entry("    text: Hello\n    at: \"2027-03-20 09:00\"\n    to: webhook:crm\n"), `to: no webhook "crm" in NUDGE_WEBHOOKS (known: buffer, zapier)`, socialTargets},
		{"no mastodon", entry(ok), `to: mastodon, but NUDGE_MASTODON_URL and NUDGE_MASTODON_TOKEN are not both set`, SocialTargets{}},
		{"empty text", entry("    text: \"  \"\n    at: \"2027-03-20 09:00\"\n    to: mastodon\n"), `post "launch" (line 3): text: is empty`, socialTargets},
		{"too long", entry("    text: " + long + "\n    link: https://shop.example.com/a-rather-long-path\n    at: \"2027-03-20 09:00\"\n    to: mastodon\n"),
			`post "launch" (line 3): text: with its link the status is 525 characters, over Mastodon's 500`, socialTargets},
		{"alt without image", entry(ok + "    image_alt: A dress\n"), `social.yaml: post "launch" (line 7): image_alt: is set but image is not; alt text describes the image`, socialTargets},
		{"alt too long", entry(ok + "    image: https://shop.example.com/a.png\n    image_alt: " + strings.Repeat("é", 1501) + "\n"),
			`social.yaml: post "launch" (line 8): image_alt: is 1501 characters, over Mastodon's 1500`, socialTargets},
		{"unknown field", entry(ok + "    when: now\n"), `post "launch" (line 7): when: unknown field`, socialTargets},
		{"bad link", entry(ok + "    link: shop.example.com\n"), `link: "shop.example.com" is not an absolute http(s) URL`, socialTargets},
		{"bad name", "posts:\n  Launch Day:\n" + ok, `line 2: the post name "Launch Day" is not lower-case`, socialTargets},
		{"not a mapping", "- text: Hello\n", `social.yaml: line 1: the file must be a mapping`, socialTargets},
		{"bad yaml", "posts: [\n", `social.yaml: yaml:`, socialTargets},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSocialPosts("social.yaml", []byte(tc.src), nil, tc.targets)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
	// The image goes to Mastodon as media: its URL is not counted.
	src := entry("    text: " + long + "\n    image: https://shop.example.com/img/" + strings.Repeat("a", 40) + ".png\n    image_alt: " +
		strings.Repeat("x", 1500) + "\n    at: \"2027-03-20 09:00\"\n    to: mastodon\n")
	if _, err := ParseSocialPosts("social.yaml", []byte(src), nil, socialTargets); err != nil {
		t.Errorf("a long image URL and 1500 characters of alt text: %v", err)
	}
	// Over 500 is a Mastodon limit only: a webhook takes it.
	src = entry("    text: " + strings.Repeat("x", 600) + "\n    at: \"2027-03-20 09:00\"\n    to: webhook:zapier\n")
	if _, err := ParseSocialPosts("social.yaml", []byte(src), nil, socialTargets); err != nil {
		t.Errorf("a long post to a webhook: %v", err)
	}
}

// A bad file stops Load, naming the variable, the file, the post and the
// field; a good one gives the posts the Slack channel and timeout.
func TestSocialSettings(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "social.yaml")
	os.WriteFile(good, []byte("posts:\n  launch:\n    text: Hello\n    at: \"2027-03-20 09:00\"\n    to: webhook:buffer\n    approve: true\n"), 0o600)
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("posts:\n  launch:\n    text: Hello\n    at: \"2027-03-20 09:00\"\n    to: mastodon\n"), 0o600)
	hooks := map[string]string{"NUDGE_WEBHOOKS": "buffer=https://hooks.example.com/buffer",
		"NUDGE_WEBHOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "NUDGE_DEFAULT_TIMEZONE": "Europe/Berlin"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range hooks {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	c, err := LoadFrom(with(map[string]string{"NUDGE_SOCIAL_POSTS": good, "NUDGE_SOCIAL_APPROVAL_TIMEOUT": "6h"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.SocialPosts) != 1 || c.SocialPosts[0].Channel != "#marketing" || c.SocialPosts[0].ApprovalTimeout != 6*time.Hour ||
		c.SocialPosts[0].Zone != "Europe/Berlin" || c.MastodonEnabled() {
		t.Errorf("posts = %+v", c.SocialPosts)
	}
	_, err = LoadFrom(with(map[string]string{"NUDGE_SOCIAL_POSTS": bad}))
	if err == nil || !strings.Contains(err.Error(), "NUDGE_SOCIAL_POSTS: "+bad+`: post "launch" (line 5): to: mastodon, but`) {
		t.Errorf("bad file: %v", err)
	}
	if _, err := LoadFrom(with(map[string]string{"NUDGE_SOCIAL_POSTS": bad, "NUDGE_MASTODON_URL": "https://mastodon.example/", "NUDGE_MASTODON_TOKEN": "t"})); err != nil {
		t.Errorf("with Mastodon: %v", err)
	}
	_, err = LoadFrom(with(map[string]string{"NUDGE_SOCIAL_POSTS": filepath.Join(dir, "missing.yaml")}))
	if err == nil || !strings.Contains(err.Error(), "NUDGE_SOCIAL_POSTS: open ") {
		t.Errorf("missing file: %v", err)
	}
	_, err = LoadFrom(map[string]string{"NUDGE_MASTODON_URL": "https://mastodon.example"})
	if err == nil || !strings.Contains(err.Error(), "NUDGE_MASTODON_TOKEN") {
		t.Errorf("URL without token: %v", err)
	}
	// The shipped example parses.
	if _, err := ParseSocialPosts("example", mustRead(t, "../deploy/social.example.yaml"), nil, SocialTargets{Mastodon: true, Webhooks: []string{"buffer"}}); err != nil {
		t.Errorf("deploy/social.example.yaml: %v", err)
	}
	_ = workflows.SocialToMastodon
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
