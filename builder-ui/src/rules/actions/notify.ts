// 通知: an in-app notification to people and the members of roles, with a title and a body
// written as text with {field} placeholders (kept as text expressions).
import { defineAsyncComponent } from 'vue'
import type { ActionKind } from '../kinds'
import { recipients, shown } from '../kinds'
import { exprToTemplate } from '../model'

export const kind: ActionKind = {
  component: defineAsyncComponent(() => import('./Notify.vue')),
  type: 'notify',
  order: 10,
  blank: () => ({ to: [], roles: [], title: '' }),
  summary: (p, n, t) => {
    const title = exprToTemplate(String(p.title ?? '')) ?? String(p.title ?? '')
    return t('rules.actionSummary.notify', { who: recipients(p, n, t), title })
  },
  describe: (p, n, t) => {
    const body = shown(p.body)
    return t('rules.describe.notify', { who: recipients(p, n, t), title: shown(p.title) }) + (body ? ` — ${body}` : '')
  },
}
