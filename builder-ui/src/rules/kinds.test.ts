import { describe, expect, it } from 'vitest'
import { i18n } from '../i18n'
import type { Names } from './context'
import { actionKinds, actionSummary, triggerKinds, triggerSummary } from './kinds'

const names: Names = {
  field: (k) => ({ qty: '数量', expiry: '到期日', grade: '等级' })[k] ?? k,
  status: (k) => ({ released: '合格' })[k] ?? k,
  form: (k) => ({ receipt: '原料收货' })[k] ?? k,
  role: (k) => ({ qc: '质检' })[k] ?? k,
  flow: (k) => ({ incoming: '来料审批' })[k] ?? k,
  node: (flow, id) => (!flow || flow === 'incoming' ? ({ qa: '质检审批' })[id] ?? id : id),
  template: (k) => ({ lot_label: '批次标签' })[k] ?? k,
  value: (_f, v) => (v === 'a' ? '一级' : typeof v === 'string' ? v : JSON.stringify(v)),
}
const t = (key: string, named?: Record<string, unknown>) => i18n.global.t(key, named ?? {})

describe('registered kinds', () => {
  it('every trigger and action the engine has now has a component', () => {
    expect(triggerKinds.map((k) => k.on)).toEqual(['created', 'updated', 'deleted', 'status_changed', 'field_changed', 'date', 'flow_finished', 'node_entered', 'task_overdue', 'schedule'])
    expect(actionKinds.map((k) => k.type)).toEqual(['notify', 'email', 'set_status', 'set_fields', 'create_record', 'update_records', 'start_flow', 'webhook', 'action'])
  })
  it('each kind has its words in both languages', () => {
    for (const l of ['zh-CN', 'en'] as const) {
      for (const k of triggerKinds) expect(i18n.global.te(`rules.trigger.${k.on}`, l), `${l} ${k.on}`).toBe(true)
      for (const k of actionKinds) expect(i18n.global.te(`rules.action.${k.type}`, l), `${l} ${k.type}`).toBe(true)
    }
  })
})

describe('summaries', () => {
  it('read a trigger as people say it', () => {
    expect(triggerSummary({ on: 'created' }, names, t)).toBe('新增记录时')
    expect(triggerSummary({ on: 'status_changed', to: 'released' }, names, t)).toBe('状态变为“合格”时')
    expect(triggerSummary({ on: 'status_changed' }, names, t)).toBe('状态变化时')
    expect(triggerSummary({ on: 'status_changed', from: 'pending', to: 'released' }, names, t)).toBe('状态从“pending”变为“合格”时')
    expect(triggerSummary({ on: 'status_changed', from: 'released' }, names, t)).toBe('状态从“合格”变为其他时')
    expect(triggerSummary({ on: 'field_changed', field: 'grade', from: 'b', to: 'a' }, names, t)).toBe('“等级”从 b 变为 一级 时')
    expect(triggerSummary({ on: 'field_changed', field: 'qty' }, names, t)).toBe('“数量”变化时')
    expect(triggerSummary({ on: 'date', field: 'expiry', days: -30 }, names, t)).toBe('“到期日”前 30 天')
    expect(triggerSummary({ on: 'date', field: 'expiry', days: 0 }, names, t)).toBe('“到期日”当天')
    expect(triggerSummary({ on: 'at_noon' }, names, t)).toBe('at_noon')
  })
  it('read an action in one line', () => {
    expect(actionSummary('notify', { to: ['wang'], roles: ['qc'], title: 'concat("大批量 ", record.qty)' }, names, t)).toBe('通知 wang、角色 质检：大批量 {qty}')
    expect(actionSummary('email', { to: ['wang'], roles: ['qc'], subject: 'concat("到期 ", record.qty)' }, names, t)).toBe('邮件 wang、角色 质检：到期 {qty}')
    expect(actionSummary('email', { to: [], roles: [], subject: '"到期"' }, names, t)).toBe('邮件 （未选择）：到期')
    expect(actionSummary('set_status', { status: 'released' }, names, t)).toBe('状态改为“合格”')
    expect(actionSummary('set_fields', { values: { qty: '0', expiry: 'today()' } }, names, t)).toBe('修改 数量、到期日')
    expect(actionSummary('create_record', { form: 'receipt', values: {} }, names, t)).toBe('在“原料收货”新建记录')
    expect(actionSummary('send_mail', {}, names, t)).toBe('send_mail')
  })
  it('describe what a dry run gave an action', () => {
    const notify = actionKinds.find((k) => k.type === 'notify')!
    expect(notify.describe({ to: ['wang'], roles: [], title: '大批量 2000' }, names, t)).toBe('通知 wang：大批量 2000')
  })
})
