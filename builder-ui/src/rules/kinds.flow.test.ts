// The flow and schedule triggers and the email, update_records, start_flow and generic
// actions: how they read, what a new one is, and how edits make the definition the engine takes.
import { describe, expect, it } from 'vitest'
import { i18n } from '../i18n'
import type { Names } from './context'
import { actionKind, actionSummary, triggerKind, triggerSummary } from './kinds'
import { clean, firstFilter, newRule, setFilter, type FieldInfo } from './model'
import { parseParams, tidy, withOutput } from './actions/kernelAction'
import { pickableNodes, setFlowTrigger } from './triggers/flowTriggers'

const names: Names = {
  field: (k) => ({ qty: '数量', expiry: '到期日', grade: '等级', material: '原料' })[k] ?? k,
  status: (k) => k,
  form: (k) => ({ receipt: '原料收货', lot: '批次' })[k] ?? k,
  role: (k) => ({ qc: '质检' })[k] ?? k,
  flow: (k) => ({ incoming: '来料审批' })[k] ?? k,
  node: (flow, id) => (!flow || flow === 'incoming' ? ({ qa: '质检审批' })[id] ?? id : id),
  template: (k) => ({ lot_label: '批次标签' })[k] ?? k,
  value: (_f, v) => (typeof v === 'string' ? v : JSON.stringify(v)),
}
const t = (key: string, named?: Record<string, unknown>) => i18n.global.t(key, named ?? {})
const en = (key: string, named?: Record<string, unknown>) => i18n.global.t(key, named ?? {}, { locale: 'en' })
const fields: FieldInfo[] = [
  { key: 'material', label: '原料', type: 'text', indexed: true },
  { key: 'qty', label: '数量', type: 'number' },
  { key: 'expiry', label: '到期日', type: 'date', indexed: true },
]

describe('flow triggers', () => {
  it('read as people say them', () => {
    expect(triggerSummary({ on: 'flow_finished' }, names, t)).toBe('流程结束时')
    expect(triggerSummary({ on: 'flow_finished', flow: 'incoming' }, names, t)).toBe('流程“来料审批”结束时')
    expect(triggerSummary({ on: 'flow_finished', outcome: 'rejected' }, names, t)).toBe('流程被拒绝时')
    expect(triggerSummary({ on: 'flow_finished', flow: 'incoming', outcome: 'approved' }, names, t)).toBe('流程“来料审批”审批通过时')
    expect(triggerSummary({ on: 'flow_finished', flow: 'incoming', outcome: 'approved' }, names, en)).toBe('when flow "来料审批" is approved')
    expect(triggerSummary({ on: 'node_entered', node: 'qa' }, names, t)).toBe('流程到达“质检审批”时')
    expect(triggerSummary({ on: 'node_entered', flow: 'incoming', node: 'qa' }, names, t)).toBe('流程“来料审批”到达“质检审批”时')
    expect(triggerSummary({ on: 'task_overdue' }, names, t)).toBe('任务超时未处理时')
    expect(triggerSummary({ on: 'task_overdue', node: 'qa' }, names, t)).toBe('“质检审批”超时未处理时')
    expect(triggerSummary({ on: 'task_overdue', flow: 'incoming', node: 'qa' }, names, en)).toBe('when "质检审批" of flow "来料审批" is overdue')
  })
  it('start blank: node_entered waits for its node', () => {
    expect(triggerKind('flow_finished')!.blank(fields)).toEqual({ on: 'flow_finished' })
    expect(triggerKind('node_entered')!.blank(fields)).toEqual({ on: 'node_entered', node: '' })
    expect(clean({ ...newRule('r', { 'zh-CN': 'r' }, 'receipt'), trigger: triggerKind('node_entered')!.blank(fields) }).trigger).toEqual({ on: 'node_entered' })
  })
  it('edits: another flow clears the node; any flow or outcome is no member', () => {
    expect(setFlowTrigger({ on: 'node_entered', flow: 'incoming', node: 'qa' }, { flow: 'other' })).toEqual({ on: 'node_entered', flow: 'other', node: '' })
    expect(setFlowTrigger({ on: 'node_entered', flow: 'incoming', node: 'qa' }, { flow: 'incoming' })).toEqual({ on: 'node_entered', flow: 'incoming', node: 'qa' })
    expect(setFlowTrigger({ on: 'task_overdue', flow: 'incoming', node: 'qa' }, { flow: undefined })).toEqual({ on: 'task_overdue' })
    expect(setFlowTrigger({ on: 'flow_finished', flow: 'incoming', outcome: 'approved' }, { outcome: undefined })).toEqual({ on: 'flow_finished', flow: 'incoming' })
    expect(setFlowTrigger({ on: 'node_entered', node: '' }, { node: 'qa' })).toEqual({ on: 'node_entered', node: 'qa' })
  })
  it('offer the nodes each kind can name', () => {
    const incoming = { label: '来料审批', nodes: [
      { id: 'start', type: 'start', label: '发起' }, { id: 'qa', type: 'approval', label: '质检审批' }, { id: 'cc', type: 'notify', label: '抄送' },
      { id: 'branch', type: 'condition', label: '条件' }, { id: 'end', type: 'end', label: '结束' }] }
    const other = { label: '复检', nodes: [{ id: 'qa', type: 'approval', label: '复检审批' }, { id: 'redo', type: 'fill', label: '重填' }] }
    expect(pickableNodes('task_overdue', [incoming]).map((n) => n.id)).toEqual(['qa'])
    expect(pickableNodes('node_entered', [incoming]).map((n) => [n.id, n.flowLabel])).toEqual([['qa', undefined], ['cc', undefined], ['end', undefined]])
    expect(pickableNodes('task_overdue', [incoming, other]).map((n) => [n.id, n.flowLabel])).toEqual([['qa', '来料审批'], ['redo', '复检']])
  })
})

describe('schedule', () => {
  it('reads its time in plain words, with the zone and the records it goes through', () => {
    expect(triggerSummary({ on: 'schedule', cron: '0 8 * * *', timezone: 'Asia/Shanghai' }, names, t)).toBe('定时：每天 08:00（Asia/Shanghai）')
    expect(triggerSummary({ on: 'schedule', cron: '@hourly' }, names, t)).toBe('定时：每小时整点')
    expect(triggerSummary({ on: 'schedule', cron: '7,9 1-3 * * *' }, names, t)).toBe('定时：按表达式 7,9 1-3 * * * 执行')
    expect(triggerSummary({ on: 'schedule', cron: '0 8 * * 1-5', timezone: 'Asia/Shanghai', match: [{ field: 'expiry', op: 'lte', value: 'addDays(today(), 7)' }] }, names, t))
      .toBe('定时：工作日 08:00（Asia/Shanghai），逐条处理“到期日”符合条件的记录')
    expect(triggerSummary({ on: 'schedule', cron: '0 8 * * *', timezone: 'Asia/Shanghai', match: [{ field: 'expiry', op: 'empty' }] }, names, en))
      .toBe('on a schedule: daily 08:00 (Asia/Shanghai), for each record whose "到期日" match')
  })
  it('a new one is daily 08:00 in the browser\'s zone; the definition keeps cron, zone and match', () => {
    const tr = triggerKind('schedule')!.blank(fields)
    expect(tr).toEqual({ on: 'schedule', cron: '0 8 * * *', timezone: Intl.DateTimeFormat().resolvedOptions().timeZone })
    const def = clean({ ...newRule('r', { 'zh-CN': 'r' }, 'receipt'), trigger: { ...tr, timezone: 'Asia/Shanghai', match: [firstFilter(fields)] } })
    expect(def.trigger).toEqual({ on: 'schedule', cron: '0 8 * * *', timezone: 'Asia/Shanghai', match: [{ field: 'expiry', op: 'lte', value: 'addDays(today(), 7)' }] })
    expect(clean({ ...def, trigger: { on: 'schedule', cron: '@daily', timezone: '', match: [] } }).trigger).toEqual({ on: 'schedule', cron: '@daily' })
  })
  it('match rows: the first starts from a date field; an operator without a value drops it', () => {
    expect(firstFilter(fields.filter((f) => f.type !== 'date'))).toEqual({ field: 'material', op: 'eq', value: '' })
    expect(firstFilter([{ key: 'qty', label: '数量', type: 'number' }])).toEqual({ field: '', op: 'eq', value: '' })
    const rows = [{ field: 'expiry', op: 'lte' as const, value: 'today()' }, { field: 'material', op: 'eq' as const, value: '"糖"' }]
    expect(setFilter(rows, 0, { op: 'empty' })).toEqual([{ field: 'expiry', op: 'empty' }, rows[1]])
    expect(setFilter(setFilter(rows, 0, { op: 'empty' }), 0, { op: 'gt' })).toEqual([{ field: 'expiry', op: 'gt', value: '' }, rows[1]])
    expect(setFilter(rows, 1, { value: '"盐"' })[1]).toEqual({ field: 'material', op: 'eq', value: '"盐"' })
  })
})

describe('new actions', () => {
  it('read in one line', () => {
    expect(actionSummary('email', { to: ['wang'], roles: ['qc'], subject: 'concat("到期预警 ", record.material)' }, names, t)).toBe('邮件 wang、角色 质检：到期预警 {material}')
    expect(actionSummary('update_records', { form: 'lot', match: [], values: { qty: '0', grade: '"b"' } }, names, t)).toBe('修改“批次”中符合条件的记录：数量、等级')
    expect(actionSummary('start_flow', { flow: 'incoming' }, names, t)).toBe('发起流程“来料审批”')
    expect(actionSummary('start_flow', { flow: '' }, names, en)).toBe('start flow "—"')
    expect(actionSummary('action', { id: 'printing.print', params: { template: 'lot_label' } }, names, t)).toBe('打印“批次标签”')
    expect(actionSummary('action', { id: 'erp.sync' }, names, t)).toBe('执行 erp.sync')
  })
  it('describe what a run gave them', () => {
    expect(actionKind('email')!.describe({ to: ['wang'], subject: '到期预警 白砂糖', body: '请处理' }, names, t)).toBe('邮件 wang：到期预警 白砂糖 — 请处理')
    expect(actionKind('update_records')!.describe({ form: 'lot', match: { 'expiry lte': '2026-12-13', 'note empty': true }, values: { qty: '0' } }, names, t))
      .toBe('修改“批次”中 expiry lte 2026-12-13、note empty 的记录：qty = 0')
    expect(actionKind('action')!.describe({ template: 'lot_label' }, names, t)).toBe('打印“批次标签”')
    expect(actionKind('action')!.describe({ sku: 'A1' }, names, t)).toBe('执行 系统动作：{"sku":"A1"}')
  })
  it('start blank as the schema wants them', () => {
    expect(actionKind('email')!.blank()).toEqual({ to: [], roles: [], subject: '' })
    expect(actionKind('update_records')!.blank()).toEqual({ form: '', match: [], values: {} })
    expect(actionKind('start_flow')!.blank()).toEqual({ flow: '' })
    expect(actionKind('action')!.blank()).toEqual({ id: 'printing.print', params: { template: '' } })
  })
  it('the generic action: print params ⇄ definition, JSON params', () => {
    expect(tidy({ id: 'printing.print', params: { template: 'lot_label', printer: '' }, values: {} })).toEqual({ id: 'printing.print', params: { template: 'lot_label' } })
    expect(tidy({ id: 'erp.sync', params: {} })).toEqual({ id: 'erp.sync' })
    const toPrinter = withOutput({ template: 'lot_label' }, 'printer')
    expect(toPrinter).toEqual({ template: 'lot_label', output: 'printer' })
    expect(withOutput({ ...toPrinter, printer: 'zebra' }, 'file')).toEqual({ template: 'lot_label' })
    expect(parseParams('{"copies": 2}')).toEqual({ copies: 2 })
    expect(parseParams('')).toEqual({})
    expect(parseParams('[1]')).toBeNull()
    expect(parseParams('{"copies": ')).toBeNull()
  })
})

describe('words', () => {
  it('zh-CN and en have the same rule editor words', async () => {
    const keys = (o: unknown, at = ''): string[] => (o && typeof o === 'object'
      ? Object.entries(o).flatMap(([k, v]) => keys(v, `${at}${k}.`))
      : [at.slice(0, -1)])
    const zh = (await import('../i18n/zh-CN/rules')).default
    const e = (await import('../i18n/en/rules')).default
    expect(keys(e).sort()).toEqual(keys(zh).sort())
  })
})
