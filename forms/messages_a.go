package forms

import "tracecraft/engine"

// Messages of the basic field types (text, number, money, date, datetime, time, choices,
// switch, location, rich text). The general codes they also use (required, wrong_type,
// too_long, not_allowed, one_of, too_small, too_big, too_few, too_many, pattern, unknown_field,
// invalid_format) are the kernel's; duplicate_value is in messages_b.go.
func init() {
	engine.RegisterMessages(map[string]engine.Text{
		"too_precise":      {ZH: "小数位数不能超过 {precision} 位", EN: "must have at most {precision} decimal places"},
		"invalid_number":   {ZH: "不是有效的数字：{value}", EN: "is not a valid number: {value}"},
		"invalid_date":     {ZH: "不是有效的日期：{value}（应为 YYYY-MM-DD）", EN: "is not a valid date: {value} (want YYYY-MM-DD)"},
		"invalid_datetime": {ZH: "不是有效的日期时间：{value}（应为 YYYY-MM-DD HH:MM 或 RFC 3339）", EN: "is not a valid date and time: {value} (want YYYY-MM-DD HH:MM or RFC 3339)"},
		"invalid_time":     {ZH: "不是有效的时间：{value}（应为 24 小时制 HH:MM）", EN: "is not a valid time: {value} (want 24-hour HH:MM)"},
		"invalid_bool":     {ZH: "应为“是”或“否”：{value}", EN: "must be yes or no (true or false): {value}"},
		"not_applicable":   {ZH: "不适用于 {type} 类型的字段", EN: "does not apply to a {type} field"},
	})
}
