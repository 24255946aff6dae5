// 设置状态: the record's status is set (through the form's status engine).
import { defineAsyncComponent } from 'vue'
import type { ActionKind } from '../kinds'

export const kind: ActionKind = {
  component: defineAsyncComponent(() => import('./SetStatus.vue')),
  type: 'set_status',
  order: 20,
  blank: () => ({ status: '' }),
  summary: (p, n, t) => t('rules.actionSummary.set_status', { s: n.status(String(p.status ?? '')) }),
  describe: (p, n, t) => t('rules.actionSummary.set_status', { s: n.status(String(p.status ?? '')) }),
}
