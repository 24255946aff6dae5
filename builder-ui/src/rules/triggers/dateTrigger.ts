// A day relative to a date field comes: N days before or after it (days), and how many days
// after that day a record the rule has not fired for still makes it fire (window).
import { defineAsyncComponent } from 'vue'
import type { TriggerKind } from '../kinds'

const component = defineAsyncComponent(() => import('./DateTrigger.vue'))

export const kinds: TriggerKind[] = [{
  component,
  on: 'date',
  order: 40,
  blank: (fields) => ({ on: 'date', field: fields.find((f) => f.type === 'date' || f.type === 'datetime')?.key, days: -30 }),
  summary: (tr, n, t) => {
    const f = n.field(tr.field ?? '')
    const d = tr.days ?? 0
    return d < 0 ? t('rules.triggerSummary.dateBefore', { f, n: -d }) : d > 0 ? t('rules.triggerSummary.dateAfter', { f, n: d }) : t('rules.triggerSummary.dateOn', { f })
  },
}]
