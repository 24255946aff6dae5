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
)

// SMTPOptions say how the email action sends mail (tracecraft serve --smtp-addr host:port
// --smtp-from addr; the user and password from TRACECRAFT_SMTP_USER and
// TRACECRAFT_SMTP_PASSWORD). Without Addr there is no email action.
type SMTPOptions struct {
	// Addr is the server, host:port.
	Addr string
	// From is the sender's address ("Tracecraft <noreply@plant.example>").
	From string
	// User and Password, when User is set, log in with AUTH PLAIN — only over TLS (or to a
	// server on this machine), as net/smtp insists.
	User     string
	Password string
	// Timeout bounds one message's conversation with the server (default 30 s).
	Timeout time.Duration
	// TLSConfig is used for STARTTLS (tests trust their own server with it); nil: the system's
	// roots, the server's host name.
	TLSConfig *tls.Config
}

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
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", headerText(m.Subject)))
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

// send delivers one message: STARTTLS when the server offers it, AUTH when a user is set.
func (o SMTPOptions) send(ctx context.Context, m mailMessage, now time.Time) error {
	if o.Addr == "" {
		return errors.New("email: no SMTP server is configured")
	}
	msg, err := o.compose(m, now)
	if err != nil {
		return err
	}
	from, _ := mail.ParseAddress(o.From)
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", o.Addr)
	if err != nil {
		return fmt.Errorf("email: smtp server unreachable: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	host, _, _ := net.SplitHostPort(o.Addr)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return fmt.Errorf("email: smtp: %w", err)
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); ok {
		cfg := o.TLSConfig
		if cfg == nil {
			cfg = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		}
		if err := c.StartTLS(cfg); err != nil {
			return fmt.Errorf("email: starttls: %w", err)
		}
	}
	if o.User != "" {
		if err := c.Auth(smtp.PlainAuth("", o.User, o.Password, host)); err != nil {
			return fmt.Errorf("email: smtp login: %w", err)
		}
	}
	if err := c.Mail(from.Address); err != nil {
		return fmt.Errorf("email: smtp MAIL: %w", err)
	}
	if err := c.Rcpt(m.To); err != nil {
		return fmt.Errorf("email: smtp RCPT: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("email: smtp DATA: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("email: smtp DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("email: smtp DATA: %w", err)
	}
	return c.Quit()
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
	return nil
}
