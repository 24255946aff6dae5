// The record list's state → the export's query (GET …/records/export, api/forms_io.go), and the
// file name the server gives the download. Pure: unit-tested.
import type { Filter } from '../api/types'

export type ExportFormat = 'csv' | 'xlsx'

/** ListState is what the list shows: its filters, its sort and the columns chosen. */
export interface ListState {
  filters: Filter[]
  sort: { field: string; desc: boolean } | null
  /** columns are the field keys shown, in any order; system columns (status, times) always come. */
  columns: string[]
}

/**
 * exportQuery is the query of an export of what the list shows: the same filters and sort,
 * the visible field columns (the server adds its system columns and leaves out fields the
 * caller may not see), the format and the language of headers and values.
 */
export function exportQuery(state: ListState, format: ExportFormat, lang: string): Record<string, string> {
  const q: Record<string, string> = { format, lang }
  if (state.filters.length) q.filter = JSON.stringify(state.filters)
  if (state.sort) q.sort = (state.sort.desc ? '-' : '') + state.sort.field
  // Status and createdAt are columns of the list but system columns of the export.
  const fields = state.columns.filter((k) => !systemKeys.has(k))
  if (fields.length) q.fields = fields.join(',')
  return q
}

const systemKeys = new Set(['id', 'status', 'createdBy', 'createdAt', 'updatedBy', 'updatedAt'])

/**
 * fileNameOf reads a Content-Disposition header: the RFC 5987 filename* (the form's name in the
 * caller's language) when there is one, else the plain filename, else fallback.
 */
export function fileNameOf(disposition: string | null, fallback: string): string {
  if (!disposition) return fallback
  const star = /filename\*\s*=\s*([^']*)'[^']*'([^;]+)/i.exec(disposition)
  if (star) {
    try {
      return decodeURIComponent(star[2].trim())
    } catch {
      // a malformed encoding: the plain name below
    }
  }
  const plain = /filename\s*=\s*"([^"]*)"|filename\s*=\s*([^;]+)/i.exec(disposition)
  const name = plain?.[1] ?? plain?.[2]?.trim()
  return name || fallback
}
