package engine

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Languages the product speaks; LangDefault is used when a request names none we know.
const (
	LangZH      = "zh-CN"
	LangEN      = "en"
	LangDefault = LangZH
)

// Text is a string in both languages, as stored in definitions (labels, help, options).
type Text struct {
	ZH string `json:"zh-CN,omitempty" bson:"zh-CN,omitempty"`
	EN string `json:"en,omitempty" bson:"en,omitempty"`
}

// In gives the text in lang, falling back to the other language.
func (t Text) In(lang string) string {
	if lang == LangEN && t.EN != "" || t.ZH == "" {
		return t.EN
	}
	return t.ZH
}

var (
	catalogMu sync.RWMutex
	catalog   = map[string]Text{}
)

// RegisterMessages adds message templates to the catalogue; engines call it from init. A
// template names its parameters in braces: "must be at most {max} characters". Registering a
// code twice is a programmer error and panics.
func RegisterMessages(msgs map[string]Text) {
	catalogMu.Lock()
	defer catalogMu.Unlock()
	for code, t := range msgs {
		if _, dup := catalog[code]; dup {
			panic("engine: message " + code + " registered twice")
		}
		if t.ZH == "" || t.EN == "" {
			panic("engine: message " + code + " needs zh-CN and en")
		}
		catalog[code] = t
	}
}

// Message renders message code in lang with params. An unknown code renders as the code itself
// followed by its parameters, so nothing is ever silently blank.
func Message(lang, code string, params map[string]any) string {
	catalogMu.RLock()
	t, ok := catalog[code]
	catalogMu.RUnlock()
	if !ok {
		if len(params) == 0 {
			return code
		}
		keys := make([]string, 0, len(params))
		for k := range params {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		b.WriteString(code)
		for _, k := range keys {
			fmt.Fprintf(&b, " %s=%v", k, params[k])
		}
		return b.String()
	}
	s := t.In(lang)
	for k, v := range params {
		s = strings.ReplaceAll(s, "{"+k+"}", fmt.Sprint(v))
	}
	return s
}

// PickLang chooses zh-CN or en from an Accept-Language header (or a plain language tag).
func PickLang(accept string) string {
	for _, part := range strings.Split(accept, ",") {
		tag := strings.ToLower(strings.TrimSpace(strings.SplitN(part, ";", 2)[0]))
		switch {
		case strings.HasPrefix(tag, "zh"):
			return LangZH
		case strings.HasPrefix(tag, "en"):
			return LangEN
		}
	}
	return LangDefault
}

func init() {
	RegisterMessages(map[string]Text{
		"required":       {ZH: "必填", EN: "is required"},
		"invalid_json":   {ZH: "不是有效的 JSON：{detail}", EN: "is not valid JSON: {detail}"},
		"unknown_field":  {ZH: "未知字段", EN: "is not a known field"},
		"wrong_type":     {ZH: "类型错误，应为 {want}", EN: "has the wrong type; want {want}"},
		"too_long":       {ZH: "长度不能超过 {max}", EN: "must be at most {max} characters"},
		"too_short":      {ZH: "长度不能少于 {min}", EN: "must be at least {min} characters"},
		"invalid_format": {ZH: "格式不正确：{detail}", EN: "has an invalid format: {detail}"},
		"not_allowed":    {ZH: "不允许的值：{value}", EN: "value not allowed: {value}"},
		"exists":         {ZH: "已存在", EN: "already exists"},
		"not_found":      {ZH: "不存在：{value}", EN: "does not exist: {value}"},
		"weak_password":  {ZH: "密码至少 {min} 位，且须包含字母和数字", EN: "must be at least {min} characters with letters and digits"},
		"expr":           {ZH: "表达式错误：{detail}", EN: "expression error: {detail}"},
	})
}
