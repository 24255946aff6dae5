import { describe, expect, it } from 'vitest'
import {
  STATUS, clean, conditionsToExpr, exprToConditions, exprToTemplate, freeKey, maskSecrets, newRule, problemsAt,
  templateToExpr, toProblems, unplaced, type Conditions,
} from './model'

describe('condition rows ⇄ expression', () => {
  const cases: [string, Conditions, string][] = [
    ['a number', { join: 'and', rows: [{ field: 'qty', op: '>', value: 1000 }] }, 'record.qty > 1000'],
    ['text quoted, all', { join: 'and', rows: [{ field: 'material', op: '==', value: '白砂糖 "一级"' }, { field: 'qty', op: '<=', value: -2.5 }] },
      'record.material == "白砂糖 \\"一级\\"" && record.qty <= -2.5'],
    ['any, status and a switch', { join: 'or', rows: [{ field: STATUS, op: '!=', value: 'released' }, { field: 'cold', op: '==', value: true }] },
      'status != "released" || record.cold == true'],
    ['contains and empty', { join: 'and', rows: [{ field: 'note', op: 'contains', value: '破损' }, { field: 'expiry', op: 'empty' }, { field: 'gtin', op: 'notEmpty' }] },
      'record.note contains "破损" && coalesce(record.expiry, "") == "" && coalesce(record.gtin, "") != ""'],
    ['none', { join: 'and', rows: [] }, ''],
  ]
  for (const [name, c, expr] of cases) {
    it(`${name}: compiles and reads back`, () => {
      expect(conditionsToExpr(c)).toBe(expr)
      expect(exprToConditions(expr)).toEqual(c)
    })
  }

  it('leaves out rows without a field and writes an empty value as ""', () => {
    expect(conditionsToExpr({ join: 'and', rows: [{ field: '', op: '==', value: 1 }, { field: 'lot', op: '==' }] })).toBe('record.lot == ""')
  })

  it('reads what a person typed with other spacing', () => {
    expect(exprToConditions('  record.qty>1000&&record.grade=="a" ')).toEqual({ join: 'and', rows: [{ field: 'qty', op: '>', value: 1000 }, { field: 'grade', op: '==', value: 'a' }] })
  })

  it('answers null for what the rows cannot show', () => {
    for (const e of ['record.qty >', 'record.qty > 1 && record.qty < 5 || status == "a"', 'len(record.checks) > 0', 'record.qty > previous.qty',
      'record.note contains 5', '(record.qty > 1)', 'record.qty >> 1000', 'record.material == "unterminated']) {
      expect(exprToConditions(e), e).toBeNull()
    }
  })
})

describe('message ⇄ text expression', () => {
  it('compiles placeholders to concat and reads them back', () => {
    const tpl = '大批量收货：{material} {qty} kg'
    const expr = templateToExpr(tpl)
    expect(expr).toBe('concat("大批量收货：", record.material, " ", record.qty, " kg")')
    expect(exprToTemplate(expr)).toBe(tpl)
  })
  it('a plain text is a string literal; empty is empty', () => {
    expect(templateToExpr('请核对 "到货"')).toBe('"请核对 \\"到货\\""')
    expect(exprToTemplate('"请核对 \\"到货\\""')).toBe('请核对 "到货"')
    expect(templateToExpr('')).toBe('')
    expect(exprToTemplate('')).toBe('')
    expect(templateToExpr('{qty}')).toBe('concat(record.qty)')
    expect(exprToTemplate('concat(record.qty)')).toBe('{qty}')
  })
  it('reads single-quoted literals (as the docs write them)', () => {
    expect(exprToTemplate("concat('批次 ', record.lot, ' 将于 ', record.expiry_date, ' 到期')")).toBe('批次 {lot} 将于 {expiry_date} 到期')
  })
  it('answers null for expressions that are more than text and fields', () => {
    for (const e of ['record.qty * 2', 'concat("a", string(record.qty))', 'concat("{x}", record.a)', '"a" + "b"', 'concat("a" record.b)']) {
      expect(exprToTemplate(e), e).toBeNull()
    }
  })
  it('keeps a brace that is no placeholder as text', () => {
    expect(templateToExpr('a {b c}')).toBe('"a {b c}"')
  })
})

describe('problems', () => {
  const issues = [
    { field: '/condition', code: 'expr', message: '表达式错误：line 1, column 13: unexpected token\n | record.qty >\n | ............^' },
    { field: '/actions/0/params/title', code: 'required', message: '必填' },
    { field: '/actions/3/params/to', code: 'required', message: '必填' },
    { field: 'trigger.field', code: 'not_found', message: '不存在' },
  ]
  const ps = toProblems(issues)
  it('reads line and column of expression errors and normalises pointers', () => {
    expect(ps[0]).toMatchObject({ pointer: '/condition', line: 1, column: 13 })
    expect(ps[3].pointer).toBe('/trigger/field')
  })
  it('places them under a pointer; what no part shows is left for the top', () => {
    expect(problemsAt(ps, '/actions/0').map((p) => p.code)).toEqual(['required'])
    expect(problemsAt(ps, '/trigger').length).toBe(1)
    expect(unplaced(ps, 1).map((p) => p.pointer)).toEqual(['/actions/3/params/to'])
  })
})

describe('definitions', () => {
  it('clean drops what the schema does not want', () => {
    const d = { ...newRule('r', { 'zh-CN': '规则' }, 'receipt'), trigger: { on: 'date', field: 'expiry', days: -30, window: undefined, from: '' } }
    expect(clean(d)).toEqual({ key: 'r', label: { 'zh-CN': '规则' }, form: 'receipt', trigger: { on: 'date', field: 'expiry', days: -30 }, actions: [] })
  })
  it('freeKey finds a key not taken', () => {
    expect(freeKey('receipt_rule', ['receipt_rule', 'receipt_rule_2'])).toBe('receipt_rule_3')
    expect(freeKey('9x-y', [])).toBe('x_y')
  })
  it('maskSecrets hides a typed secret and keeps the rest', () => {
    const d = { ...newRule('r', { 'zh-CN': 'r' }, 'f'), actions: [{ type: 'webhook', params: { url: 'https://x', secret: 's3cret' } }, { type: 'notify', params: { to: ['a'] } }] }
    const m = maskSecrets(d)
    expect(m.actions[0].params?.secret).toBe('…')
    expect(m.actions[1]).toBe(d.actions[1])
    expect(maskSecrets(m)).toBe(m)
  })
})
