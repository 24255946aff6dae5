// What a node card says about its node, in one line: "质量经理 · 或签 · 24 小时未处理自动提醒".
// Pure: the words come from the caller (vue-i18n's t and the names of roles and fields).
import type { Text } from '../api/types'
import { signatureDecisions, signedDecisions, type Assignee, type FlowNode, type Timers } from './model'

export type T = (key: string, named?: Record<string, unknown>) => string

/** Names turn keys into the words people know: role names, form field labels. */
export interface Names {
  role: (key: string) => string
  field: (key: string) => string
  text: (t: Text | undefined, fallback?: string) => string
}

/** duration says a Go duration ("4h", "30m", "48h", "1h30m") in words; anything else as written. */
export function duration(t: T, d: string): string {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?$/.exec(d.trim())
  if (!m || (!m[1] && !m[2])) return d
  const h = Number(m[1] ?? 0)
  const min = Number(m[2] ?? 0)
  if (!min && h >= 48 && h % 24 === 0) return t('flowDesigner.days', { n: h / 24 })
  const parts: string[] = []
  if (h) parts.push(t('flowDesigner.hours', { n: h }))
  if (min) parts.push(t('flowDesigner.minutes', { n: min }))
  return parts.join(' ')
}

export function assigneeText(t: T, names: Names, a: Assignee): string {
  switch (a.kind) {
    case 'user':
      return (a.users ?? []).join('、') || t('flowDesigner.kinds.user')
    case 'role':
      return a.role ? names.role(a.role) : t('flowDesigner.kinds.role')
    case 'dept_head':
      return (a.levels ?? 1) > 1 ? t('flowDesigner.deptHeadN', { n: a.levels }) : t('flowDesigner.kinds.dept_head')
    case 'field':
      return a.field ? names.field(a.field) : t('flowDesigner.kinds.field')
    case 'manager':
    case 'initiator':
      return t(`flowDesigner.kinds.${a.kind}`)
    default:
      return a.kind
  }
}

export function timersText(t: T, tm: Timers | undefined): string[] {
  if (!tm) return []
  const wh = tm.workingHours ? t('flowDesigner.workingHours') : ''
  const out: string[] = []
  if (tm.remindAfter) out.push(t('flowDesigner.remind', { d: duration(t, tm.remindAfter) }) + wh)
  if (tm.timeoutAfter && tm.action) out.push(t(`flowDesigner.timeout.${tm.action}`, { d: duration(t, tm.timeoutAfter) }) + wh)
  return out
}

/** signatureText is the card's ✍ 签名 tag of a node that asks for a handwritten signature ('' when it does not), naming the decisions unless it is all of them. */
export function signatureText(t: T, n: FlowNode): string {
  const signed = signedDecisions(n)
  if (!signed.length) return ''
  if (signed.length === (signatureDecisions[n.type] ?? []).length) return t('flowDesigner.signatureTag')
  return t('flowDesigner.signatureTagSome', { actions: signed.map((d) => t(`flowDesigner.decisions.${d}`)).join('、') })
}

/** summary is the parts of a node's one-line summary; empty means the node still needs settings. */
export function summary(t: T, names: Names, n: FlowNode): string[] {
  switch (n.type) {
    case 'approval':
    case 'fill':
    case 'notify': {
      const who = (n.assignees ?? []).map((a) => assigneeText(t, names, a)).join('、')
      if (!who) return []
      const parts = [who]
      if (n.type === 'approval' && n.mode && (n.assignees!.length > 1 || !['single', 'user'].includes(n.mode))) {
        parts.push(n.mode === 'percent' ? t('flowDesigner.percent', { n: n.percent ?? 0 }) : t(`flowDesigner.modes.${n.mode}`))
      }
      const sign = signatureText(t, n)
      return [...parts, ...timersText(t, n.timers), ...(sign ? [sign] : [])]
    }
    case 'action': {
      const a = n.action ?? ''
      const label = a ? t(`flowDesigner.actions.${a}`) : ''
      const status = typeof n.params?.status === 'string' ? t('flowDesigner.setStatusTo', { s: n.params.status }) : ''
      return [label, status].filter(Boolean)
    }
    case 'end': {
      const parts = [t(`flowDesigner.end.${n.outcome === 'rejected' ? 'rejected' : 'approved'}`)]
      if (n.setStatus) parts.push(t('flowDesigner.end.status', { s: n.setStatus }))
      return parts
    }
    default:
      return []
  }
}
