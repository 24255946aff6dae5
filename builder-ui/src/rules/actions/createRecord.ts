// 新建记录: a record of a form of the app is made, its fields mapped by expressions over this one.
import { defineAsyncComponent } from 'vue'
import type { ActionKind } from '../kinds'
import { list } from '../kinds'

function values(p: Record<string, unknown>): Record<string, unknown> {
  return p.values && typeof p.values === 'object' ? (p.values as Record<string, unknown>) : {}
}

export const kind: ActionKind = {
  component: defineAsyncComponent(() => import('./CreateRecord.vue')),
  type: 'create_record',
  order: 40,
  blank: () => ({ form: '', values: {} }),
  summary: (p, n, t) => t('rules.actionSummary.create_record', { form: n.form(String(p.form ?? '')) || '—' }),
  describe: (p, n, t) => t('rules.describe.create_record', {
    form: n.form(String(p.form ?? '')),
    values: list(Object.entries(values(p)).map(([k, v]) => `${k} = ${typeof v === 'string' ? v : JSON.stringify(v)}`), t),
  }),
}
