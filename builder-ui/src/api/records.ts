// The record list's bulk and file endpoints: export, import (checked, then committed), status
// transitions, and what the record form's pickers read (departments). Every call goes through
// client.request (or client.download for files).
import { download, request } from './client'
import type { RecordItem } from './types'
import type { ImportJob, ImportReport } from '../records/importFlow'
import type { Department } from '../records/departments'
import { fileNameOf, type ExportFormat } from '../records/exportQuery'

const enc = encodeURIComponent
const formPath = (app: string, form: string) => `/api/v1/apps/${enc(app)}/forms/${enc(form)}`

/** ExportFile is a finished export: the file, its name and the number of records in it. */
export interface ExportFile {
  blob: Blob
  name: string
  rows: number
}

export const recordsApi = {
  /** exportFile downloads the records an export query matches, the whole file read into a Blob. */
  async exportFile(app: string, form: string, query: Record<string, string>, signal?: AbortSignal): Promise<ExportFile> {
    const res = await download(`${formPath(app, form)}/records/export`, query, signal)
    const format = (query.format ?? 'xlsx') as ExportFormat
    const blob = await res.blob()
    return {
      blob,
      name: fileNameOf(res.headers.get('Content-Disposition'), `${form}.${format}`),
      rows: Number(res.headers.get('X-Export-Rows') ?? 0),
    }
  },

  /** checkImport runs a dry run of an import: every row checked, nothing written. */
  checkImport: (app: string, form: string, file: File) => {
    const body = new FormData()
    body.append('file', file)
    return request<ImportReport>('POST', `${formPath(app, form)}/records/import`, { body, query: { dryRun: true } })
  },

  /**
   * startImport starts the import as a background job (202 with the job). A server that still
   * imports in the request answers the finished report instead: both are returned as they come.
   */
  startImport: (app: string, form: string, file: File) => {
    const body = new FormData()
    body.append('file', file)
    return request<ImportJob | ImportReport>('POST', `${formPath(app, form)}/records/import`, { body })
  },

  importJob: (app: string, form: string, id: string, signal?: AbortSignal) =>
    request<ImportJob>('GET', `${formPath(app, form)}/imports/${enc(id)}`, { signal }),

  transition: (app: string, form: string, id: string, rev: number, transition: string) =>
    request<RecordItem>('POST', `${formPath(app, form)}/records/${enc(id)}/transitions`, { body: { rev, transition } }),

  departments: () => request<Department[]>('GET', '/api/v1/departments'),
}

// Departments change rarely: read once per page load (again after a failure).
let departments: Promise<Department[]> | null = null

/** cachedDepartments is the department list, asked for once. */
export function cachedDepartments(): Promise<Department[]> {
  departments ??= recordsApi.departments()
  departments.catch(() => (departments = null))
  return departments
}

/** saveFile hands a file to the browser as a download. */
export function saveFile(blob: Blob, name: string) {
  const href = URL.createObjectURL(blob)
  const a = document.createElement('a')
  a.href = href
  a.download = name
  a.style.display = 'none'
  document.body.appendChild(a)
  a.click()
  a.remove()
  // The download has taken the blob by the next task; the URL would otherwise keep it alive.
  setTimeout(() => URL.revokeObjectURL(href), 10_000)
}
