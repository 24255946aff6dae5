package printing

import (
	"context"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // image elements may be GIF, JPEG or PNG
	_ "image/jpeg"
	_ "image/png"
	"io"
	"iter"
	"net"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"tracecraft/engine"
	"tracecraft/engine/store"
)

// Label printers: the printers an administrator configures (name, host, port, language,
// resolution, timeout), kept in the kernel's store as one audited document, and the sending of
// a job to one of them: a raw TCP connection to host:port (9100 on Zebra, TSC, Gprinter and
// HPRT printers alike), the job written, the connection closed.

// Printer is a configured label printer.
type Printer struct {
	// Name is how print requests and the print action name the printer ("仓库1号").
	Name string `json:"name" bson:"name"`
	// Host is the printer's IP address or DNS name, without port or scheme.
	Host string `json:"host" bson:"host"`
	// Port is the raw printing port; 9100 when 0.
	Port int `json:"port,omitempty" bson:"port"`
	// Language is LangZPL or LangTSPL.
	Language string `json:"language" bson:"language"`
	// DPI is the printer's resolution (203, 300 or 600); 203 when 0. It overrides the
	// template's: the printer decides how many dots a millimetre is.
	DPI int `json:"dpi,omitempty" bson:"dpi"`
	// Timeout bounds connecting, and each write of a job (how long the printer may stop
	// reading), in seconds; 10 when 0.
	Timeout int `json:"timeout,omitempty" bson:"timeout"`
}

// Defaults and limits of Printer.
const (
	DefaultPrinterPort    = 9100
	DefaultPrinterTimeout = 10 // seconds
	maxPrinterTimeout     = 300
	maxPrinters           = 100
	maxPrinterName        = 64
)

// printerDPIs are the resolutions label printers are made with.
var printerDPIs = []int{203, 300, 600}

// withDefaults fills the zero values.
func (p Printer) withDefaults() Printer {
	if p.Port == 0 {
		p.Port = DefaultPrinterPort
	}
	if p.DPI == 0 {
		p.DPI = DefaultDPI
	}
	if p.Timeout == 0 {
		p.Timeout = DefaultPrinterTimeout
	}
	return p
}

// Addr is host:port.
func (p Printer) Addr() string {
	return net.JoinHostPort(p.Host, strconv.Itoa(p.withDefaults().Port))
}

// PrinterList is the configured printers with the revision of their document.
type PrinterList struct {
	Printers []Printer `json:"printers" bson:"printers"`
	// Rev is the revision the list was read at; a change must name it (0: none stored yet).
	Rev int64 `json:"rev" bson:"_rev"`
}

// PrinterInfo is what any signed-in user may know of a printer: enough to choose it.
type PrinterInfo struct {
	Name     string `json:"name"`
	Language string `json:"language"`
	DPI      int    `json:"dpi"`
}

// hostLabel is one label of a DNS name (RFC 1123).
var hostLabel = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)

// validHost reports whether h is an IP address or a DNS name: no scheme, port, path or space.
func validHost(h string) bool {
	if net.ParseIP(h) != nil {
		return true
	}
	if len(h) == 0 || len(h) > 253 {
		return false
	}
	labels := strings.Split(strings.TrimSuffix(h, "."), ".")
	for _, l := range labels {
		if !hostLabel.MatchString(l) {
			return false
		}
	}
	// All digits and dots is an IPv4 address that did not parse ("10.0.0.256"), not a name.
	return strings.Trim(h, "0123456789.") != ""
}

// Validate checks the list and names each mistake's field ("printers.2.host").
func (l *PrinterList) Validate() error {
	var fe engine.FieldErrors
	if len(l.Printers) > maxPrinters {
		fe.Add("printers", "too_many", map[string]any{"max": maxPrinters})
	}
	seen := map[string]int{}
	for i := range l.Printers {
		p := &l.Printers[i]
		at := func(f string) string { return fmt.Sprintf("printers.%d.%s", i, f) }
		p.Name, p.Host = strings.TrimSpace(p.Name), strings.TrimSpace(p.Host)
		p.Language = strings.ToLower(strings.TrimSpace(p.Language))
		switch {
		case p.Name == "":
			fe.Add(at("name"), "required", nil)
		case utf8.RuneCountInString(p.Name) > maxPrinterName:
			fe.Add(at("name"), "too_long", map[string]any{"max": maxPrinterName})
		case strings.ContainsFunc(p.Name, func(r rune) bool { return r < 0x20 || r == 0x7f }):
			fe.Add(at("name"), "invalid_format", map[string]any{"detail": "control character"})
		default:
			k := strings.ToLower(p.Name)
			if _, dup := seen[k]; dup {
				fe.Add(at("name"), "exists", nil)
			}
			seen[k] = i
		}
		switch {
		case p.Host == "":
			fe.Add(at("host"), "required", nil)
		case !validHost(p.Host):
			fe.Add(at("host"), "printing.bad_host", map[string]any{"value": p.Host})
		}
		if p.Port < 0 {
			fe.Add(at("port"), "too_small", map[string]any{"min": 1})
		} else if p.Port > 65535 {
			fe.Add(at("port"), "too_big", map[string]any{"max": 65535})
		}
		if _, ok := labelLanguages[p.Language]; !ok {
			fe.Add(at("language"), "one_of", map[string]any{"values": strings.Join(LabelLanguages(), ", ")})
		}
		if p.DPI != 0 && !slices.Contains(printerDPIs, p.DPI) {
			fe.Add(at("dpi"), "one_of", map[string]any{"values": "203, 300, 600"})
		}
		if p.Timeout < 0 {
			fe.Add(at("timeout"), "too_small", map[string]any{"min": 1})
		} else if p.Timeout > maxPrinterTimeout {
			fe.Add(at("timeout"), "too_big", map[string]any{"max": maxPrinterTimeout})
		}
	}
	return fe.Err()
}

func init() {
	engine.RegisterMessages(map[string]engine.Text{
		"printing.bad_host": {ZH: "不是有效的主机名或 IP 地址：{value}（不含端口和 http://）",
			EN: "is not a valid host name or IP address: {value} (no port, no http://)"},
		"error.printer_unreachable": {ZH: "打印机 {name} 无法连接：{detail}",
			EN: "printer {name} cannot be reached: {detail}"},
		"error.printer_failed": {ZH: "打印机 {name} 未能收完打印任务：{detail}",
			EN: "printer {name} did not take the whole job: {detail}"},
		"error.label_unprintable": {ZH: "模板无法在标签打印机上打印：{detail}",
			EN: "the template cannot be printed on a label printer: {detail}"},
	})
}

// printersCollection holds the one document of configured printers.
const (
	printersCollection = "printing_printers"
	printersID         = "printers"
)

// PrinterOptions configure a PrinterSet.
type PrinterOptions struct {
	// ReadFile reads an image element's file as p may (the form engine's download); nil:
	// images print nothing, as on the PDF.
	ReadFile func(ctx context.Context, p *engine.Principal, app, id string) ([]byte, error)
	// TempDir is where a job is written before it is sent (os.TempDir() when "").
	TempDir string
}

// PrinterSet is the configured label printers: administrators change them, print jobs go to
// them. It is the printing engine's Printers.
type PrinterSet struct {
	k    *engine.Kernel
	opts PrinterOptions
}

var _ Printers = (*PrinterSet)(nil)

// NewPrinterSet makes the printer set on the kernel's store.
func NewPrinterSet(k *engine.Kernel, opts PrinterOptions) *PrinterSet {
	return &PrinterSet{k: k, opts: opts}
}

func (s *PrinterSet) read(ctx context.Context) (PrinterList, error) {
	var l PrinterList
	err := s.k.Store.Get(ctx, printersCollection, printersID, &l)
	if errors.Is(err, store.ErrNotFound) {
		return PrinterList{Printers: []Printer{}}, nil
	}
	if err != nil {
		return PrinterList{}, fmt.Errorf("read printers: %w", err)
	}
	if l.Printers == nil {
		l.Printers = []Printer{}
	}
	return l, nil
}

// List returns the configured printers; p must be a system administrator.
func (s *PrinterSet) List(ctx context.Context, p *engine.Principal) (PrinterList, error) {
	if err := s.k.Auth.Require(ctx, p, "", engine.PermSystemAdmin); err != nil {
		return PrinterList{}, fmt.Errorf("list printers: %w", err)
	}
	return s.read(ctx)
}

// Infos lists the printers' names, languages and resolutions, for anyone signed in to choose
// one; hosts stay with administrators.
func (s *PrinterSet) Infos(ctx context.Context, p *engine.Principal) ([]PrinterInfo, error) {
	if p == nil {
		return nil, engine.ErrUnauthenticated
	}
	l, err := s.read(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]PrinterInfo, 0, len(l.Printers))
	for _, pr := range l.Printers {
		pr = pr.withDefaults()
		out = append(out, PrinterInfo{Name: pr.Name, Language: pr.Language, DPI: pr.DPI})
	}
	return out, nil
}

// Put replaces the configured printers with in, based on revision in.Rev (0 for the first
// list); p must be a system administrator. The change is audited ("printers.update", the
// lists before and after). It returns the list as stored.
func (s *PrinterSet) Put(ctx context.Context, p *engine.Principal, in PrinterList) (PrinterList, error) {
	if err := s.k.Auth.Require(ctx, p, "", engine.PermSystemAdmin); err != nil {
		return PrinterList{}, fmt.Errorf("put printers: %w", err)
	}
	if in.Printers == nil {
		in.Printers = []Printer{}
	}
	if err := in.Validate(); err != nil {
		return PrinterList{}, err
	}
	before, err := s.read(ctx)
	if err != nil {
		return PrinterList{}, err
	}
	if before.Rev != in.Rev {
		// Refused before its audit entry in the common case; a race is refused by the store.
		return PrinterList{}, fmt.Errorf("put printers: revision %d, stored %d; reload them: %w", in.Rev, before.Rev, engine.ErrConflict)
	}
	actor, ip := "", ""
	if p != nil {
		actor, ip = p.Username, p.IP
	}
	doc := struct {
		Printers []Printer `bson:"printers"`
	}{in.Printers}
	w := engine.Write{Coll: printersCollection, ID: printersID, Rev: in.Rev + 1,
		Entry: engine.AuditEntry{Actor: actor, IP: ip, Action: "printers.update", Kind: "printers", Target: printersID,
			Before: before.Printers, After: in.Printers}}
	_, err = s.k.Commit(ctx, w, func(ctx context.Context, journal func(context.Context) error) error {
		if in.Rev == 0 {
			err := s.k.Store.CreateWith(ctx, printersCollection, printersID, doc, journal)
			if errors.Is(err, store.ErrDuplicate) {
				return fmt.Errorf("printers were changed meanwhile; reload them: %w (%w)", engine.ErrConflict, err)
			}
			return err
		}
		_, err := s.k.Store.UpdateWith(ctx, printersCollection, printersID, in.Rev, doc, journal)
		return err
	})
	if err != nil {
		return PrinterList{}, fmt.Errorf("put printers: %w", err)
	}
	return PrinterList{Printers: in.Printers, Rev: in.Rev + 1}, nil
}

// Printer returns the configured printer named name (names compare without case).
func (s *PrinterSet) Printer(ctx context.Context, name string) (Printer, error) {
	l, err := s.read(ctx)
	if err != nil {
		return Printer{}, err
	}
	for _, pr := range l.Printers {
		if strings.EqualFold(pr.Name, strings.TrimSpace(name)) {
			return pr.withDefaults(), nil
		}
	}
	if len(l.Printers) == 0 {
		return Printer{}, engine.Coded(engine.ErrNotFound, "print_no_printer", nil)
	}
	return Printer{}, engine.Invalid("printer", "not_found", map[string]any{"value": name})
}

// Print writes def's labels for pages in the printer's language and sends them to it. The
// whole job is written (to a temporary file) before the printer is dialled: a template error
// or an unreadable record prints nothing rather than half a job. The result says how much of
// the job the printer took, also when sending fails partway (with the error).
func (s *PrinterSet) Print(ctx context.Context, p *engine.Principal, app, printer string, def *Definition, pages iter.Seq2[*PageData, error], po PrintOptions) (PrintResult, error) {
	pr, err := s.Printer(ctx, printer)
	if err != nil {
		return PrintResult{}, err
	}
	f, err := os.CreateTemp(s.opts.TempDir, "label-job-*."+pr.Language)
	if err != nil {
		return PrintResult{}, fmt.Errorf("print to %s: %w", pr.Name, err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	lang := po.Lang
	if lang == "" {
		lang = engine.LangDefault
	}
	opt := LabelOptions{DPI: pr.DPI, Lang: lang}
	decoded := func(read func() ([]byte, error)) (image.Image, error) {
		b, err := read()
		if err != nil {
			return nil, err
		}
		img, _, err := decodeImage(b)
		if err != nil {
			// The layout names the element; ErrLabel makes it label_unprintable.
			return nil, fmt.Errorf("%v: %w", err, ErrLabel)
		}
		return img, nil
	}
	if s.opts.ReadFile != nil {
		opt.Images = func(ctx context.Context, id string) (image.Image, error) {
			return decoded(func() ([]byte, error) { return s.opts.ReadFile(ctx, p, app, id) })
		}
	}
	if po.StaticImage != nil {
		opt.StaticImages = func(ctx context.Context, id string) (image.Image, error) {
			return decoded(func() ([]byte, error) { return po.StaticImage(ctx, id) })
		}
	}
	var res PrintResult
	var ends []int64 // where each page's labels end in the job
	labelEnds := []int64{}
	n, err := writeLabels(ctx, f, pr.Language, def, pages, opt, func(labels int, end int64) {
		ends = append(ends, end)
		for range labels {
			labelEnds = append(labelEnds, end)
		}
	})
	res.Labels, res.Pages = n, len(ends)
	if errors.Is(err, ErrLabel) {
		return PrintResult{}, engine.Coded(engine.ErrInvalid, "label_unprintable", map[string]any{"detail": strings.TrimSuffix(err.Error(), ": "+ErrLabel.Error())})
	}
	if err != nil {
		return PrintResult{}, fmt.Errorf("print to %s: %w", pr.Name, err)
	}
	if po.Written != nil {
		po.Written()
	}
	if n == 0 {
		return res, nil
	}
	if res.Bytes, err = f.Seek(0, io.SeekEnd); err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		return PrintResult{}, fmt.Errorf("print to %s: %w", pr.Name, err)
	}
	// Once the printer takes the job it goes to the end, or until the printer stops reading
	// for its timeout: the request's end or deadline does not cut a job (and a label) short.
	res.BytesSent, err = SendCounted(context.WithoutCancel(ctx), pr, f)
	// A page counts as sent when the bytes of all its labels went out; so does a label.
	for _, e := range ends {
		if e <= res.BytesSent {
			res.PagesSent++
		}
	}
	for _, e := range labelEnds {
		if e <= res.BytesSent {
			res.Sent++
		}
	}
	return res, err
}

// Send opens a TCP connection to the printer, writes job and closes the connection; see
// SendCounted.
func Send(ctx context.Context, pr Printer, job io.Reader) error {
	_, err := SendCounted(ctx, pr, job)
	return err
}

// sendChunk is how much of a job one write gives the printer.
const sendChunk = 32 << 10

// SendCounted opens a TCP connection to the printer, writes job and closes the connection,
// and returns how many bytes the connection took. The printer's timeout bounds connecting and
// each write: a printer takes a large job as fast as it prints, so a job may take as long as
// it needs while the printer keeps reading, and fails once it stops reading for the timeout.
// ctx's end closes the connection. A printer that cannot be reached, or stops reading, is a
// conflict with a message that names it ("打印机 仓库1号 无法连接: …").
func SendCounted(ctx context.Context, pr Printer, job io.Reader) (int64, error) {
	pr = pr.withDefaults()
	timeout := time.Duration(pr.Timeout) * time.Second
	dialCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(dialCtx, "tcp", pr.Addr())
	if err != nil {
		return 0, engine.Coded(engine.ErrConflict, "printer_unreachable", map[string]any{"name": pr.Name, "detail": netDetail(err)})
	}
	defer conn.Close()
	// A cancelled request closes the connection, which ends a blocked write at once.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	failed := func(err error) error {
		if ctx.Err() != nil {
			err = ctx.Err() // the request's end closed the connection
		}
		return engine.Coded(engine.ErrConflict, "printer_failed", map[string]any{"name": pr.Name, "detail": netDetail(err)})
	}
	var sent int64
	buf := make([]byte, sendChunk)
	for {
		n, rerr := job.Read(buf)
		if n > 0 {
			if err := conn.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
				return sent, failed(err)
			}
			w, err := conn.Write(buf[:n])
			sent += int64(w)
			if err != nil {
				return sent, failed(err)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return sent, fmt.Errorf("print to %s: %w", pr.Name, rerr)
		}
	}
	if err := conn.Close(); err != nil {
		return sent, failed(err)
	}
	return sent, nil
}

// netDetail says in a few words what went wrong on the network.
func netDetail(err error) string {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err.Error()
	}
	return err.Error()
}
