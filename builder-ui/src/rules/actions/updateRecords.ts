// 批量修改记录: the records of a form of the app that match filters on its indexed fields are
// found with one query (at most 500 a run) and each has fields set to expressions, which may
// read the record being updated as target.
import { defineAsyncComponent } from 'vue'
import type { ActionKind } from '../kinds'
import { list, shown } from '../kinds'

function obj(v: unknown): Record<string, unknown> {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {}
}

export const kind: ActionKind = {
  component: defineAsyncComponent(() => import('./UpdateRecords.vue')),
  type: 'update_records',
  order: 45,
  blank: () => ({ form: '', match: [], values: {} }),
  summary: (p, n, t) => t('rules.actionSummary.update_records', {
    form: n.form(String(p.form ?? '')) || '—',
    fields: list(Object.keys(obj(p.values)).map(n.field), t) || '—',
  }),
  // A run gives match as {"field op": value} and values as their sources.
  describe: (p, n, t) => t('rules.describe.update_records', {
    form: n.form(String(p.form ?? '')),
    match: list(Object.entries(obj(p.match)).map(([k, v]) => (v === true ? k : `${k} ${shown(v)}`)), t) || '—',
    values: list(Object.entries(obj(p.values)).map(([k, v]) => `${k} = ${shown(v)}`), t),
  }),
}
