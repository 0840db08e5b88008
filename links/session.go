package links

import (
	"strconv"
	"strings"
	"time"
)

const purposeCodecSession = "codec-session"

// CodecSession is the cookie an operator gets for the codec endpoint by
// signing in with an admin key, so the Temporal UI (which can send cookies,
// not keys) may decode payloads. keyTag names the admin key it came from:
// removing that key from NUDGE_ADMIN_KEYS ends the session too.
func (s *Signer) CodecSession(keyTag string, expires time.Time) string {
	return s.token(purposeCodecSession, keyTag+"|"+strconv.FormatInt(expires.Unix(), 10))
}

// CheckCodecSession returns the key tag of a session that was signed here
// and has not expired at now.
func (s *Signer) CheckCodecSession(token string, now time.Time) (keyTag string, err error) {
	v, err := s.verify(purposeCodecSession, token)
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
