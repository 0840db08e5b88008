// Package smtptest runs a real SMTP server on loopback for tests and the
// benchmark, like net/http/httptest does for HTTP. It keeps every message it
// accepts and lets a caller wait for one.
package smtptest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/mail"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// Message is one accepted message.
type Message struct {
	From     string
	To       []string
	Raw      []byte
	Header   mail.Header
	Accepted time.Time // when the server answered 250 to DATA
	// Unanswered: the server kept the message but hung up instead of
	// answering (DropAfterData).
	Unanswered bool
}

// Server is a running SMTP server.
type Server struct {
	Addr string // host:port
	// DropBodies keeps only each message's envelope and headers, for runs
	// of many thousands of messages.
	DropBodies bool

	srv     *smtp.Server
	mu      sync.Mutex
	msgs    []Message
	changed chan struct{} // closed and replaced on every new message
	faults  []Fault       // for the next messages, in order
}

// Fault is how the server misbehaves for one message, for tests of sends
// that fail or whose outcome is uncertain.
type Fault int

const (
	NoFault Fault = iota
	// RefuseRecipient answers RCPT TO with 550: a permanent refusal.
	RefuseRecipient
	// DeferData answers the end of DATA with 451: try again later.
	DeferData
	// RejectData answers the end of DATA with 554: a permanent refusal.
	RejectData
	// DropAfterData reads the whole message, keeps it, and hangs up
	// without answering: the client cannot know it was taken.
	DropAfterData
	// DropAfterAccept answers 250, keeps the message, and hangs up before
	// the client's next command.
	DropAfterAccept
)

// Inject makes the next messages meet these faults, one each, in order.
func (s *Server) Inject(faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, faults...)
}

// nextFault takes the fault for the message now starting.
func (s *Server) nextFault() Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.faults) == 0 {
		return NoFault
	}
	f := s.faults[0]
	s.faults = s.faults[1:]
	return f
}

// Start listens on a free loopback port.
func Start() (*Server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{Addr: l.Addr().String(), changed: make(chan struct{})}
	s.srv = smtp.NewServer(backend{s})
	s.srv.Domain = "localhost"
	s.srv.AllowInsecureAuth = true
	s.srv.ReadTimeout = 30 * time.Second
	s.srv.WriteTimeout = 30 * time.Second
	go s.srv.Serve(l)
	return s, nil
}

// Close stops the server.
func (s *Server) Close() error { return s.srv.Close() }

// Messages returns what has been accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// WaitFor returns the first accepted message that match accepts, waiting for
// it until ctx ends.
func (s *Server) WaitFor(ctx context.Context, match func(Message) bool) (Message, error) {
	msgs, err := s.WaitForN(ctx, 1, match)
	if err != nil {
		return Message{}, err
	}
	return msgs[0], nil
}

// WaitForN waits until n accepted messages match, and returns them in the
// order accepted.
func (s *Server) WaitForN(ctx context.Context, n int, match func(Message) bool) ([]Message, error) {
	var found []Message
	seen := 0
	for {
		s.mu.Lock()
		msgs, changed := s.msgs[seen:], s.changed
		seen = len(s.msgs)
		s.mu.Unlock()
		for _, m := range msgs {
			if match(m) {
				found = append(found, m)
			}
		}
		if len(found) >= n {
			return found, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return found, fmt.Errorf("%d of %d messages: %w", len(found), n, ctx.Err())
		}
	}
}

func (s *Server) add(m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, m)
	close(s.changed)
	s.changed = make(chan struct{})
}

type backend struct{ s *Server }

func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{s: b.s, conn: c}, nil
}

type session struct {
	s      *Server
	conn   *smtp.Conn
	from   string
	to     []string
	fault  Fault
	hangUp bool
}

// Reset runs after each message is answered: DropAfterAccept hangs up here.
func (x *session) Reset() {
	if x.hangUp {
		x.conn.Conn().Close()
	}
	x.from, x.to, x.fault, x.hangUp = "", nil, NoFault, false
}

func (x *session) Logout() error { return nil }

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	x.from, x.fault = from, x.s.nextFault()
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if x.fault == RefuseRecipient {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox here"}
	}
	x.to = append(x.to, to)
	return nil
}

func (x *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return &smtp.SMTPError{Code: 554, Message: "message is not RFC 5322: " + err.Error()}
	}
	m := Message{From: x.from, To: x.to, Raw: raw, Header: msg.Header, Accepted: time.Now()}
	if x.s.DropBodies {
		m.Raw = nil
	}
	switch x.fault {
	case DeferData:
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	case RejectData:
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "rejected by policy"}
	case DropAfterData:
		m.Unanswered = true
		x.s.add(m)
		x.conn.Conn().Close()
		return nil
	case DropAfterAccept:
		x.hangUp = true
	}
	x.s.add(m)
	return nil
}
