// 修改字段: fields of the record are set, each to an expression's value.
import { defineAsyncComponent } from 'vue'
import type { ActionKind } from '../kinds'
import { list } from '../kinds'

function values(p: Record<string, unknown>): Record<string, unknown> {
  return p.values && typeof p.values === 'object' ? (p.values as Record<string, unknown>) : {}
}

export const kind: ActionKind = {
  component: defineAsyncComponent(() => import('./SetFields.vue')),
  type: 'set_fields',
  order: 30,
  blank: () => ({ values: {} }),
  summary: (p, n, t) => t('rules.actionSummary.set_fields', { fields: list(Object.keys(values(p)).map(n.field), t) || '—' }),
  describe: (p, n, t) => t('rules.describe.set_fields', {
    values: list(Object.entries(values(p)).map(([k, v]) => `${n.field(k)} = ${n.value(k, v) || JSON.stringify(v)}`), t),
  }),
}
