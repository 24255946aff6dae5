// What the rule editor's parts share (provided by RuleEditor.vue, injected by the sentence's
// pieces and the trigger and action components): the app, the fields and statuses of the
// rule's form, the app's forms, flows and print templates, the roles one may notify, the
// server's complaints, and what is loaded on demand once each — the fields of another form
// (create_record's and update_records' target), the nodes of a flow, the label printers.
import { inject, type ComputedRef, type InjectionKey, type Ref } from 'vue'
import type { FieldInfo, Problem } from './model'

/** Names turns keys into the words people read, for summaries and descriptions. */
export interface Names {
  field: (key: string) => string
  status: (key: string) => string
  form: (key: string) => string
  role: (key: string) => string
  flow: (key: string) => string
  /** node names a node of a flow (of any flow of the form when flow is empty). */
  node: (flow: string, id: string) => string
  template: (key: string) => string
  /** value shows a field's value: an option's label, yes/no, the text. */
  value: (field: string, v: unknown) => string
}

export interface RuleContext {
  app: ComputedRef<string>
  /** form is the rule's form. */
  form: ComputedRef<string>
  fields: Ref<FieldInfo[]>
  statuses: Ref<{ key: string; label: string }[]>
  forms: Ref<{ key: string; label: string }[]>
  roles: Ref<{ name: string; label: string }[]>
  problems: Ref<Problem[]>
  names: ComputedRef<Names>
  /** formFields loads the published fields of another form of the app. */
  formFields: (form: string) => Promise<FieldInfo[]>
  /** flows are the app's flows (all forms; published 0: never published). */
  flows: Ref<FlowInfo[]>
  /** flowNodes loads the nodes of a flow's latest published version (none when never published). */
  flowNodes: (flow: string) => Promise<NodeInfo[]>
  /** templates are the app's print templates. */
  templates: Ref<{ key: string; label: string; form: string; published: number }[]>
  /** printers loads the label printers one may print to. */
  printers: () => Promise<{ name: string; language: string }[]>
}

/** FlowInfo is a flow of the app as pickers show it. */
export interface FlowInfo {
  key: string
  label: string
  form: string
  /** manual: started by hand (start_flow can start only those). */
  manual: boolean
  published: number
}

/** NodeInfo is a node of a flow as pickers show it. */
export interface NodeInfo {
  id: string
  label: string
  type: string
}

export const ruleKey: InjectionKey<RuleContext> = Symbol('rule-editor')

export function useRuleContext(): RuleContext {
  const c = inject(ruleKey)
  if (!c) throw new Error('rule editor context missing')
  return c
}
