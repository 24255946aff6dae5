// The record's status is set: out of any status or one (from), into any or one (to).
import { defineAsyncComponent } from 'vue'
import type { TriggerKind } from '../kinds'

const component = defineAsyncComponent(() => import('./StatusChanged.vue'))

export const kinds: TriggerKind[] = [{
  component,
  on: 'status_changed',
  order: 20,
  blank: () => ({ on: 'status_changed' }),
  summary: (tr, n, t) => {
    const from = typeof tr.from === 'string' && tr.from ? n.status(tr.from) : ''
    const to = typeof tr.to === 'string' && tr.to ? n.status(tr.to) : ''
    if (from && to) return t('rules.triggerSummary.statusFromTo', { from, s: to })
    if (from) return t('rules.triggerSummary.statusFrom', { from })
    return to ? t('rules.triggerSummary.statusTo', { s: to }) : t('rules.triggerSummary.status_changed')
  },
}]
