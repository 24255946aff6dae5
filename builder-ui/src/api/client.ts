// The one module that speaks HTTP to the Tracecraft server. Every call goes through request():
// it sends the session cookie, the CSRF header on writes, the app's language, and turns every
// failure into an ApiError that carries what the server said ({error: {code, message, fields,
// id}}, api/errors.go).

/**
 * FieldIssue is one bad field of an input, as the server names it (dotted path into sub-tables).
 * label is the field's name as people know it (a record field's label); when it is there,
 * message names the field by it already ("质检签名：必填").
 */
export interface FieldIssue {
  field: string
  code: string
  label?: string
  message: string
}

/** issueText is a field issue as a line of its own: the message, after the path when it names no label. */
export function issueText(f: { field: string; label?: string; message: string }): string {
  return f.label || !f.field ? f.message : `${f.field}: ${f.message}`
}

/** ApiError is every failed call: status 0 when the server was not reached. */
export class ApiError extends Error {
  readonly status: number
  readonly code: string
  readonly fields: FieldIssue[]
  /** id is set on server errors (500): it is also in the server's log. */
  readonly id?: string

  constructor(status: number, code: string, message: string, fields: FieldIssue[] = [], id?: string) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
    this.fields = fields
    this.id = id
  }

  /** fieldErrors maps each bad field's path to its message (the first one per field). */
  fieldErrors(): Record<string, string> {
    const out: Record<string, string> = {}
    for (const f of this.fields) {
      const key = normaliseFieldPath(f.field)
      if (!(key in out)) out[key] = f.message
    }
    return out
  }
}

/**
 * normaliseFieldPath turns the paths the server gives into the dotted keys the record form uses:
 * "data.qty" and "/data/qty" become "qty", "checks.2.result" stays.
 */
export function normaliseFieldPath(p: string): string {
  let s = p.startsWith('/') ? p.slice(1).replaceAll('/', '.') : p
  if (s.startsWith('data.')) s = s.slice(5)
  return s
}

/** Texts the client needs when the server gave none (no answer, or not ours). */
export interface ClientTexts {
  network: string
  http: (status: number) => string
}

export interface ClientConfig {
  /** language sends the app's language (zh-CN or en) so messages come back in it. */
  language: () => string
  texts: () => ClientTexts
  /** unauthenticated is called on a 401 from any call but sign-in. */
  unauthenticated: () => void
  fetch?: typeof fetch
}

let config: ClientConfig = {
  language: () => 'zh-CN',
  texts: () => ({ network: 'network error', http: (s) => `HTTP ${s}` }),
  unauthenticated: () => {},
}

/** configure sets how the client finds the language, its texts and who hears about 401s. */
export function configure(c: Partial<ClientConfig>) {
  config = { ...config, ...c }
}

/** csrfToken reads the session's CSRF token from its cookie (set at sign-in, readable by scripts). */
export function csrfToken(): string {
  if (typeof document === 'undefined') return ''
  for (const part of document.cookie.split(';')) {
    const [k, ...v] = part.trim().split('=')
    if (k === 'tc_csrf') return decodeURIComponent(v.join('='))
  }
  return ''
}

export type Query = Record<string, string | number | boolean | undefined | null>

export interface RequestOptions {
  query?: Query
  /** body is sent as JSON, or as it is when it is FormData. */
  body?: unknown
  signal?: AbortSignal
  /** headers, when given, is called with the answer's headers (a successful one). */
  headers?: (h: Headers) => void
}

/** url joins a path and a query, leaving out empty values. */
export function url(path: string, query?: Query): string {
  if (!query) return path
  const qs = new URLSearchParams()
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== '') qs.set(k, String(v))
  }
  const s = qs.toString()
  return s ? `${path}?${s}` : path
}

const safeMethods = new Set(['GET', 'HEAD', 'OPTIONS'])

/** request calls the API and returns the parsed JSON answer, or throws an ApiError. */
export async function request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json', 'Accept-Language': config.language() }
  let body: BodyInit | undefined
  if (opts.body instanceof FormData) {
    body = opts.body
  } else if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json'
    body = JSON.stringify(opts.body)
  }
  if (!safeMethods.has(method)) {
    const token = csrfToken()
    if (token) headers['X-CSRF-Token'] = token
  }
  const doFetch = config.fetch ?? globalThis.fetch
  let res: Response
  try {
    res = await doFetch(url(path, opts.query), { method, headers, body, credentials: 'same-origin', signal: opts.signal })
  } catch (e) {
    if ((e as Error)?.name === 'AbortError') throw e
    throw new ApiError(0, 'network', config.texts().network)
  }
  const text = await res.text()
  if (!res.ok) {
    const err = errorFrom(res.status, text)
    if (res.status === 401 && path !== '/api/v1/auth/login') config.unauthenticated()
    throw err
  }
  opts.headers?.(res.headers)
  if (text === '') return undefined as T
  try {
    return JSON.parse(text) as T
  } catch {
    throw new ApiError(res.status, 'bad_response', config.texts().http(res.status))
  }
}

/**
 * download calls the API for a file (an export): the Response, its body unread, when it
 * succeeded; otherwise the ApiError request would throw. The body is left to the caller so a
 * large file is read once, as a Blob.
 */
export async function download(path: string, query?: Query, signal?: AbortSignal): Promise<Response> {
  const headers: Record<string, string> = { Accept: '*/*', 'Accept-Language': config.language() }
  const doFetch = config.fetch ?? globalThis.fetch
  let res: Response
  try {
    res = await doFetch(url(path, query), { method: 'GET', headers, credentials: 'same-origin', signal })
  } catch (e) {
    if ((e as Error)?.name === 'AbortError') throw e
    throw new ApiError(0, 'network', config.texts().network)
  }
  if (!res.ok) {
    const err = errorFrom(res.status, await res.text())
    if (res.status === 401) config.unauthenticated()
    throw err
  }
  return res
}

/** errorFrom reads the server's error body; an answer that is not ours (a proxy's page) still becomes an ApiError. */
export function errorFrom(status: number, text: string): ApiError {
  try {
    const body = JSON.parse(text)
    const e = body?.error
    if (e && typeof e.code === 'string') {
      const fields = Array.isArray(e.fields) ? (e.fields as FieldIssue[]) : []
      return new ApiError(status, e.code, String(e.message ?? ''), fields, typeof e.id === 'string' && e.id ? e.id : undefined)
    }
  } catch {
    // not JSON: below
  }
  return new ApiError(status, `http_${status}`, config.texts().http(status))
}
