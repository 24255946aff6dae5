// The import dialog's steps as an explicit state machine: choose a file → checking (a dry run
// on the server) → preview (rows as they would be stored, every error at its row and column)
// → committing (a background job whose progress is polled) → done; any step may fail, and a
// failure or a preview with errors goes back to choosing a (fixed) file. An event that does
// not fit the current step is an error, never a silent no-op. Pure: unit-tested.

/** ImportError is forms.ImportError: a problem placed as people see the sheet (row 1 is the header). */
export interface ImportError {
  row: number
  column: string
  field?: string
  code: string
  message: string
}

/**
 * PreviewRow is one of a dry run's first rows: as it would be stored when valid, else the
 * values read from its cells.
 */
export interface PreviewRow {
  row: number
  valid: boolean
  data: Record<string, unknown>
}

/** ImportReport is forms.ImportReport. */
export interface ImportReport {
  rows: number
  valid: number
  errors: ImportError[]
  imported: number
  dryRun: boolean
  preview?: PreviewRow[]
}

/** JobState is where a background import is (docs/api.md, Imports). */
export type JobState = 'queued' | 'validating' | 'writing' | 'done' | 'failed' | 'rolled_back'

/** ImportJob is a background import as GET …/imports/{id} answers it. */
export interface ImportJob {
  id: string
  state: JobState
  rows: number
  validated: number
  written: number
  errors: ImportError[]
  errorCount: number
  report?: ImportReport
  error?: { code: string; message: string }
}

/** finished tells whether a job has ended (done, failed or rolled back). */
export function finished(job: ImportJob): boolean {
  return job.state === 'done' || job.state === 'failed' || job.state === 'rolled_back'
}

/** FileLike is what the machine keeps of the chosen file. */
export interface FileLike {
  name: string
  size: number
}

export type ImportState<F extends FileLike = FileLike> =
  | { step: 'choose' }
  | { step: 'checking'; file: F }
  | { step: 'preview'; file: F; report: ImportReport }
  | { step: 'committing'; file: F; report: ImportReport; job?: ImportJob }
  | { step: 'done'; file: F; imported: number }
  | { step: 'failed'; file?: F; report?: ImportReport; error: unknown }

export type ImportEvent<F extends FileLike = FileLike> =
  | { type: 'choose'; file: F }
  | { type: 'checked'; report: ImportReport }
  | { type: 'commit' }
  | { type: 'progress'; job: ImportJob }
  | { type: 'finished'; imported: number }
  | { type: 'failed'; error: unknown; report?: ImportReport }
  | { type: 'reset' }

/** InvalidTransition is an event the current step does not take. */
export class InvalidTransition extends Error {
  constructor(
    readonly step: string,
    readonly event: string,
  ) {
    super(`import: ${event} while ${step}`)
    this.name = 'InvalidTransition'
  }
}

/** canCommit tells whether a checked file may be imported: rows, and not one error. */
export function canCommit(report: ImportReport): boolean {
  return report.errors.length === 0 && report.rows > 0 && report.valid === report.rows
}

/** next is the state after an event, or InvalidTransition. */
export function next<F extends FileLike>(s: ImportState<F>, e: ImportEvent<F>): ImportState<F> {
  const bad = () => new InvalidTransition(s.step, e.type)
  switch (e.type) {
    case 'reset':
      if (s.step === 'checking' || s.step === 'committing') throw bad()
      return { step: 'choose' }
    case 'choose':
      // A new (fixed) file may be chosen whenever nothing is on its way to the server.
      if (s.step === 'checking' || s.step === 'committing') throw bad()
      return { step: 'checking', file: e.file }
    case 'checked':
      if (s.step !== 'checking') throw bad()
      return { step: 'preview', file: s.file, report: e.report }
    case 'commit':
      if (s.step !== 'preview' || !canCommit(s.report)) throw bad()
      return { step: 'committing', file: s.file, report: s.report }
    case 'progress':
      // Another job's progress is a mistake; an answer older than the one shown changes nothing.
      if (s.step !== 'committing' || (s.job && s.job.id !== e.job.id)) throw bad()
      if (s.job && work(e.job) < work(s.job)) return s
      return { ...s, job: e.job }
    case 'finished':
      if (s.step !== 'committing') throw bad()
      return { step: 'done', file: s.file, imported: e.imported }
    case 'failed':
      if (s.step !== 'checking' && s.step !== 'committing') throw bad()
      return { step: 'failed', file: s.file, report: e.report ?? (s.step === 'committing' ? s.report : undefined), error: e.error }
  }
}

// work counts the steps a job has done: each row is validated, then written.
function work(j: ImportJob): number {
  return j.validated + j.written
}

/**
 * percent is the progress of a commit, 0–100: validating is the first half, writing the
 * second (each row is checked once and written once).
 */
export function percent(s: ImportState): number {
  if (s.step === 'done') return 100
  if (s.step !== 'committing' || !s.job || s.job.rows <= 0) return 0
  return Math.min(100, Math.floor((work(s.job) * 50) / s.job.rows))
}

/** errorsAt indexes a report's errors by sheet row and by column header (one list per cell). */
export function errorsAt(errors: ImportError[]): Map<number, Map<string, ImportError[]>> {
  const out = new Map<number, Map<string, ImportError[]>>()
  for (const e of errors) {
    let row = out.get(e.row)
    if (!row) out.set(e.row, (row = new Map()))
    const cell = row.get(e.column) ?? []
    cell.push(e)
    row.set(e.column, cell)
  }
  return out
}

/** templateCSV is an empty sheet to fill: a byte-order mark (Excel reads UTF-8 then) and the header row. */
export function templateCSV(headers: string[]): string {
  return '\ufeff' + headers.map(csvCell).join(',') + '\r\n'
}

function csvCell(s: string): string {
  return /[",\r\n]/.test(s) || /^\s|\s$/.test(s) ? `"${s.replaceAll('"', '""')}"` : s
}

/** JobEnd is how a started import ended: written (how many), or a finished job that wrote nothing. */
export type JobEnd = { ok: true; imported: number } | { ok: false; job: ImportJob; report: ImportReport }

/**
 * followJob starts an import and follows its job to the end: each answer is handed to onJob
 * (for the progress bar), then it waits and asks again, until the job is done, failed or rolled
 * back. A server that imports within the request answers the finished report at once: that is
 * the end. An aborted signal stops the following (the job runs on at the server).
 */
export async function followJob(
  start: () => Promise<ImportJob | ImportReport>,
  get: (id: string) => Promise<ImportJob>,
  wait: () => Promise<void>,
  onJob: (j: ImportJob) => void,
  signal?: AbortSignal,
): Promise<JobEnd | undefined> {
  const first = await start()
  if (!('state' in first)) return { ok: true, imported: first.imported }
  let job = first
  for (;;) {
    if (signal?.aborted) return undefined
    onJob(job)
    if (finished(job)) break
    await wait()
    if (signal?.aborted) return undefined
    job = await get(job.id)
  }
  if (job.state === 'done') return { ok: true, imported: job.report?.imported ?? job.written }
  return { ok: false, job, report: job.report ?? { rows: job.rows, valid: 0, errors: job.errors, imported: 0, dryRun: false } }
}
