// The printing endpoints (docs/printing.md): print templates as versioned definitions, the
// server's PDF preview and print jobs, printers, and item-code issuance (一物一码). JSON calls
// go through the app's one client; the file answers (PDF, ZIP) through postFile below, which
// speaks the same way (session cookie, CSRF header, language, ApiError on failure).
import { csrfToken, errorFrom, request, ApiError } from '../api/client'
import { currentLocale } from '../i18n'
import type { TemplateDef } from './model'

const enc = encodeURIComponent
const tplPath = (app: string, key: string) => `/api/v1/apps/${enc(app)}/print-templates/${enc(key)}`

/** DesignTemplate is a print template with its draft (like forms and flows). */
export interface DesignTemplate {
  id?: string
  app?: string
  key: string
  form?: string
  draft: TemplateDef
  published: number
  updatedBy?: string
  updatedAt?: string
  rev: number
}

/** TemplateVersion is one published version. */
export interface TemplateVersion {
  id: string
  key: string
  version: number
  unchanged?: boolean
  definition: TemplateDef
  publishedBy?: string
  publishedAt: string
}

/**
 * FormTemplate is printing.FormTemplate: a published print template of a form as its readers
 * see it (GET …/forms/{form}/print-templates): what the print dialog offers an operator.
 */
export interface FormTemplate {
  key: string
  name: { 'zh-CN'?: string; en?: string }
  kind: string
  /** repeat is what one label is made for: record, row or code. */
  repeat: string
  version: number
  page: { width: number; height: number }
}

/** Printer is printing.PrinterInfo: a configured label printer one may print to. */
export interface Printer {
  name: string
  /** language is "zpl" or "tspl". */
  language: string
  dpi: number
}

/** CodeCounts is printing.CodeCounts: what became of a lot's (or an issuance's) codes. */
export interface CodeCounts {
  issued: number
  printed: number
  voided: number
  reprinted: number
  scanned: number
}

/** Issuance is printing.Issuance: one issue of item codes for a lot record, with its counts. */
export interface Issuance {
  id: string
  app?: string
  form?: string
  record?: string
  gtin: string
  lot: string
  expiry?: string
  count: number
  firstSerial: string
  by: string
  at: string
  void?: { reason: string; by: string; at: string }
  counts: CodeCounts
}

/** LotCodes is printing.LotCodes: a lot record's issuances, oldest first, and their totals. */
export interface LotCodes {
  issuances: Issuance[]
  totals: CodeCounts
}

/** CodeDetail is printing.CodeDetail: one code with its void, reprints and scans. */
export interface CodeDetail {
  serial: string
  gtin: string
  lot: string
  expiry?: string
  url: string
  record: string
  void?: { reason: string; by: string; at: string }
  reprints: number
  scans: number
}

/**
 * PrintInput is the body of a print: records, the issuance of a per-code template, where to;
 * serials with a reason print those printed codes of the one record again (补打).
 */
export interface PrintInput {
  records: string[]
  issuance?: string
  output: 'pdf' | 'printer'
  printer?: string
  serials?: string[]
  reason?: string
}

/** FileAnswer is a file the server made: its bytes and the name to save it under. */
export interface FileAnswer {
  blob: Blob
  name: string
  type: string
}

/** PrintAnswer is a file (PDF, ZIP) or, for a printer, what the server says of the job. */
export type PrintAnswer = { file: FileAnswer } | { job: Record<string, unknown> }

/** postFile posts JSON and answers the file the server sends (or throws its ApiError). */
export async function postFile(path: string, body: unknown, fallbackName: string): Promise<FileAnswer | Record<string, unknown>> {
  const headers: Record<string, string> = { Accept: 'application/pdf, application/zip, application/json', 'Accept-Language': currentLocale(), 'Content-Type': 'application/json' }
  const token = csrfToken()
  if (token) headers['X-CSRF-Token'] = token
  let res: Response
  try {
    res = await fetch(path, { method: 'POST', headers, body: JSON.stringify(body), credentials: 'same-origin' })
  } catch {
    throw new ApiError(0, 'network', 'network error')
  }
  if (!res.ok) throw errorFrom(res.status, await res.text())
  const type = (res.headers.get('Content-Type') ?? '').split(';')[0].trim()
  if (type === 'application/json') return (await res.json()) as Record<string, unknown>
  return { blob: await res.blob(), name: fileName(res.headers.get('Content-Disposition')) || fallbackName, type }
}

/** fileName reads the name of a Content-Disposition (filename*=UTF-8'' first). */
export function fileName(cd: string | null): string {
  if (!cd) return ''
  const star = /filename\*\s*=\s*UTF-8''([^;]+)/i.exec(cd)
  if (star) {
    try {
      return decodeURIComponent(star[1].trim())
    } catch {
      // fall through to the plain name
    }
  }
  const plain = /filename\s*=\s*"?([^";]+)"?/i.exec(cd)
  return plain ? plain[1].trim() : ''
}

function isFile(x: FileAnswer | Record<string, unknown>): x is FileAnswer {
  return x instanceof Object && 'blob' in x && x.blob instanceof Blob
}

export const labelsApi = {
  templates: (app: string) => request<DesignTemplate[]>('GET', `/api/v1/apps/${enc(app)}/print-templates`),
  /**
   * formTemplates are the form's published templates, for anyone who may read its records
   * (operators too: the designers' list needs the design right).
   */
  formTemplates: (app: string, form: string) => request<FormTemplate[]>('GET', `/api/v1/apps/${enc(app)}/forms/${enc(form)}/print-templates`),
  /**
   * publishedTemplates are the app's templates that have a published version, as FormTemplate,
   * with their form, from the designers' list (the print dialog of 打印模板, where no form is
   * chosen yet). The name and repeat are the draft's: the designer's own view.
   */
  async publishedTemplates(app: string): Promise<(FormTemplate & { form: string })[]> {
    const list = await labelsApi.templates(app)
    return list.filter((x) => x.published > 0).map((x) => ({
      key: x.key, name: x.draft?.name ?? {}, kind: x.draft?.kind ?? 'label', repeat: x.draft?.repeat || 'record',
      version: x.published, page: { width: x.draft?.page?.width ?? 0, height: x.draft?.page?.height ?? 0 }, form: templateForm(x),
    }))
  },
  template: (app: string, key: string) => request<DesignTemplate>('GET', tplPath(app, key)),
  create: (app: string, def: TemplateDef) => request<DesignTemplate>('POST', `/api/v1/apps/${enc(app)}/print-templates`, { body: def }),
  /** save saves the draft over revision rev (a stale rev is a 409). */
  save: (app: string, def: TemplateDef, rev: number) => request<DesignTemplate>('PUT', tplPath(app, def.key), { query: { rev }, body: def }),
  publish: (app: string, key: string) => request<TemplateVersion>('POST', `${tplPath(app, key)}/publish`),
  versions: (app: string, key: string) => request<TemplateVersion[]>('GET', `${tplPath(app, key)}/versions`),

  /** preview is the server's PDF of a definition (the draft being edited) for a record. */
  async preview(app: string, key: string, input: { definition?: TemplateDef; record?: string }): Promise<FileAnswer> {
    const out = await postFile(`${tplPath(app, key)}/preview`, input, `${key}-preview.pdf`)
    // What is shown must be the server's PDF, not a page something on the way answered with.
    if (!isFile(out) || (await out.blob.slice(0, 5).text()) !== '%PDF-') throw new ApiError(502, 'bad_response', 'the preview is not a PDF')
    return out
  },
  async print(app: string, key: string, input: PrintInput): Promise<PrintAnswer> {
    const out = await postFile(`${tplPath(app, key)}/print`, input, `${key}.pdf`)
    return isFile(out) ? { file: out } : { job: out }
  },
  /** printers are the label printers anyone signed in may print to (hosts are for administrators). */
  printers: () => request<Printer[]>('GET', '/api/v1/printers'),

  /** issue issues count codes for the lot record (GTIN, lot and expiry from its fields). */
  issue: (app: string, form: string, record: string, body: { count: number }) =>
    request<Issuance>('POST', `/api/v1/apps/${enc(app)}/forms/${enc(form)}/records/${enc(record)}/codes`, { body }),
  lotCodes: (app: string, form: string, record: string) =>
    request<LotCodes>('GET', `/api/v1/apps/${enc(app)}/forms/${enc(form)}/records/${enc(record)}/codes`),
  code: (app: string, serial: string) => request<CodeDetail>('GET', `/api/v1/apps/${enc(app)}/codes/${enc(serial)}`),
  voidCode: (app: string, serial: string, reason: string) =>
    request<CodeDetail>('POST', `/api/v1/apps/${enc(app)}/codes/${enc(serial)}/void`, { body: { reason } }),
  /** publicPage is where a code's QR leads a consumer. */
  publicPage: (serial: string) => `/t/${enc(serial)}`,
}

/** saveFile hands a file to the browser as a download. */
export function saveFile(f: FileAnswer) {
  const href = URL.createObjectURL(f.blob)
  const a = document.createElement('a')
  a.href = href
  a.download = f.name
  a.rel = 'noopener'
  document.body.appendChild(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(href), 60_000)
}

/** templateForm is the form a template prints (the list answer may carry it beside the draft). */
export function templateForm(t: DesignTemplate): string {
  return t.form || t.draft?.form || ''
}
