package api

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"tracecraft/engine"
)

// ErrorBody is the JSON shape of every error response.
type ErrorBody struct {
	Error ErrorInfo `json:"error"`
}

// ErrorInfo says what went wrong: a stable code, a message in the caller's language, the bad
// fields for input errors, and for server errors an id that is also in the log.
type ErrorInfo struct {
	Code    string       `json:"code"`
	Message string       `json:"message"`
	Fields  []FieldIssue `json:"fields,omitempty"`
	ID      string       `json:"id,omitempty"`
}

// FieldIssue is one bad field of an input: Field is its path (for programs), Label its name as
// people know it (a record field's label, when the engine has one), Message says what is wrong
// naming the field by that label ("质检签名：必填"; without a label, just "必填").
type FieldIssue struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Label   string `json:"label,omitempty"`
	Message string `json:"message"`
}

func init() {
	engine.RegisterMessages(map[string]engine.Text{
		"http.invalid":           {ZH: "输入有误", EN: "invalid input"},
		"http.not_found":         {ZH: "未找到", EN: "not found"},
		"http.conflict":          {ZH: "数据已被他人修改或已存在，请刷新后重试", EN: "changed by someone else or already exists; reload and try again"},
		"http.unauthenticated":   {ZH: "请先登录", EN: "sign in first"},
		"http.forbidden":         {ZH: "没有权限", EN: "you are not allowed to do this"},
		"http.throttled":         {ZH: "尝试次数过多，请 {seconds} 秒后再试", EN: "too many attempts; try again in {seconds} s"},
		"http.too_large":         {ZH: "请求内容过大（上限 {limit}）", EN: "request body too large (limit {limit})"},
		"http.unsupported_media": {ZH: "请求须为 JSON（Content-Type: application/json）", EN: "request body must be JSON (Content-Type: application/json)"},
		"http.csrf":              {ZH: "缺少或错误的 CSRF 令牌（X-CSRF-Token）", EN: "missing or wrong CSRF token (X-CSRF-Token)"},
		"http.internal":          {ZH: "服务器内部错误，错误编号 {id}", EN: "internal server error, id {id}"},
		"http.method":            {ZH: "不支持的请求方法", EN: "method not allowed"},
		"http.content_encoding":  {ZH: "请求内容不能压缩（Content-Encoding）", EN: "request bodies must not be compressed (Content-Encoding)"},
		"http.busy":              {ZH: "服务器繁忙，请 {seconds} 秒后再试", EN: "the server is busy; try again in {seconds} s"},
		"http.timeout":           {ZH: "处理超时（上限 {seconds} 秒），请缩小范围后重试", EN: "the request took too long (limit {seconds} s); narrow it down and try again"},
		"http.shutting_down":     {ZH: "服务器正在停止，请稍后再试", EN: "the server is shutting down; try again shortly"},
		"http.client_gone":       {ZH: "客户端已断开", EN: "the client closed the connection"},
		"http.more_fields":       {ZH: "另有 {n} 处错误", EN: "{n} more"},
	})
}

// errContentEncoding: the request body is compressed; no route takes that.
var errContentEncoding = errors.New("compressed request body")

// errorHandler is the one place that maps errors to HTTP statuses and bodies.
func (s *Server) errorHandler(c *fiber.Ctx, err error) error {
	lang := langOf(c)
	status, info := http500, ErrorInfo{}
	var fe engine.FieldErrors
	isFE := errors.As(err, &fe)
	var te *engine.ThrottledError
	var be *engine.BusyError
	var fberr *fiber.Error
	switch {
	case isFE && fe.Fault() != nil:
		// Not the input's fault (the store failed while checking a field): a 500 below.
	case isFE:
		status, info.Code = fiber.StatusBadRequest, "invalid"
		labelled := true
		for _, f := range fe {
			info.Fields = append(info.Fields, FieldIssue{Field: f.Path, Code: f.Code, Label: f.Label.In(lang), Message: f.Sentence(lang)})
			labelled = labelled && f.Label != (engine.Text{})
		}
		switch {
		case labelled:
			info.Message = labelledSummary(lang, info.Fields)
		case len(info.Fields) == 1:
			info.Message = engine.Message(lang, "http.invalid", nil) + ": " + fieldLabel(info.Fields[0].Field) + info.Fields[0].Message
		default:
			info.Message = engine.Message(lang, "http.invalid", nil)
		}
	case errors.As(err, &te):
		status, info.Code = fiber.StatusTooManyRequests, "throttled"
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(te.RetryAfter))
		info.Message = engine.Message(lang, "http.throttled", map[string]any{"seconds": te.RetryAfter})
	case errors.As(err, &be):
		status, info.Code = fiber.StatusServiceUnavailable, "busy"
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(be.RetryAfter))
		info.Message = engine.Message(lang, "http.busy", map[string]any{"seconds": be.RetryAfter})
	case errors.Is(err, errContentEncoding):
		status, info.Code, info.Message = fiber.StatusUnsupportedMediaType, "unsupported_media_type", engine.Message(lang, "http.content_encoding", nil)
	case errors.Is(err, engine.ErrNotFound):
		status, info.Code, info.Message = fiber.StatusNotFound, "not_found", engine.Message(lang, "http.not_found", nil)
	case engine.IsConflict(err):
		status, info.Code, info.Message = fiber.StatusConflict, "conflict", engine.Message(lang, "http.conflict", nil)
	case errors.Is(err, engine.ErrUnauthenticated):
		status, info.Code, info.Message = fiber.StatusUnauthorized, "unauthenticated", engine.Message(lang, "http.unauthenticated", nil)
	case errors.Is(err, errCSRF):
		status, info.Code, info.Message = fiber.StatusForbidden, "csrf", engine.Message(lang, "http.csrf", nil)
	case errors.Is(err, engine.ErrForbidden):
		status, info.Code, info.Message = fiber.StatusForbidden, "forbidden", engine.Message(lang, "http.forbidden", nil)
	case errors.Is(err, engine.ErrInvalid):
		// Bad input not tied to a field: the error's text may name internals, so it goes to
		// the log only.
		status, info.Code, info.Message = fiber.StatusBadRequest, "invalid", engine.Message(lang, "http.invalid", nil)
		s.log.Info("invalid input", "method", c.Method(), "path", c.Path(), "err", err)
	case errors.As(err, &fberr):
		status = fberr.Code
		switch fberr.Code {
		case fiber.StatusRequestEntityTooLarge:
			info.Code, info.Message = "too_large", engine.Message(lang, "http.too_large", map[string]any{"limit": humanBytes(s.bodyLimitFor(c.Method(), c.Path()))})
		case fiber.StatusNotFound:
			info.Code, info.Message = "not_found", engine.Message(lang, "http.not_found", nil)
		case fiber.StatusMethodNotAllowed:
			info.Code, info.Message = "method_not_allowed", engine.Message(lang, "http.method", nil)
		case fiber.StatusUnsupportedMediaType:
			info.Code, info.Message = "unsupported_media_type", engine.Message(lang, "http.unsupported_media", nil)
		default:
			info.Code, info.Message = "http_error", fberr.Message
		}
	}
	// A sentinel with a code of its own says what happened and what to do.
	var ce *engine.CodedError
	if status != http500 && errors.As(err, &ce) {
		info.Code, info.Message = ce.Code, ce.Message(lang)
	}
	if status == http500 {
		// A request whose context ended failed because of that, not of a fault of ours.
		switch cause := ctxFailure(c); {
		case errors.Is(cause, errRequestTimeout):
			status, info.Code = fiber.StatusServiceUnavailable, "timeout"
			info.Message = engine.Message(lang, "http.timeout", map[string]any{"seconds": int(s.timeoutFor(c).Seconds())})
			s.log.Warn("request cancelled", "cause", cause, "method", c.Method(), "path", c.Path(), "err", err)
		case errors.Is(cause, errShuttingDown):
			status, info.Code = fiber.StatusServiceUnavailable, "shutting_down"
			c.Set(fiber.HeaderRetryAfter, "5")
			info.Message = engine.Message(lang, "http.shutting_down", nil)
			s.log.Warn("request cancelled", "cause", cause, "method", c.Method(), "path", c.Path(), "err", err)
		case errors.Is(cause, errClientGone):
			// Nobody reads this answer; the status is for the request log (nginx's 499).
			status, info.Code = statusClientGone, "client_gone"
			info.Message = engine.Message(lang, "http.client_gone", nil)
			s.log.Info("request cancelled", "cause", cause, "method", c.Method(), "path", c.Path(), "err", err)
		}
	}
	if status == http500 {
		info.Code = "internal"
		info.ID = newErrorID()
		info.Message = engine.Message(lang, "http.internal", map[string]any{"id": info.ID})
		s.log.Error("request failed", "error_id", info.ID, "method", c.Method(), "path", c.Path(), "err", err)
	}
	return c.Status(status).JSON(ErrorBody{Error: info})
}

const http500 = fiber.StatusInternalServerError

// statusClientGone is what the request log shows for requests whose client left.
const statusClientGone = 499

// timeoutFor is the Timeout of the route serving the request.
func (s *Server) timeoutFor(c *fiber.Ctx) time.Duration {
	if r := s.routeFor(c.Method(), c.Path()); r != nil {
		return r.Timeout
	}
	return defaultRouteTimeout
}

// labelledSummary is the message of field errors that all name their fields by label: their
// sentences, the first few of them ("质检签名：必填；数量：必填").
func labelledSummary(lang string, fields []FieldIssue) string {
	const shown = 3
	parts := make([]string, 0, shown)
	for i, f := range fields {
		if i == shown {
			parts = append(parts, engine.Message(lang, "http.more_fields", map[string]any{"n": len(fields) - shown}))
			break
		}
		parts = append(parts, f.Message)
	}
	if lang == engine.LangEN {
		return strings.Join(parts, "; ")
	}
	return strings.Join(parts, "；")
}

func fieldLabel(f string) string {
	if f == "" {
		return ""
	}
	return f + " "
}

func newErrorID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func humanBytes(n int) string {
	switch {
	case n >= 1<<20:
		return strconv.Itoa(n>>20) + " MiB"
	case n >= 1<<10:
		return strconv.Itoa(n>>10) + " KiB"
	}
	return strconv.Itoa(n) + " B"
}

// langOf picks the response language: ?lang=, then Accept-Language; zh-CN by default.
func langOf(c *fiber.Ctx) string {
	if l := c.Query("lang"); l != "" {
		return engine.PickLang(l)
	}
	return engine.PickLang(c.Get(fiber.HeaderAcceptLanguage))
}
