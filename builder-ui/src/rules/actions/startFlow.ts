// 发起流程: a published flow of the rule's form that starts by hand is started on the record
// (a flow already running on it, or whose start condition fails, is left alone).
import { defineAsyncComponent } from 'vue'
import type { ActionKind } from '../kinds'

export const kind: ActionKind = {
  component: defineAsyncComponent(() => import('./StartFlow.vue')),
  type: 'start_flow',
  order: 47,
  blank: () => ({ flow: '' }),
  summary: (p, n, t) => t('rules.actionSummary.start_flow', { flow: n.flow(String(p.flow ?? '')) || '—' }),
  describe: (p, n, t) => t('rules.describe.start_flow', { flow: n.flow(String(p.flow ?? '')) }),
}
