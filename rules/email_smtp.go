package rules

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"strings"
	"time"
	"unicode/utf8"
)

// SMTPOptions say how the email action sends mail (tracecraft serve --smtp-addr host:port
// --smtp-from addr; the user and password from TRACECRAFT_SMTP_USER and
// TRACECRAFT_SMTP_PASSWORD, the TLS mode from TRACECRAFT_SMTP_TLS). Without Addr there is no
// email action.
type SMTPOptions struct {
	// Addr is the server, host:port.
	Addr string
	// From is the sender's address ("Tracecraft <noreply@plant.example>").
	From string
	// User and Password, when User is set, log in with AUTH PLAIN — only over TLS (or to a
	// server on this machine), as net/smtp insists.
	User     string
	Password string
	// TLS is how the connection is secured: "" uses STARTTLS when the server offers it (and
	// sends in plain text when it does not); SMTPTLSRequire refuses to send unless STARTTLS
	// succeeds; SMTPTLSImplicit speaks TLS from the first byte (port 465). Rule mail carries
	// record data: a server reached over a network should be "require" or "implicit".
	TLS string
	// Timeout bounds one message's conversation with the server (default 30 s).
	Timeout time.Duration
	// TLSConfig is used for STARTTLS and implicit TLS (tests trust their own server with it);
	// nil: the system's roots, the server's host name.
	TLSConfig *tls.Config
}

// The TLS modes of SMTPOptions.TLS.
const (
	SMTPTLSRequire  = "require"
	SMTPTLSImplicit = "implicit"
)

// mailMessage is one message to one recipient.
type mailMessage struct {
	To      string // an address
	Subject string
	Body    string
	ID      string // the Message-ID's local part: the action run's key and recipient, hashed
}

// headerText keeps a header value on one line: a subject rendered from record data must not
// add headers.
func headerText(s string) string {
	return strings.Join(strings.Fields(strings.NewReplacer("\r", " ", "\n", " ").Replace(s)), " ")
}

// maxSubject is the most characters of a subject that are sent; a longer one is cut and ends
// with "…".
const maxSubject = 250

// subjectHeader is the Subject header of a subject: on one logical line, cut at maxSubject,
// encoded for headers when it is not plain ASCII, and folded at spaces so that no line is
// longer than 78 characters where a space allows (a cut subject is encoded, so its words are
// short: no line comes near the 998 characters RFC 5322 allows).
func subjectHeader(subject string) string {
	s := headerText(subject)
	if utf8.RuneCountInString(s) > maxSubject {
		s = string([]rune(s)[:maxSubject-1]) + "…"
	}
	return fold("Subject: ", mime.QEncoding.Encode("utf-8", s))
}

// fold writes a header, name and value, breaking the value's line before a word that would
// take it past 78 characters.
func fold(name, value string) string {
	var b strings.Builder
	b.WriteString(name)
	line := len(name)
	for i, w := range strings.Split(value, " ") {
		if i > 0 {
			if line+1+len(w) > 78 {
				b.WriteString("\r\n ")
				line = 1
			} else {
				b.WriteByte(' ')
				line++
			}
		}
		b.WriteString(w)
		line += len(w)
	}
	return b.String()
}

// compose writes the message: UTF-8 text, quoted-printable, the subject encoded for headers.
func (o SMTPOptions) compose(m mailMessage, now time.Time) ([]byte, error) {
	from, err := mail.ParseAddress(o.From)
	if err != nil {
		return nil, fmt.Errorf("smtp from: %w", err)
	}
	host := "tracecraft"
	if _, h, ok := strings.Cut(from.Address, "@"); ok {
		host = h
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: %s\r\n", from.String())
	fmt.Fprintf(&b, "To: %s\r\n", (&mail.Address{Address: m.To}).String())
	b.WriteString(subjectHeader(m.Subject) + "\r\n")
	fmt.Fprintf(&b, "Date: %s\r\n", now.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s@%s>\r\n", m.ID, host)
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
	w := quotedprintable.NewWriter(&b)
	if _, err := w.Write([]byte(strings.ReplaceAll(m.Body, "\n", "\r\n"))); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	b.WriteString("\r\n")
	return b.Bytes(), nil
}

// messageID is the Message-ID local part of a message keyed by key to user.
func messageID(key, user string) string {
	h := sha256.Sum256([]byte(key + "\x00" + user))
	return hex.EncodeToString(h[:12])
}

// mailer is one connection to the mail server, kept for the messages of one action run.
type mailer struct {
	o      SMTPOptions
	from   string
	conn   net.Conn
	c      *smtp.Client
	broken bool // the connection cannot take another message
}

// dial connects to the server (TLS from the start when TLS is implicit), upgrades with
// STARTTLS when the server offers it (and fails when TLS is "require" and it does not), and
// logs in when a user is set.
func (o SMTPOptions) dial(ctx context.Context) (*mailer, error) {
	if o.Addr == "" {
		return nil, errors.New("email: no SMTP server is configured")
	}
	from, err := mail.ParseAddress(o.From)
	if err != nil {
		return nil, fmt.Errorf("email: smtp from: %w", err)
	}
	host, _, _ := net.SplitHostPort(o.Addr)
	cfg := o.TLSConfig
	if cfg == nil {
		cfg = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	dctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(dctx, "tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("email: smtp server unreachable: %w", err)
	}
	_ = conn.SetDeadline(time.Now().Add(o.Timeout))
	if o.TLS == SMTPTLSImplicit {
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(dctx); err != nil {
			_ = conn.Close()
			return nil, fmt.Errorf("email: smtp tls: %w", err)
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("email: smtp: %w", err)
	}
	m := &mailer{o: o, from: from.Address, conn: conn, c: c}
	if ok, _ := c.Extension("STARTTLS"); ok && o.TLS != SMTPTLSImplicit {
		if err := c.StartTLS(cfg); err != nil {
			m.abandon()
			return nil, fmt.Errorf("email: starttls: %w", err)
		}
	} else if !ok && o.TLS == SMTPTLSRequire {
		m.abandon()
		return nil, errors.New("email: the mail server does not offer STARTTLS and TLS is required (TRACECRAFT_SMTP_TLS=require)")
	}
	if o.User != "" {
		if err := c.Auth(smtp.PlainAuth("", o.User, o.Password, host)); err != nil {
			m.abandon()
			return nil, fmt.Errorf("email: smtp login: %w", err)
		}
	}
	return m, nil
}

// send delivers one message over the connection. Once the server has accepted the message
// (its answer to the end of DATA) it is sent: nothing after that makes it an error. A failure
// before aborts the transaction (RSET), or marks the connection broken when that fails too.
func (m *mailer) send(msg mailMessage, now time.Time) error {
	data, err := m.o.compose(msg, now)
	if err != nil {
		return err
	}
	_ = m.conn.SetDeadline(time.Now().Add(m.o.Timeout))
	err = m.transact(msg.To, data)
	if err != nil && m.c.Reset() != nil {
		m.broken = true
	}
	return err
}

func (m *mailer) transact(to string, data []byte) error {
	if err := m.c.Mail(m.from); err != nil {
		return fmt.Errorf("email: smtp MAIL: %w", err)
	}
	if err := m.c.Rcpt(to); err != nil {
		return fmt.Errorf("email: smtp RCPT: %w", err)
	}
	w, err := m.c.Data()
	if err != nil {
		return fmt.Errorf("email: smtp DATA: %w", err)
	}
	if _, err := w.Write(data); err != nil {
		_ = w.Close()
		return fmt.Errorf("email: smtp DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("email: smtp DATA: %w", err)
	}
	return nil
}

// close says QUIT and closes the connection. Its error is only for the log: the messages the
// server accepted are sent.
func (m *mailer) close() error {
	_ = m.conn.SetDeadline(time.Now().Add(m.o.Timeout))
	err := m.c.Quit()
	_ = m.c.Close()
	if err != nil {
		return fmt.Errorf("email: smtp QUIT: %w", err)
	}
	return nil
}

// abandon closes the connection without a word.
func (m *mailer) abandon() { _ = m.c.Close() }

// send delivers one message on a connection of its own.
func (o SMTPOptions) send(ctx context.Context, msg mailMessage, now time.Time) error {
	m, err := o.dial(ctx)
	if err != nil {
		return err
	}
	if err := m.send(msg, now); err != nil {
		m.abandon()
		return err
	}
	_ = m.close() // sent: a failed QUIT changes nothing
	return nil
}

// Check tells whether the options can send mail: none at all (no Addr) is fine; an Addr
// needs host:port and a From address.
func (o SMTPOptions) Check() error {
	if o.Addr == "" {
		if o.From != "" {
			return errors.New("a sender without a mail server")
		}
		return nil
	}
	if _, _, err := net.SplitHostPort(o.Addr); err != nil {
		return fmt.Errorf("mail server %q: %w", o.Addr, err)
	}
	if _, err := mail.ParseAddress(o.From); err != nil {
		return fmt.Errorf("sender %q: %w", o.From, err)
	}
	switch o.TLS {
	case "", SMTPTLSRequire, SMTPTLSImplicit:
	default:
		return fmt.Errorf("mail server tls %q: want %q, %q or nothing", o.TLS, SMTPTLSRequire, SMTPTLSImplicit)
	}
	return nil
}
