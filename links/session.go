package links

import (
	"crypto/subtle"
	"strconv"
	"strings"
	"time"
)

const (
	purposeCodecSession     = "codec-session"
	purposeDashboardSession = "dashboard-session"
	purposeCSRF             = "csrf"
)

// CodecSession is the cookie an operator gets for the codec endpoint by
// signing in with an admin key, so the Temporal UI (which can send cookies,
// not keys) may decode payloads. keyTag names the admin key it came from:
// removing that key from NUDGE_ADMIN_KEYS ends the session too.
func (s *Signer) CodecSession(keyTag string, expires time.Time) string {
	return s.session(purposeCodecSession, keyTag, expires)
}

// CheckCodecSession returns the key tag of a session that was signed here
// and has not expired at now.
func (s *Signer) CheckCodecSession(token string, now time.Time) (keyTag string, err error) {
	return s.checkSession(purposeCodecSession, token, now)
}

// DashboardSession is the dashboard's sign-in cookie, made like a codec
// session but good only for the dashboard.
func (s *Signer) DashboardSession(keyTag string, expires time.Time) string {
	return s.session(purposeDashboardSession, keyTag, expires)
}

// CheckDashboardSession returns the key tag of a dashboard session signed
// here and unexpired at now.
func (s *Signer) CheckDashboardSession(token string, now time.Time) (keyTag string, err error) {
	return s.checkSession(purposeDashboardSession, token, now)
}

// CSRF is the token a dashboard form carries for the session it was made
// for: a page of another site cannot know it.
func (s *Signer) CSRF(session string) string {
	return strict.EncodeToString(s.mac(purposeCSRF, session))
}

// CheckCSRF reports whether token is the session's CSRF token.
func (s *Signer) CheckCSRF(session, token string) bool {
	want := s.CSRF(session)
	return session != "" && subtle.ConstantTimeCompare([]byte(want), []byte(token)) == 1
}

func (s *Signer) session(purpose, keyTag string, expires time.Time) string {
	return s.token(purpose, keyTag+"|"+strconv.FormatInt(expires.Unix(), 10))
}

func (s *Signer) checkSession(purpose, token string, now time.Time) (keyTag string, err error) {
	v, err := s.verify(purpose, token)
	if err != nil {
		return "", err
	}
	tag, exp, ok := strings.Cut(v, "|")
	unix, perr := strconv.ParseInt(exp, 10, 64)
	if !ok || perr != nil || !now.Before(time.Unix(unix, 0)) {
		return "", ErrInvalid
	}
	return tag, nil
}
