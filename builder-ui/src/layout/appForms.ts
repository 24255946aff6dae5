import type { InjectionKey, Ref } from 'vue'
import type { App, Form, Text } from '../api/types'

/** AppContext is what the app layout loaded, for the pages inside it. */
export interface AppContext {
  app: Ref<App | null>
  forms: Ref<Form[]>
  reload: () => Promise<void>
}

export const appContextKey: InjectionKey<AppContext> = Symbol('app')

/** FormGroup is one heading of the app's navigation with its forms. */
export interface FormGroup {
  label?: Text
  forms: Form[]
}

/** groupForms groups forms by their definition's group, in the order groups first appear. */
export function groupForms(forms: Form[]): FormGroup[] {
  const groups: FormGroup[] = []
  const byName = new Map<string, FormGroup>()
  for (const f of forms) {
    const g = f.draft?.group
    const name = g ? g['zh-CN'] || g.en || '' : ''
    let group = byName.get(name)
    if (!group) {
      group = { label: name ? g : undefined, forms: [] }
      byName.set(name, group)
      groups.push(group)
    }
    group.forms.push(f)
  }
  // Forms without a group come last.
  return [...groups.filter((g) => g.label), ...groups.filter((g) => !g.label)]
}
