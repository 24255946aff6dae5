// 标签打印机: the label printers' endpoints (api/printers.go, docs/printing.md "Label printers")
// and the list edits the printer screen makes. The server keeps the printers as one list with a
// revision: adding, changing or deleting one printer sends the whole list back with the
// revision read, and a mistake comes back naming its place in the list (printers.2.host).
import { request } from '../api/client'
import type { Problems } from './problems'

const enc = encodeURIComponent

/** Printer is printing.Printer: port, dpi and timeout are left out (0) for their defaults. */
export interface Printer {
  name: string
  host: string
  port?: number
  language: 'zpl' | 'tspl'
  dpi?: number
  timeout?: number
}

/** PrinterList is printing.PrinterList. */
export interface PrinterList {
  printers: Printer[]
  rev: number
}

/** TestPrintResult is printing.TestPrintResult: what 测试打印 sent. */
export interface TestPrintResult {
  printer: string
  addr: string
  language: string
  dpi: number
  bytes: number
  at: string
}

/** The defaults the server applies to a printer's zero values. */
export const printerDefaults = { port: 9100, dpi: 203, timeout: 10 } as const

/** The resolutions label printers are made with. */
export const printerDPIs = [203, 300, 600] as const

export const printersApi = {
  list: () => request<PrinterList>('GET', '/api/v1/admin/printers'),
  /** put replaces the list, read at revision rev (a stale one is a 409). */
  put: (printers: Printer[], rev: number) => request<PrinterList>('PUT', '/api/v1/admin/printers', { body: { printers, rev } }),
  /** test sends the one-label test page to the printer named name. */
  test: (name: string) => request<TestPrintResult>('POST', `/api/v1/admin/printers/${enc(name)}/test`),
}

/** withPrinter is list with p in place of entry index (-1: p added at the end). */
export function withPrinter(list: Printer[], index: number, p: Printer): Printer[] {
  return index < 0 ? [...list, p] : list.map((x, i) => (i === index ? p : x))
}

/** withoutPrinter is list without entry index. */
export function withoutPrinter(list: Printer[], index: number): Printer[] {
  return list.filter((_, i) => i !== index)
}

/**
 * problemsAt splits a refused list into the problems of entry index, by its own field names
 * (host, port…), and the rest: what concerns other entries or the whole list (its summary).
 */
export function problemsAt(p: Problems, index: number): { fields: Record<string, string>; others: string[] } {
  const own = `printers.${index}.`
  const fields: Record<string, string> = {}
  const others: string[] = []
  for (const [k, v] of Object.entries(p.fields)) {
    if (k.startsWith(own)) fields[k.slice(own.length)] = v
    else others.push(v)
  }
  return { fields, others }
}

/**
 * portInput reads what was typed in the port box: blank is the default (0, left out), digits
 * are the number (the server says when it is out of range); anything else is undefined.
 */
export function portInput(s: string): number | undefined {
  const t = s.trim()
  if (t === '') return 0
  return /^\d{1,6}$/.test(t) ? Number(t) : undefined
}
