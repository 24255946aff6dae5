// An update changes a field: any change, or from one value, to one value, or both.
import { defineAsyncComponent } from 'vue'
import type { TriggerKind } from '../kinds'
import { shown } from '../kinds'

const component = defineAsyncComponent(() => import('./FieldChanged.vue'))

export const kinds: TriggerKind[] = [{
  component,
  on: 'field_changed',
  order: 30,
  blank: (fields) => ({ on: 'field_changed', field: fields[0]?.key }),
  summary: (tr, n, t) => {
    const f = n.field(tr.field ?? '')
    const from = tr.from === undefined ? '' : n.value(tr.field ?? '', tr.from) || shown(tr.from)
    const to = tr.to === undefined ? '' : n.value(tr.field ?? '', tr.to) || shown(tr.to)
    if (from && to) return t('rules.triggerSummary.fieldFromTo', { f, from, to })
    if (to) return t('rules.triggerSummary.fieldTo', { f, to })
    if (from) return t('rules.triggerSummary.fieldFrom', { f, from })
    return t('rules.triggerSummary.field', { f })
  },
}]
