// What the rule editor's parts share (provided by RuleEditor.vue, injected by the sentence's
// pieces and the trigger and action components): the app, the fields and statuses of the
// rule's form, the app's forms, the roles one may notify, the server's complaints, and the
// fields of another form (create_record's target), loaded once each.
import { inject, type ComputedRef, type InjectionKey, type Ref } from 'vue'
import type { FieldInfo, Problem } from './model'

/** Names turns keys into the words people read, for summaries and descriptions. */
export interface Names {
  field: (key: string) => string
  status: (key: string) => string
  form: (key: string) => string
  role: (key: string) => string
  /** value shows a field's value: an option's label, yes/no, the text. */
  value: (field: string, v: unknown) => string
}

export interface RuleContext {
  app: ComputedRef<string>
  fields: Ref<FieldInfo[]>
  statuses: Ref<{ key: string; label: string }[]>
  forms: Ref<{ key: string; label: string }[]>
  roles: Ref<{ name: string; label: string }[]>
  problems: Ref<Problem[]>
  names: ComputedRef<Names>
  /** formFields loads the published fields of another form of the app. */
  formFields: (form: string) => Promise<FieldInfo[]>
}

export const ruleKey: InjectionKey<RuleContext> = Symbol('rule-editor')

export function useRuleContext(): RuleContext {
  const c = inject(ruleKey)
  if (!c) throw new Error('rule editor context missing')
  return c
}
