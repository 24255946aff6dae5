// Webhook: a JSON POST to a URL, signed with a secret that is write-only — once saved it is
// shown as 已设置 and can be replaced or removed, never read back.
import { defineAsyncComponent } from 'vue'
import type { ActionKind } from '../kinds'
import { shown } from '../kinds'

export const kind: ActionKind = {
  component: defineAsyncComponent(() => import('./Webhook.vue')),
  type: 'webhook',
  order: 50,
  blank: () => ({ url: '' }),
  summary: (p, _n, t) => t('rules.actionSummary.webhook', { url: shown(p.url) || '—' }),
  describe: (p, _n, t) => t('rules.describe.webhook', { url: shown(p.url), body: shown(p.body) }),
}
