// The flow endpoints (docs/workflow.md "Versions"), through the app's one HTTP client.
import { request } from '../api/client'
import type { FlowDef } from './model'

const enc = encodeURIComponent
const flowPath = (app: string, flow: string) => `/api/v1/apps/${enc(app)}/flows/${enc(flow)}`

/** DesignFlow is workflow.Flow. */
export interface DesignFlow {
  id: string
  app: string
  key: string
  form: string
  draft: FlowDef
  published: number
  updatedBy?: string
  updatedAt: string
  rev: number
}

/** FlowVersion is workflow.FlowVersion. */
export interface FlowVersion {
  id: string
  key: string
  version: number
  /** unchanged: the draft was the same as this version, so none was made. */
  unchanged?: boolean
  definition: FlowDef
  publishedBy?: string
  publishedAt: string
}

export const flowApi = {
  flows: (app: string) => request<DesignFlow[]>('GET', `/api/v1/apps/${enc(app)}/flows`),
  flow: (app: string, flow: string) => request<DesignFlow>('GET', flowPath(app, flow)),
  create: (app: string, def: FlowDef) => request<DesignFlow>('POST', `/api/v1/apps/${enc(app)}/flows`, { body: def }),
  /** save saves the draft over revision rev (a stale rev is a 409). */
  save: (app: string, def: FlowDef, rev: number) => request<DesignFlow>('PUT', flowPath(app, def.key), { query: { rev }, body: def }),
  publish: (app: string, flow: string) => request<FlowVersion>('POST', `${flowPath(app, flow)}/publish`),
  versions: (app: string, flow: string) => request<FlowVersion[]>('GET', `${flowPath(app, flow)}/versions`),
}
