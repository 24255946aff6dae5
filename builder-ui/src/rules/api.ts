// The rule endpoints (docs/rules.md "API"), through the app's one HTTP client.
import { request } from '../api/client'
import type { Text } from '../api/types'
import type { RuleDef } from './model'

const enc = encodeURIComponent
const rulePath = (app: string, rule: string) => `/api/v1/apps/${enc(app)}/rules/${enc(rule)}`

/** DesignRule is rules.Rule: a rule's draft and how far it is published. */
export interface DesignRule {
  id: string
  app: string
  key: string
  form: string
  draft: RuleDef
  /** published is the latest version's number, 0 when never published. */
  published: number
  updatedBy?: string
  updatedAt: string
  rev: number
}

/** RuleVersion is rules.RuleVersion. */
export interface RuleVersion {
  id: string
  key: string
  form: string
  version: number
  /** unchanged: the draft was the same as this version, so none was made. */
  unchanged?: boolean
  definition: RuleDef
  publishedBy?: string
  publishedAt: string
}

/** ActionRun is rules.ActionRun: what one action did, or (dry run) would be given. */
export interface ActionRun {
  type: string
  action: string
  params?: Record<string, unknown>
  result?: Record<string, unknown>
  error?: string
}

/** Run is rules.Run: one evaluation of a rule. */
export interface Run {
  id: string
  rule: string
  version: number
  /** trigger is the event type, or "date:<due day>". */
  trigger: string
  event?: string
  form: string
  record: string
  actor?: string
  depth: number
  outcome: 'fired' | 'condition_false' | 'depth_capped' | 'failed' | string
  reason?: string
  actions: ActionRun[]
  error?: string
  at: string
}

/** DryRun is rules.DryRun: what the draft would do on a record. */
export interface DryRun {
  rule: string
  record: string
  condition: boolean
  due?: string
  inWindow?: boolean
  actions: ActionRun[]
  error?: string
}

/** AppFlow is what the editor reads of workflow.Flow: which form, how it starts, whether published. */
export interface AppFlow {
  key: string
  form: string
  draft: { name?: Text; trigger?: { on: string } }
  published: number
}

/** FlowNodes is what the editor reads of workflow.FlowVersion: the nodes. */
export interface FlowNodes {
  version: number
  definition: { nodes: { id: string; type: string; name?: Text }[]; trigger?: { on: string } }
}

/** AppTemplate is what the editor reads of printing.Template. */
export interface AppTemplate {
  key: string
  form: string
  draft: { name?: Text }
  published: number
}

/** PrinterInfo is printing.PrinterInfo: a label printer one may print to. */
export interface PrinterInfo {
  name: string
  language: string
  dpi: number
}

/** The lists the pickers of the flow, print and action kinds offer. */
export const pickApi = {
  flows: (app: string) => request<AppFlow[]>('GET', `/api/v1/apps/${enc(app)}/flows`),
  flowVersions: (app: string, flow: string) => request<FlowNodes[]>('GET', `/api/v1/apps/${enc(app)}/flows/${enc(flow)}/versions`),
  templates: (app: string) => request<AppTemplate[]>('GET', `/api/v1/apps/${enc(app)}/print-templates`),
  printers: () => request<PrinterInfo[]>('GET', '/api/v1/printers'),
}

export const ruleApi = {
  rules: (app: string) => request<DesignRule[]>('GET', `/api/v1/apps/${enc(app)}/rules`),
  rule: (app: string, rule: string) => request<DesignRule>('GET', rulePath(app, rule)),
  create: (app: string, def: RuleDef) => request<DesignRule>('POST', `/api/v1/apps/${enc(app)}/rules`, { body: def }),
  /** save saves the draft over revision rev (a stale rev is a 409). */
  save: (app: string, def: RuleDef, rev: number) => request<DesignRule>('PUT', rulePath(app, def.key), { query: { rev }, body: def }),
  publish: (app: string, rule: string) => request<RuleVersion>('POST', `${rulePath(app, rule)}/publish`),
  versions: (app: string, rule: string) => request<RuleVersion[]>('GET', `${rulePath(app, rule)}/versions`),
  runs: (app: string, rule: string, next?: string, limit = 20) =>
    request<{ items: Run[]; next?: string }>('GET', `${rulePath(app, rule)}/runs`, { query: { limit, next } }),
  dryRun: (app: string, rule: string, record: string) => request<DryRun>('POST', `${rulePath(app, rule)}/dry-run`, { body: { record } }),
}
