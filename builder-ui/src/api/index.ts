// The server's endpoints, one function each; every call goes through client.request.
import { request } from './client'
import type {
  ActInput, App, BatchResult, Box, Delegation, Text, FileInfo, Form, HistoryEntry, InboxCounts, InboxItem, Instance, ListQuery,
  ListResult, LoginOutput, Me, Member, RecordItem, TaskView, Values, Version,
} from './types'

export * from './types'
export { ApiError } from './client'

const enc = encodeURIComponent
const formPath = (app: string, form: string) => `/api/v1/apps/${enc(app)}/forms/${enc(form)}`
const recordPath = (app: string, form: string, id: string) => `${formPath(app, form)}/records/${enc(id)}`

export const api = {
  login: (username: string, password: string) =>
    request<LoginOutput>('POST', '/api/v1/auth/login', { body: { username, password } }),
  logout: () => request<{ ok: boolean }>('POST', '/api/v1/auth/logout'),
  me: () => request<Me>('GET', '/api/v1/me'),

  apps: () => request<App[]>('GET', '/api/v1/apps'),
  app: (app: string) => request<App>('GET', `/api/v1/apps/${enc(app)}`),
  forms: (app: string) => request<Form[]>('GET', `/api/v1/apps/${enc(app)}/forms`),
  form: (app: string, form: string) => request<Form>('GET', formPath(app, form)),
  versions: (app: string, form: string) => request<Version[]>('GET', `${formPath(app, form)}/versions`),

  records: (app: string, form: string, q: ListQuery) =>
    request<ListResult>('POST', `${formPath(app, form)}/records/query`, { body: q }),
  record: (app: string, form: string, id: string) => request<RecordItem>('GET', recordPath(app, form, id)),
  createRecord: (app: string, form: string, data: Values) =>
    request<RecordItem>('POST', `${formPath(app, form)}/records`, { body: { data } }),
  updateRecord: (app: string, form: string, id: string, rev: number, data: Values) =>
    request<RecordItem>('PATCH', recordPath(app, form, id), { body: { rev, data } }),
  deleteRecord: (app: string, form: string, id: string, rev: number) =>
    request<RecordItem>('DELETE', recordPath(app, form, id), { query: { rev } }),
  history: (app: string, form: string, id: string, cursor?: string) =>
    request<{ items: HistoryEntry[]; next?: string }>('GET', `${recordPath(app, form, id)}/history`, { query: { cursor } }),
  recordFlows: (app: string, form: string, id: string) => request<Instance[]>('GET', `${recordPath(app, form, id)}/flows`),

  upload: (app: string, file: File) => {
    const body = new FormData()
    body.append('file', file)
    return request<FileInfo>('POST', `/api/v1/apps/${enc(app)}/files`, { body })
  },
  fileInfo: (app: string, id: string) => request<FileInfo>('GET', `/api/v1/apps/${enc(app)}/files/${enc(id)}/info`),
  fileURL: (app: string, id: string) => `/api/v1/apps/${enc(app)}/files/${enc(id)}`,

  inbox: (box: Box, before?: string, limit = 20) => request<InboxItem[]>('GET', '/api/v1/inbox', { query: { box, before, limit } }),
  inboxCounts: () => request<InboxCounts>('GET', '/api/v1/inbox/counts'),
  task: (id: string) => request<TaskView>('GET', `/api/v1/tasks/${enc(id)}`),
  act: (id: string, input: ActInput) => request<Instance>('POST', `/api/v1/tasks/${enc(id)}/actions`, { body: input }),
  flowVersions: (app: string, flow: string) =>
    request<{ version: number; definition: { nodes: { id: string; type: string; name?: Text }[] } }[]>(
      'GET', `/api/v1/apps/${enc(app)}/flows/${enc(flow)}/versions`),
  comment: (instance: string, comment: string, signature?: string) =>
    request<Instance>('POST', `/api/v1/instances/${enc(instance)}/comments`, { body: { action: 'comment', comment, signature } }),
  /** batchApprove approves tasks; signature (one drawing for the whole batch) goes on every task's step. */
  batchApprove: (tasks: string[], comment?: string, signature?: string) =>
    request<BatchResult[]>('POST', '/api/v1/tasks/batch-approve', { body: { tasks, comment, signature } }),
  instance: (id: string) => request<Instance>('GET', `/api/v1/instances/${enc(id)}`),
  withdraw: (instance: string, comment?: string) =>
    request<Instance>('POST', `/api/v1/instances/${enc(instance)}/withdraw`, { body: { comment } }),
  delegation: () => request<Delegation | null>('GET', '/api/v1/me/delegation'),
  setDelegation: (d: Delegation | { to: '' }) => request<{ ok: boolean }>('PUT', '/api/v1/me/delegation', { body: d }),
  members: (app: string, q: string, limit = 20) =>
    request<Member[]>('GET', `/api/v1/apps/${enc(app)}/members`, { query: { q, limit } }),
}

/** publishedDefinition is the definition of a form's version n (its latest when n is 0). */
export async function publishedDefinition(app: string, form: string, n = 0): Promise<Version | undefined> {
  const vs = await api.versions(app, form)
  if (n > 0) return vs.find((v) => v.version === n)
  return vs.reduce<Version | undefined>((best, v) => (!best || v.version > best.version ? v : best), undefined)
}
