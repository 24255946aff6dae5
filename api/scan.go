package api

import (
	"errors"
	"html/template"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"tracecraft/engine"
	"tracecraft/gs1"
	"tracecraft/printing"
)

// The public scan pages: what a consumer's phone opens from an item code's QR — /t/{serial}
// and the GS1 Digital Link paths /01/{gtin}/21/{serial} and /01/{gtin}/10/{lot}/21/{serial}.
// A light page rendered here (no web app, no script), zh-CN unless the browser asks for
// English; ?format=json or Accept: application/json gives the same facts as JSON (every answer
// varies by Accept and Accept-Language). No sign-in; each client (an IPv4 address, an IPv6
// /64) may load ScanRate pages a minute and send 5 complaints; the page's form gets its
// refusals as pages too. A Digital Link is checked against its code before the code is
// counted. Every value is escaped by html/template. Routes are matched before the web app's
// fallback (home.go), so these paths never reach it.

// scanComplaintRate is how many complaints one client address may send a minute.
const scanComplaintRate = 5

// ScanPageJSON is the JSON variant of a scan page.
type ScanPageJSON struct {
	Genuine bool               `json:"genuine"`
	Page    *printing.ScanPage `json:"page,omitempty"`
}

// ComplaintReceipt answers a complaint sent from a scan page.
type ComplaintReceipt struct {
	ID string `json:"id"`
}

func (s *Server) scanRoutes() []Route {
	cs := s.codes
	if cs == nil {
		return nil
	}
	rate := s.opts.ScanRate
	if rate <= 0 {
		rate = 60
	}
	s.scanLimits = newRateLimiter(rate, time.Minute)
	s.complaintLimits = newRateLimiter(scanComplaintRate, time.Minute)
	query := []Param{{Name: "format", Description: "json: the page's facts as JSON (as Accept: application/json)"},
		{Name: "lang", Description: "zh-CN or en (else Accept-Language)"}}
	page := func(summary, path string) Route {
		return Route{Method: "GET", Path: path, Tag: "scan", Public: true, Summary: summary, Query: query, Out: ScanPageJSON{},
			Handle: s.scanPage}
	}
	return []Route{
		page("The public page of an item code (HTML for phones; JSON with ?format=json): the product's and lot's public facts, the lot's history, a recall banner, how often the code was looked up; 404 for a code that is not genuine", "/t/:serial"),
		page("The item code's GS1 Digital Link (GTIN and serial): the same page as /t/{serial}", "/01/:gtin/21/:serial"),
		page("The item code's GS1 Digital Link (GTIN, lot and serial; ?17=YYMMDD checked): the same page as /t/{serial}", "/01/:gtin/10/:lot/21/:serial"),
		{Method: "POST", Path: "/t/:serial/complaint", Tag: "scan", Public: true, In: printing.ComplaintInput{}, Out: ComplaintReceipt{}, Status: fiber.StatusCreated,
			Summary: "A consumer's complaint about a scanned product (JSON, or the page's form); kept for the app's designers (GET …/code-complaints)",
			Body:    16 << 10,
			Handle:  s.scanComplaint},
	}
}

// wantsJSON tells whether the client asked for the JSON variant.
func wantsJSON(c *fiber.Ctx) bool {
	if f := c.Query("format"); f != "" {
		return strings.EqualFold(f, "json")
	}
	a := c.Get(fiber.HeaderAccept)
	return strings.Contains(a, fiber.MIMEApplicationJSON) && !strings.Contains(a, "text/html")
}

// scanVary: the same address answers HTML or JSON, in Chinese or English.
const scanVary = "Accept, Accept-Language"

func (s *Server) scanPage(c *fiber.Ctx, _ *engine.Principal) error {
	lang := langOf(c)
	c.Set(fiber.HeaderVary, scanVary)
	if !s.scanLimits.allow(s.clientIP(c)) {
		return s.scanRefused(c, lang, "", &engine.ThrottledError{RetryAfter: 60})
	}
	serial := strings.Clone(c.Params("serial"))
	v := printing.Visit{IP: s.clientIP(c), UserAgent: string(c.Request().Header.UserAgent()), Lang: lang}
	if c.Params("gtin") != "" {
		// A Digital Link: its GTIN, lot and expiry must be the code's own, judged before the
		// code is counted (a forged link to a real serial is no scan of it).
		l, err := s.itemLink(c)
		if err != nil {
			return s.notGenuine(c, lang)
		}
		v.Want = &printing.LinkFacts{GTIN: l.GTIN, Lot: l.Lot}
		if !l.Expiry.IsZero() {
			v.Want.Expiry = l.Expiry.Format("2006-01-02")
		}
	} else if serial == "" {
		return s.notGenuine(c, lang)
	}
	pg, err := s.codes.Scan(c.UserContext(), serial, v)
	if errors.Is(err, engine.ErrNotFound) {
		return s.notGenuine(c, lang)
	}
	if err != nil {
		return s.scanRefused(c, lang, "", err)
	}
	// Each look-up is counted: no cache may answer for the server.
	c.Set(fiber.HeaderCacheControl, "no-store")
	if wantsJSON(c) {
		return c.JSON(ScanPageJSON{Genuine: true, Page: pg})
	}
	return s.renderScan(c, lang, fiber.StatusOK, pg)
}

// itemLink parses a Digital Link path as GS1 parses an item's link (gs1.ParseItemLink), with
// its query: a malformed link, an unknown AI, a bad date attribute or a serial that differs
// from the path's is no code of ours.
func (s *Server) itemLink(c *fiber.Ctx) (*gs1.ItemLink, error) {
	return gs1.ParseItemLink("https://scan" + string(c.Request().RequestURI()))
}

func (s *Server) notGenuine(c *fiber.Ctx, lang string) error {
	c.Set(fiber.HeaderCacheControl, "public, max-age=60")
	if wantsJSON(c) {
		return printing.ErrNotGenuine
	}
	return s.renderScan(c, lang, fiber.StatusNotFound, nil)
}

// scanRefused answers a scan page's (or its form's) request that was not served: as the
// error's JSON to a JSON client, else as a page that says why with the error's status — the
// page's form posts without script, so its answer is a page too. A configuration error of
// the code service is 503 "unavailable", never "not genuine".
func (s *Server) scanRefused(c *fiber.Ctx, lang, serial string, err error) error {
	if wantsJSON(c) {
		return err
	}
	var fe engine.FieldErrors
	var te *engine.ThrottledError
	v := scanView{Lang: lang, Notice: true, NoticeTitle: scanMsg(lang, "refused_title")}
	if serialLike(serial) {
		v.Serial = serial // the way back to the product's page
	}
	status := fiber.StatusBadRequest
	switch {
	case errors.Is(err, printing.ErrCodeKeyChanged):
		status, v.NoticeTitle, v.NoticeText = fiber.StatusServiceUnavailable, scanMsg(lang, "unavailable_title"), scanMsg(lang, "unavailable_text")
		c.Set(fiber.HeaderRetryAfter, "600")
		s.log.Error("scan page: the item code service is misconfigured", "path", c.Path(), "err", err)
	case errors.As(err, &te):
		status, v.NoticeText = fiber.StatusTooManyRequests, scanMsg(lang, "throttled")
		if errors.Is(err, printing.ErrComplaintLimit) {
			v.NoticeText = printing.ErrComplaintLimit.Message(lang)
		}
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(te.RetryAfter))
	case errors.As(err, &fe) && fe.Fault() == nil:
		for _, f := range fe {
			v.NoticeText += scanMsg(lang, "field_"+f.Path) + engine.Message(lang, f.Code, f.Params) + "。"
		}
	default:
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return s.renderScanView(c, status, v)
}

// serialLike tells whether s looks like a serial (12 letters and digits, hyphens allowed), so
// that a page may link back to it.
func serialLike(s string) bool {
	if s == "" || len(s) > 24 {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r == '-') {
			return false
		}
	}
	return true
}

func (s *Server) scanComplaint(c *fiber.Ctx, _ *engine.Principal) error {
	lang := langOf(c)
	c.Set(fiber.HeaderVary, scanVary)
	isJSON := strings.HasPrefix(strings.ToLower(c.Get(fiber.HeaderContentType)), fiber.MIMEApplicationJSON)
	serial := strings.Clone(c.Params("serial"))
	refuse := func(err error) error {
		if isJSON {
			return err
		}
		return s.scanRefused(c, lang, serial, err)
	}
	if !s.complaintLimits.allow(s.clientIP(c)) {
		return refuse(&engine.ThrottledError{RetryAfter: 60})
	}
	var in printing.ComplaintInput
	if isJSON {
		if err := bind(c, &in); err != nil {
			return err
		}
	} else {
		in.Text, in.Contact = strings.Clone(c.FormValue("text")), strings.Clone(c.FormValue("contact"))
	}
	d, err := s.codes.Complain(c.UserContext(), serial, in, printing.Visit{IP: s.clientIP(c), Lang: lang})
	if errors.Is(err, engine.ErrNotFound) && !isJSON {
		return s.notGenuine(c, lang)
	}
	if err != nil {
		return refuse(err)
	}
	if isJSON {
		return c.Status(fiber.StatusCreated).JSON(ComplaintReceipt{ID: d.ID})
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return s.renderScanView(c, fiber.StatusCreated, scanView{Lang: lang, Thanks: true, Serial: d.Serial})
}

// scanView is what the page template is given.
type scanView struct {
	Lang      string
	Page      *printing.ScanPage
	Title     string
	Expiry    string
	FirstScan string
	Steps     []scanStep
	Thanks    bool
	Serial    string
	// Notice: a page that says why a request was not served (NoticeTitle, NoticeText).
	Notice      bool
	NoticeTitle string
	NoticeText  string
}

type scanStep struct {
	At, Label string
	Recall    bool
}

func (s *Server) renderScan(c *fiber.Ctx, lang string, status int, pg *printing.ScanPage) error {
	v := scanView{Lang: lang, Page: pg}
	if pg != nil {
		loc := s.k.Location()
		v.Serial, v.Expiry = pg.Serial, pg.Expiry
		v.FirstScan = pg.FirstScan.In(loc).Format("2006-01-02 15:04")
		for _, g := range pg.Product {
			if len(g.Facts) > 0 && v.Title == "" {
				v.Title = g.Facts[0].Value
			}
		}
		for _, st := range pg.Timeline {
			v.Steps = append(v.Steps, scanStep{At: st.At.In(loc).Format("2006-01-02 15:04"), Label: st.Label, Recall: st.Status == printing.RecalledStatus})
		}
	}
	return s.renderScanView(c, status, v)
}

func (s *Server) renderScanView(c *fiber.Ctx, status int, v scanView) error {
	var b strings.Builder
	if err := scanTemplate.Execute(&b, v); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Status(status).SendString(b.String())
}

// scanMsg renders a scan page message in lang.
func scanMsg(lang, code string, args ...any) string {
	var params map[string]any
	if len(args) > 0 {
		params = map[string]any{}
		for i := 0; i+1 < len(args); i += 2 {
			params[args[i].(string)] = args[i+1]
		}
	}
	return engine.Message(lang, "scan."+code, params)
}

var scanTemplate = template.Must(template.New("scan").Funcs(template.FuncMap{"t": scanMsg}).Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<meta name="robots" content="noindex"><meta name="theme-color" content="#0f766e"><link rel="icon" href="data:,">
<title>{{if .Page}}{{if .Title}}{{.Title}} · {{end}}{{t .Lang "title"}}{{else if .Thanks}}{{t .Lang "thanks_title"}}{{else if .Notice}}{{.NoticeTitle}}{{else}}{{t .Lang "not_genuine"}}{{end}}</title>
<style>
*{box-sizing:border-box}
body{margin:0;background:#f4f6f8;color:#1f2328;font:15px/1.55 system-ui,-apple-system,"PingFang SC","Hiragino Sans GB","Microsoft YaHei","Noto Sans CJK SC",sans-serif}
main{max-width:480px;margin:0 auto;padding:0 0 28px}
header{background:linear-gradient(135deg,#0f766e,#115e59);color:#fff;padding:22px 18px 46px}
header .brand{font-size:13px;opacity:.85;letter-spacing:.04em}
header h1{margin:6px 0 0;font-size:22px;font-weight:650;line-height:1.3;word-break:break-word}
.badge{display:inline-flex;align-items:center;gap:6px;margin-top:10px;background:rgba(255,255,255,.16);border-radius:999px;padding:3px 12px;font-size:13px}
.card{background:#fff;margin:12px 12px 0;border-radius:14px;padding:14px 16px;box-shadow:0 1px 2px rgba(16,24,40,.06)}
header+.card,header+.recall,header+.void{margin-top:-30px}
.card h2{margin:0 0 8px;font-size:14px;color:#57606a;font-weight:600}
dl{margin:0;display:grid;grid-template-columns:auto 1fr;gap:7px 14px}
dt{color:#6e7781;white-space:nowrap}dd{margin:0;text-align:right;word-break:break-word;font-weight:500}
.recall{background:#d92d20;color:#fff;margin:12px 12px 0;border-radius:14px;padding:14px 16px;box-shadow:0 2px 6px rgba(217,45,32,.35)}
.recall b{display:block;font-size:17px;margin-bottom:2px}
.void{background:#fff4e5;color:#8a4b00;border:1px solid #f5c26b;margin:12px 12px 0;border-radius:14px;padding:12px 16px}
.count{display:flex;gap:12px;align-items:center}
.count .n{font-size:30px;font-weight:700;color:#0f766e;min-width:2.2em;text-align:center}
.count.warn .n{color:#b54708}
.count p{margin:0}.count small{color:#6e7781}
ol.tl{list-style:none;margin:0;padding:0 0 0 4px}
ol.tl li{position:relative;padding:0 0 12px 20px;border-left:2px solid #d0d7de}
ol.tl li:last-child{border-left-color:transparent;padding-bottom:0}
ol.tl li:before{content:"";position:absolute;left:-7px;top:4px;width:12px;height:12px;border-radius:50%;background:#0f766e;border:2px solid #fff;box-shadow:0 0 0 1px #0f766e}
ol.tl li.r:before{background:#d92d20;box-shadow:0 0 0 1px #d92d20}
ol.tl time{display:block;color:#6e7781;font-size:13px}
details summary{cursor:pointer;color:#0f766e;font-weight:600;list-style:none}
details summary::-webkit-details-marker{display:none}
textarea,input{width:100%;font:inherit;border:1px solid #d0d7de;border-radius:10px;padding:9px 11px;margin-top:8px;background:#fff}
textarea{min-height:90px;resize:vertical}
button{margin-top:10px;width:100%;border:0;border-radius:10px;padding:11px;background:#0f766e;color:#fff;font:inherit;font-weight:600}
.ids{margin:14px 16px 0;color:#8c959f;font-size:12px;line-height:1.7;word-break:break-all}
.bad header{background:linear-gradient(135deg,#b42318,#912018)}
.center{text-align:center}
</style></head>
<body{{if not .Page}}{{if not .Thanks}}{{if not .Notice}} class="bad"{{end}}{{end}}{{end}}><main>
{{if .Page}}{{with .Page}}
<header><div class="brand">{{t $.Lang "brand"}}</div><h1>{{if $.Title}}{{$.Title}}{{else}}{{t $.Lang "title"}}{{end}}</h1>
<div class="badge">✓ {{t $.Lang "genuine"}}</div></header>
{{if .Recalled}}<div class="recall" role="alert"><b>⚠ {{t $.Lang "recall_title"}}</b>{{t $.Lang "recall_text"}}</div>{{else if .Void}}<div class="void" role="alert">{{t $.Lang "void_text"}}</div>{{end}}
<section class="card"><div class="count{{if gt .Scans 1}} warn{{end}}"><div class="n">{{.Scans}}</div><p>{{t $.Lang "count" "n" .Scans}}<br>{{t $.Lang "first_at" "first" $.FirstScan}}<br><small>{{if gt .Scans 1}}{{t $.Lang "count_warn"}}{{else}}{{t $.Lang "count_first"}}{{end}}</small></p></div></section>
{{range .Product}}<section class="card"><h2>{{.Title}}</h2><dl>{{range .Facts}}<dt>{{.Label}}</dt><dd>{{.Value}}</dd>{{end}}</dl></section>{{end}}
<section class="card"><h2>{{t $.Lang "lot_facts"}}</h2><dl>
<dt>{{t $.Lang "lot"}}</dt><dd>{{.Lot}}</dd>
{{if $.Expiry}}<dt>{{t $.Lang "expiry"}}</dt><dd>{{$.Expiry}}</dd>{{end}}
{{range .Facts}}{{if ne .Value $.Page.Lot}}<dt>{{.Label}}</dt><dd>{{.Value}}</dd>{{end}}{{end}}
</dl></section>
{{if $.Steps}}<section class="card"><h2>{{t $.Lang "timeline"}}</h2><ol class="tl">{{range $.Steps}}<li{{if .Recall}} class="r"{{end}}><time>{{.At}}</time>{{.Label}}</li>{{end}}</ol></section>{{end}}
<section class="card"><details><summary>{{t $.Lang "complain"}} ›</summary>
<form method="post" action="/t/{{.Serial}}/complaint">
<textarea name="text" maxlength="1000" required placeholder="{{t $.Lang "complain_hint"}}"></textarea>
<input name="contact" maxlength="100" placeholder="{{t $.Lang "contact_hint"}}">
<button type="submit">{{t $.Lang "send"}}</button></form></details></section>
<div class="ids">{{t $.Lang "serial"}} {{.Serial}} · GTIN {{.GTIN}}</div>
{{end}}{{else if .Thanks}}
<header><div class="brand">{{t .Lang "brand"}}</div><h1>{{t .Lang "thanks_title"}}</h1></header>
<section class="card"><p>{{t .Lang "thanks_text"}}</p><p class="center"><a href="/t/{{.Serial}}">{{t .Lang "back"}}</a></p></section>
{{else if .Notice}}
<header><div class="brand">{{t .Lang "brand"}}</div><h1>{{.NoticeTitle}}</h1></header>
<section class="card"><p>{{.NoticeText}}</p>{{if .Serial}}<p class="center"><a href="/t/{{.Serial}}">{{t .Lang "back"}}</a></p>{{end}}</section>
{{else}}
<header><div class="brand">{{t .Lang "brand"}}</div><h1>✕ {{t .Lang "not_genuine"}}</h1></header>
<section class="card"><p>{{t .Lang "not_genuine_text"}}</p></section>
{{end}}
</main></body></html>`))

func init() {
	engine.RegisterMessages(map[string]engine.Text{
		"scan.brand":             {ZH: "产品追溯 · 一物一码", EN: "Product trace · item code"},
		"scan.title":             {ZH: "产品信息", EN: "Product information"},
		"scan.genuine":           {ZH: "正品码 · 已验证", EN: "Genuine code · verified"},
		"scan.recall_title":      {ZH: "本产品已召回", EN: "This product has been recalled"},
		"scan.recall_text":       {ZH: "请立即停止食用，并联系购买处或生产企业退换。", EN: "Stop using it now and return it to the shop or the maker."},
		"scan.void_text":         {ZH: "此码已作废，请谨慎购买，并联系生产企业核实。", EN: "This code has been voided: check with the maker before you buy or use the product."},
		"scan.count":             {ZH: "您是第 {n} 次查询，", EN: "Look-up number {n};"},
		"scan.first_at":          {ZH: "首次查询于 {first}", EN: "first looked up on {first}"},
		"scan.count_first":       {ZH: "这是该码的首次查询。", EN: "First look-up of this code."},
		"scan.count_warn":        {ZH: "如果这不是您第一次扫码，请注意：该码可能已被他人查询过。", EN: "If this is not your first scan, this code has been looked up by someone else."},
		"scan.lot_facts":         {ZH: "批次信息", EN: "Lot"},
		"scan.lot":               {ZH: "批号", EN: "Lot"},
		"scan.expiry":            {ZH: "保质期至", EN: "Use by"},
		"scan.timeline":          {ZH: "溯源记录", EN: "History"},
		"scan.complain":          {ZH: "投诉与反馈", EN: "Complaint or feedback"},
		"scan.complain_hint":     {ZH: "请描述问题（最多 1000 字）", EN: "What is wrong? (up to 1000 characters)"},
		"scan.contact_hint":      {ZH: "联系方式（选填）", EN: "How to reach you (optional)"},
		"scan.send":              {ZH: "提交", EN: "Send"},
		"scan.serial":            {ZH: "序列号", EN: "Serial"},
		"scan.thanks_title":      {ZH: "已收到您的反馈", EN: "Thank you"},
		"scan.thanks_text":       {ZH: "我们会尽快处理。您的反馈与该产品的序列号一起保存。", EN: "We will look into it. Your report is kept with this product's serial."},
		"scan.back":              {ZH: "返回产品页", EN: "Back to the product"},
		"scan.not_genuine":       {ZH: "不是正品码", EN: "Not a genuine code"},
		"scan.refused_title":     {ZH: "未能提交", EN: "Not sent"},
		"scan.throttled":         {ZH: "操作太频繁，请一分钟后再试。", EN: "Too many requests: try again in a minute."},
		"scan.field_text":        {ZH: "问题描述", EN: "The report "},
		"scan.field_contact":     {ZH: "联系方式", EN: "The contact "},
		"scan.unavailable_title": {ZH: "暂时无法核验", EN: "Cannot check codes now"},
		"scan.unavailable_text":  {ZH: "一物一码服务配置有误，暂时无法核验此码。这并不表示产品是假冒的，请稍后再试或联系生产企业。", EN: "The code service is misconfigured and cannot check this code now. This does not mean the product is fake: try later or ask the maker."},
		"scan.not_genuine_text":  {ZH: "系统中没有这个码。请核对包装上的二维码，谨防假冒；如有疑问请联系生产企业。", EN: "No such code was issued. Check the code on the pack, beware of fakes, and ask the maker if in doubt."},
	})
}
