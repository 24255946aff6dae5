// A record created, updated or deleted: the trigger has no settings.
import { defineAsyncComponent } from 'vue'
import type { TriggerKind } from '../kinds'

const component = defineAsyncComponent(() => import('./RecordEvent.vue'))

export const kinds: TriggerKind[] = ['created', 'updated', 'deleted'].map((on, i) => ({
  component,
  on,
  order: 10 + i,
  blank: () => ({ on }),
  summary: (_tr, _n, t) => t(`rules.triggerSummary.${on}`),
}))
