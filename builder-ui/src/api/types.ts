// The shapes the server answers with (Go types named beside each).

/** Text is engine.Text: one string per language. */
export interface Text {
  'zh-CN'?: string
  en?: string
}

/** Me is api.MeOutput. */
export interface Me {
  username: string
  displayName: string
  roles: string[]
  department?: string
  via: string
  expiresAt: string
  /** permissions are the platform actions the user holds ("system.admin"). */
  permissions?: string[]
}

export interface LoginOutput {
  token: string
  expiresAt: string
  csrfToken: string
  user: Me
}

/** App is forms.App. */
export interface App {
  key: string
  name: Text
  description?: Text
  icon?: string
  /** can lists what the caller may do in the app: 'read', 'design'. */
  can?: string[]
}

export interface LayoutItem {
  kind: 'field' | 'group' | 'tabs'
  field?: string
  span?: number
  label?: Text
  columns?: number
  items?: LayoutItem[]
  tabs?: { label: Text; items: LayoutItem[] }[]
}

export interface StatusState {
  key: string
  label: Text
  color?: string
}

/** Definition is forms.Definition; schema is a JSON Schema whose properties are the fields. */
export interface Definition {
  key: string
  name: Text
  description?: Text
  group?: Text
  schema: JSONSchema
  layout?: { columns?: number; items: LayoutItem[] }
  titleField?: string
  status?: { initial: string; states: StatusState[]; transitions: unknown[] }
}

export interface JSONSchema {
  type?: string
  required?: string[]
  properties?: Record<string, FieldSchema>
}

/** FieldSchema is one property of a form's schema with Tracecraft's x- keys. */
export interface FieldSchema {
  'x-type': string
  'x-label'?: Text
  'x-options'?: Record<string, unknown>
  items?: JSONSchema
  description?: string
  minimum?: number
  maximum?: number
  maxLength?: number
  default?: unknown
  [k: string]: unknown
}

/** Form is forms.Form. */
export interface Form {
  id: string
  app: string
  key: string
  draft: Definition
  published: number
  updatedAt: string
  rev: number
  /** can lists the record actions the caller holds (create, read, update, delete, export, import); empty until published. */
  can?: string[]
  /** canTransitions are the status transitions (keys) the caller may take. */
  canTransitions?: string[]
}

/** Version is forms.Version. */
export interface Version {
  id: string
  key: string
  version: number
  definition: Definition
  publishedAt: string
}

export type Values = Record<string, unknown>

/** RecordItem is forms.Record. */
export interface RecordItem {
  id: string
  app: string
  form: string
  version: number
  rev: number
  status?: string
  data: Values
  createdBy: string
  createdAt: string
  updatedBy: string
  updatedAt: string
  deleted?: { by: string; at: string }
  /** flows is set on a create: "pending" when a flow may start on it. */
  flows?: string
}

export interface Filter {
  field: string
  op: 'eq' | 'ne' | 'gt' | 'gte' | 'lt' | 'lte' | 'in' | 'contains' | 'between' | 'empty' | 'notEmpty'
  value?: unknown
}

export interface ListQuery {
  filters?: Filter[]
  sort?: { field: string; desc?: boolean }
  limit?: number
  cursor?: string
  fields?: string[]
}

export interface ListResult {
  items: RecordItem[]
  next?: string
  total: number
  totalEstimated?: boolean
}

export interface Change {
  field: string
  before?: unknown
  after?: unknown
}

export interface HistoryEntry {
  rev: number
  at: string
  by: string
  status?: string
  deleted?: boolean
  changes: Change[]
}

export interface FileInfo {
  id: string
  name: string
  size: number
  type?: string
}

export interface Task {
  id: string
  node: string
  kind: string
  assignee: string
  state: string
  created: string
  acted?: string
  comment?: string
}

export interface Step {
  at: string
  actor: string
  action: string
  node?: string
  comment?: string
  target?: string
  /** signature is the file id of a drawn signature (a PNG). */
  signature?: string
  attachments?: string[]
}

/** Instance is workflow.Instance. */
export interface Instance {
  id: string
  rev: number
  app: string
  flow: string
  form: string
  record: string
  initiator: string
  state: string
  active: string[]
  tasks: Task[]
  timeline: Step[]
  started: string
  finished?: string
  title?: string
}

export type Box = 'todo' | 'done' | 'initiated' | 'cc'

export interface InboxItem {
  task: Task
  instance: string
  app: string
  flow: string
  form: string
  record: string
  title: string
  initiator: string
  nodeName: Text
  started: string
  waiting?: string
  state: string
  /** withdrawable (我发起的): the initiator may still withdraw the instance. */
  withdrawable?: boolean
  /** signatureFor (待我处理): the decisions on this task that need a handwritten signature. */
  signatureFor?: string[]
}

export interface InboxCounts {
  todo: number
  done: number
  initiated: number
  cc: number
}

/** TaskView is workflow.TaskView. */
export interface TaskView {
  task: Task
  instance: Instance
  record: Values | null
  editable: string[]
  actions: string[]
  /** returnTo are the steps the task may be returned to (退回), nearest first. */
  returnTo: ReturnTarget[]
  /** signatureFor are the decisions that need the viewer's handwritten signature (the node's requireSignature). */
  signatureFor?: string[]
}

/** ReturnTarget is workflow.ReturnTarget: an earlier step a task may be returned to. */
export interface ReturnTarget {
  node: string
  type: string
  name?: Text
}

/** ActInput is workflow.ActInput. */
export interface ActInput {
  action: string
  comment?: string
  data?: Values
  /** signature is the id of an uploaded PNG of a drawn signature. */
  signature?: string
  attachments?: string[]
  /** toNode: where return sends the instance. */
  toNode?: string
  /** toUser: the new assignee (transfer) or the added signer (add_signer). */
  toUser?: string
  /** position of an added signer: before or after. */
  position?: 'before' | 'after'
}

/** BatchResult is workflow.BatchResult: one task's outcome in a batch approval. */
export interface BatchResult {
  task: string
  ok: boolean
  code?: string
  message?: string
  fields?: { field: string; code: string; message: string }[]
  id?: string
}

/** Delegation is workflow.Delegation: new tasks go to `to` between from and until. */
export interface Delegation {
  to: string
  from: string
  until: string
}

/** Member is engine.Member: a user as people pickers show them. */
export interface Member {
  username: string
  displayName: string
}
