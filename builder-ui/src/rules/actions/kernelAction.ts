// 系统动作 (type "action"): any action an engine registers on the kernel, by its id, with
// params passed as they are and values (expressions) merged over them when the rule fires —
// how a rule prints a label (printing.print with a template). No route lists the kernel's
// actions: the ones known here are offered, others are typed.
import { defineAsyncComponent } from 'vue'
import type { ActionKind } from '../kinds'
import { shown } from '../kinds'

/** PRINT is printing's kernel action: {"template": key, "output": "printer", "printer": name}. */
export const PRINT = 'printing.print'

/** knownActions are the kernel actions offered by name (their words are rules.kernelActions.<id>). */
export const knownActions = [PRINT]

function obj(v: unknown): Record<string, unknown> {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {}
}

/** tidy is the action's params as the schema wants them: no empty params or values, no empty members of params. */
export function tidy(p: Record<string, unknown>): Record<string, unknown> {
  const next = { ...p }
  if (next.params !== undefined) next.params = Object.fromEntries(Object.entries(obj(next.params)).filter(([, v]) => v !== '' && v !== undefined))
  for (const k of ['params', 'values'] as const) if (next[k] === undefined || !Object.keys(obj(next[k])).length) delete next[k]
  return next
}

/** withOutput is print params sent to a label printer, or made a PDF (no printer then). */
export function withOutput(params: Record<string, unknown>, output: 'file' | 'printer'): Record<string, unknown> {
  const p = { ...params }
  if (output === 'printer') p.output = 'printer'
  else {
    delete p.output
    delete p.printer
  }
  return p
}

/** parseParams reads params typed as JSON: an object, or null when the text is not one ('' is none). */
export function parseParams(text: string): Record<string, unknown> | null {
  try {
    const v: unknown = text.trim() ? JSON.parse(text) : {}
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null
  } catch {
    return null
  }
}

export const kind: ActionKind = {
  component: defineAsyncComponent(() => import('./KernelAction.vue')),
  type: 'action',
  order: 60,
  blank: () => ({ id: PRINT, params: { template: '' } }),
  summary: (p, n, t) => {
    const id = String(p.id ?? '')
    if (id === PRINT) return t('rules.actionSummary.print', { template: n.template(String(obj(p.params).template ?? '')) || '—' })
    return t('rules.actionSummary.action', { id: id || '—' })
  },
  // A run gives the kernel action's params (values worked out and merged), not the definition.
  describe: (p, n, t) => {
    if (typeof p.template === 'string') return t('rules.actionSummary.print', { template: n.template(p.template) })
    return t('rules.describe.action', { id: t('rules.action.action'), params: shown(p) })
  },
}
