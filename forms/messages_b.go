package forms

import "tracecraft/engine"

// Messages of the reference, numbering, formula, scan, file and sub-table field types. The
// general codes (required, wrong_type, not_found, expr, invalid_format, …) are the kernel's.
func init() {
	engine.RegisterMessages(map[string]engine.Text{
		"invalid_pattern":  {ZH: "编号规则错误：{detail}", EN: "invalid pattern: {detail}"},
		"nested_subtable":  {ZH: "子表中不能再包含子表", EN: "a sub-table cannot contain another sub-table"},
		"invalid_gs1":      {ZH: "不是有效的 GS1 条码：{detail}", EN: "is not a valid GS1 code: {detail}"},
		"not_gs1":          {ZH: "须扫描 GS1 条码", EN: "must be a GS1 code"},
		"invalid_ai":       {ZH: "不是已知的 GS1 应用标识符：{value}", EN: "is not a known GS1 application identifier: {value}"},
		"file_too_large":   {ZH: "文件不能超过 {max}", EN: "file must be at most {max}"},
		"file_type":        {ZH: "不允许的文件类型：{type}", EN: "file type not allowed: {type}"},
		"too_many_files":   {ZH: "最多 {max} 个文件", EN: "at most {max} files"},
		"duplicate_value":  {ZH: "重复的值：{value}", EN: "duplicate value: {value}"},
		"too_few_rows":     {ZH: "至少需要 {min} 行", EN: "needs at least {min} rows"},
		"too_many_rows":    {ZH: "最多 {max} 行", EN: "at most {max} rows"},
		"option_range":     {ZH: "须在 {min} 到 {max} 之间", EN: "must be between {min} and {max}"},
		"not_number_field": {ZH: "须为数字或金额字段：{value}", EN: "must be a number or money field: {value}"},
		"generated_target": {ZH: "不能填入自动生成的字段：{value}", EN: "cannot fill the generated field {value}"},
	})
}
