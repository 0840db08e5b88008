package main

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net"
	"net/mail"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
)

// MailServer is an SMTP server on loopback that the scenarios steer: it can
// answer slowly, leave the outcome of a send uncertain (drop the connection
// after the final "." without replying, or reply 250 and drop before QUIT),
// and stop listening for an outage. It keeps what it was given and how each
// exchange ended, so extra copies can be told from allowed repeats.
//
// A message counts as received as soon as its final "." arrives, before the
// server replies: a real server that has queued a message delivers it even
// if the client never reads the 250. That is the worst case for duplicates.
type MailServer struct {
	Addr string

	mu    sync.Mutex
	srv   *smtp.Server
	ln    net.Listener
	mails []*Mail
	down  bool

	greetDelay, rcptDelay, dataDelay atomic.Int64 // nanoseconds
	misbehave                        atomic.Int64 // DATA transactions still to leave uncertain
	misbehaveMode                    atomic.Value // string: modeNoReply or modeNoQuit
	inDataWait                       atomic.Int64 // exchanges between the final "." and the reply
	sessions                         atomic.Int64 // open connections
}

// How the server leaves a send uncertain.
const (
	modeNoReply = "noreply" // final "." received, connection dropped, no reply
	modeNoQuit  = "noquit"  // 250 written, connection dropped before QUIT
)

// How one exchange ended, as the server saw it.
const (
	fatePending       = "pending"        // the reply is not written yet
	fateConfirmed     = "confirmed"      // 250 written and the client went on (QUIT or another command)
	fateClientGone    = "client-gone"    // the client vanished after the final "." without another command: it may not have read the 250
	fateNoReply       = "no-reply"       // the server dropped the connection instead of replying
	fateReplyThenDrop = "reply-and-drop" // the server wrote 250, then dropped the connection before QUIT
)

// Mail is one message the server received.
type Mail struct {
	Seq       int
	From      string
	To        []string // envelope recipients, lower-cased
	Subject   string
	MessageID string
	Marketing bool // it has a List-Unsubscribe header; transactional email has none
	At        time.Time
	fate      atomic.Value
}

// Fate says how the exchange that carried the message ended.
func (m *Mail) Fate() string { return m.fate.Load().(string) }

// StartMailServer listens on a free loopback port.
func StartMailServer() (*MailServer, error) {
	s := &MailServer{}
	s.misbehaveMode.Store(modeNoReply)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.Addr = ln.Addr().String()
	s.serve(ln)
	return s, nil
}

func (s *MailServer) serve(ln net.Listener) {
	srv := smtp.NewServer(mailBackend{s})
	srv.Domain = "chaos.localhost"
	srv.AllowInsecureAuth = true
	srv.EnableSMTPUTF8 = true
	srv.ReadTimeout = 2 * time.Minute
	srv.WriteTimeout = time.Minute
	srv.MaxMessageBytes = 10 << 20
	srv.ErrorLog = quietLogger{}
	s.mu.Lock()
	s.srv, s.ln, s.down = srv, ln, false
	s.mu.Unlock()
	go srv.Serve(&chaosListener{Listener: ln, s: s})
}

// SetDelays makes the server slow: before its greeting, after each RCPT,
// and between the final "." and its reply.
func (s *MailServer) SetDelays(greet, rcpt, data time.Duration) {
	s.greetDelay.Store(int64(greet))
	s.rcptDelay.Store(int64(rcpt))
	s.dataDelay.Store(int64(data))
}

// Misbehave leaves the next n DATA transactions uncertain, in mode.
func (s *MailServer) Misbehave(n int, mode string) {
	s.misbehaveMode.Store(mode)
	s.misbehave.Store(int64(n))
}

// InDataWait counts exchanges whose final "." has arrived and whose reply
// has not been written yet: a client killed now cannot know the outcome.
func (s *MailServer) InDataWait() int { return int(s.inDataWait.Load()) }

// Sessions counts open connections.
func (s *MailServer) Sessions() int { return int(s.sessions.Load()) }

// Stop closes the listener and every connection: the server is gone, and
// connecting is refused until Resume.
func (s *MailServer) Stop() {
	s.mu.Lock()
	srv := s.srv
	s.down = true
	s.mu.Unlock()
	srv.Close()
}

// Resume listens again on the same address.
func (s *MailServer) Resume() error {
	var ln net.Listener
	var err error
	for range 50 { // the old socket may take a moment to go
		if ln, err = net.Listen("tcp", s.Addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	s.serve(ln)
	return nil
}

// Close stops the server for good.
func (s *MailServer) Close() {
	s.mu.Lock()
	srv, down := s.srv, s.down
	s.down = true
	s.mu.Unlock()
	if !down {
		srv.Close()
	}
}

// Mails returns what has been received so far.
func (s *MailServer) Mails() []*Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Mail(nil), s.mails...)
}

// Count is how many messages have been received.
func (s *MailServer) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.mails)
}

func (s *MailServer) add(m *Mail) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m.Seq = len(s.mails) + 1
	s.mails = append(s.mails, m)
}

type mailBackend struct{ s *MailServer }

func (b mailBackend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	cc, _ := c.Conn().(*chaosConn)
	return &mailSession{s: b.s, conn: cc}, nil
}

type mailSession struct {
	s    *MailServer
	conn *chaosConn
	from string
	to   []string
}

func (x *mailSession) Reset()        { x.from, x.to = "", nil }
func (x *mailSession) Logout() error { return nil }

func (x *mailSession) Mail(from string, _ *smtp.MailOptions) error {
	x.from = from
	return nil
}

func (x *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if d := time.Duration(x.s.rcptDelay.Load()); d > 0 {
		time.Sleep(d)
	}
	x.to = append(x.to, strings.ToLower(to))
	return nil
}

func (x *mailSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	// The final "." is in.
	m := &Mail{From: x.from, To: x.to, At: time.Now()}
	m.fate.Store(fatePending)
	if msg, err := mail.ReadMessage(bytes.NewReader(raw)); err == nil {
		dec := new(mime.WordDecoder)
		m.Subject = msg.Header.Get("Subject")
		if s, err := dec.DecodeHeader(m.Subject); err == nil {
			m.Subject = s
		}
		m.MessageID = strings.Trim(msg.Header.Get("Message-Id"), "<> ")
		m.Marketing = msg.Header.Get("List-Unsubscribe") != ""
	}
	x.s.add(m)

	mode := ""
	if x.s.misbehave.Add(-1) >= 0 {
		mode = x.s.misbehaveMode.Load().(string)
	}
	x.s.inDataWait.Add(1)
	if d := time.Duration(x.s.dataDelay.Load()); d > 0 {
		time.Sleep(d)
	}
	x.s.inDataWait.Add(-1)
	if x.conn == nil {
		m.fate.Store(fateConfirmed)
		return nil
	}
	switch mode {
	case modeNoReply:
		m.fate.Store(fateNoReply)
		x.conn.Conn.Close()
		return errors.New("dropped") // the reply cannot be written any more
	case modeNoQuit:
		x.conn.afterReply(m, true)
	default:
		x.conn.afterReply(m, false)
	}
	return nil
}

// chaosListener wraps each connection so the server can delay its greeting
// and see what the client does after a reply.
type chaosListener struct {
	net.Listener
	s *MailServer
}

func (l *chaosListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.s.sessions.Add(1)
	return &chaosConn{Conn: c, s: l.s}, nil
}

type chaosConn struct {
	net.Conn
	s *MailServer

	mu       sync.Mutex
	greeted  bool
	closed   bool
	reply    *Mail // the next write is this message's reply
	drop     bool  // drop the connection once the reply is written
	awaiting *Mail // reply written; did the client go on?
}

func (c *chaosConn) afterReply(m *Mail, drop bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reply, c.drop = m, drop
}

func (c *chaosConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if !c.greeted {
		c.greeted = true
		if d := time.Duration(c.s.greetDelay.Load()); d > 0 {
			c.mu.Unlock()
			time.Sleep(d)
			c.mu.Lock()
		}
	}
	c.mu.Unlock()
	n, err := c.Conn.Write(p)
	c.mu.Lock()
	defer c.mu.Unlock()
	if m := c.reply; m != nil {
		c.reply = nil
		switch {
		case err != nil:
			m.fate.Store(fateClientGone)
		case c.drop:
			m.fate.Store(fateReplyThenDrop)
			c.Conn.Close()
		default:
			c.awaiting = m
		}
	}
	return n, err
}

func (c *chaosConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	defer c.mu.Unlock()
	if m := c.awaiting; m != nil {
		switch {
		case n > 0:
			m.fate.Store(fateConfirmed)
			c.awaiting = nil
		case err != nil:
			m.fate.Store(fateClientGone)
			c.awaiting = nil
		}
	}
	return n, err
}

func (c *chaosConn) Close() error {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		c.s.sessions.Add(-1)
	}
	if m := c.awaiting; m != nil {
		m.fate.Store(fateClientGone)
		c.awaiting = nil
	}
	c.mu.Unlock()
	return c.Conn.Close()
}

type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}
func (quietLogger) Println(...any)        {}
