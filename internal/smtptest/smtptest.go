// Package smtptest runs a real SMTP server on loopback for tests and the
// benchmark, like net/http/httptest does for HTTP. It keeps every message it
// accepts and lets a caller wait for one.
package smtptest

import (
	"bytes"
	"context"
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
}

// Server is a running SMTP server.
type Server struct {
	Addr string // host:port

	srv     *smtp.Server
	mu      sync.Mutex
	msgs    []Message
	changed chan struct{} // closed and replaced on every new message
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
	seen := 0
	for {
		s.mu.Lock()
		msgs, changed := s.msgs[seen:], s.changed
		seen = len(s.msgs)
		s.mu.Unlock()
		for _, m := range msgs {
			if match(m) {
				return m, nil
			}
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return Message{}, ctx.Err()
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

func (b backend) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{s: b.s}, nil }

type session struct {
	s    *Server
	from string
	to   []string
}

func (x *session) Reset()        { x.from, x.to = "", nil }
func (x *session) Logout() error { return nil }

func (x *session) Mail(from string, _ *smtp.MailOptions) error { x.from = from; return nil }

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
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
	x.s.add(Message{From: x.from, To: x.to, Raw: raw, Header: msg.Header, Accepted: time.Now()})
	return nil
}
