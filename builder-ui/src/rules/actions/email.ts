// 发送邮件: a mail to people and the members of roles (like notify's), at the address of their
// account, with a subject and a body written as text with {field} placeholders (kept as text
// expressions). The server needs a mail server configured to save the rule.
import { defineAsyncComponent } from 'vue'
import type { ActionKind } from '../kinds'
import { recipients, shown } from '../kinds'
import { exprToTemplate } from '../model'

export const kind: ActionKind = {
  component: defineAsyncComponent(() => import('./Email.vue')),
  type: 'email',
  order: 15,
  blank: () => ({ to: [], roles: [], subject: '' }),
  summary: (p, n, t) => t('rules.actionSummary.email', { who: recipients(p, n, t), subject: exprToTemplate(String(p.subject ?? '')) ?? String(p.subject ?? '') }),
  describe: (p, n, t) => {
    const body = shown(p.body)
    return t('rules.describe.email', { who: recipients(p, n, t), subject: shown(p.subject) }) + (body ? ` — ${body}` : '')
  },
}
