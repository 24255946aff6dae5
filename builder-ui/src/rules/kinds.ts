// The trigger and action kinds the editor offers, registered by the files of triggers/ and
// actions/: each kind is a component (its settings in the sentence, loaded when shown) and a
// small module beside it that exports what the editor needs to know of the kind — its id,
// place in the menu, blank settings, how it reads in a summary and in a run. Adding a kind is
// adding those two files (and its words in i18n/*/rules.ts); nothing here changes. The
// modules are plain TypeScript so summaries are unit-tested without a browser.
import type { Component } from 'vue'
import type { Names } from './context'
import type { FieldInfo, Trigger } from './model'

/** Translate is vue-i18n's t. */
export type Translate = (key: string, named?: Record<string, unknown>) => string

/** TriggerInfo is what a trigger component says of a kind it sets (one component may set several). */
export interface TriggerInfo {
  /** on is Trigger.on; its name is rules.trigger.<on>. */
  on: string
  order: number
  /** blank is a new trigger of the kind, given the form's fields. */
  blank: (fields: FieldInfo[]) => Trigger
  /** notOfRecord: the sentence does not say "的记录" (a schedule fires at a time, not on a record). */
  notOfRecord?: boolean
  /** summary reads the trigger as the end of "当…时": "新增记录时", "「到期日」前 30 天". */
  summary: (tr: Trigger, n: Names, t: Translate) => string
}

/** ActionInfo is what an action component says of its kind. */
export interface ActionInfo {
  /** type is ActionDef.type; its name is rules.action.<type>. */
  type: string
  order: number
  blank: () => Record<string, unknown>
  /** summary reads the action's settings in one line. */
  summary: (params: Record<string, unknown>, n: Names, t: Translate) => string
  /** describe reads what a run (or dry run) gave the action: the params after evaluation. */
  describe: (params: Record<string, unknown>, n: Names, t: Translate) => string
}

/** TriggerKind is a trigger kind with its settings component (props modelValue: Trigger, pointer). */
export type TriggerKind = TriggerInfo & { component: Component }
/** ActionKind is an action kind with its settings component (props modelValue: params, pointer, index). */
export type ActionKind = ActionInfo & { component: Component }

const triggerFiles = import.meta.glob<{ kinds: TriggerKind[] }>('./triggers/*.ts', { eager: true })
const actionFiles = import.meta.glob<{ kind: ActionKind }>('./actions/*.ts', { eager: true })

/** triggerKinds are the registered trigger kinds in menu order. */
export const triggerKinds: TriggerKind[] = Object.values(triggerFiles).flatMap((m) => m.kinds).sort((a, b) => a.order - b.order)

/** actionKinds are the registered action kinds in menu order. */
export const actionKinds: ActionKind[] = Object.values(actionFiles).map((m) => m.kind).sort((a, b) => a.order - b.order)

export function triggerKind(on: string): TriggerKind | undefined {
  return triggerKinds.find((k) => k.on === on)
}

export function actionKind(type: string): ActionKind | undefined {
  return actionKinds.find((k) => k.type === type)
}

/** triggerSummary reads a trigger ("新增记录时"); a kind this editor does not know reads as its id. */
export function triggerSummary(tr: Trigger, n: Names, t: Translate): string {
  return triggerKind(tr.on)?.summary(tr, n, t) ?? tr.on
}

/** actionSummary reads an action in one line. */
export function actionSummary(type: string, params: Record<string, unknown> | undefined, n: Names, t: Translate): string {
  const k = actionKind(type)
  return k ? k.summary(params ?? {}, n, t) : type
}

/** list joins names the language's way (、 in Chinese, ", " in English). */
export function list(items: string[], t: Translate): string {
  return items.join(t('rules.listSep'))
}

/** recipients reads the to and roles params of notify and email ("张三、角色 质检员"; nobody when empty). */
export function recipients(p: Record<string, unknown>, n: Names, t: Translate): string {
  return list([...strings(p.to), ...strings(p.roles).map((r) => t('rules.roleN', { r: n.role(r) }))], t) || t('rules.nobody')
}

/** strings reads a list param (to, roles). */
export function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []
}

/** shown is a value for people: text as it is, others as JSON. */
export function shown(v: unknown): string {
  if (v === undefined || v === null) return ''
  return typeof v === 'string' ? v : JSON.stringify(v)
}
