package activities

import "time"

// SetMediaPolls replaces the waits while Mastodon processes an upload, so
// a test need not sit through them.
func SetMediaPolls(m *MastodonClient, waits ...time.Duration) { m.polls = waits }
