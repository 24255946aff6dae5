// How the admin screens show a refused write: each bad field's message under that field, and
// one line naming every field for the top of the dialog.
import { ApiError } from '../api/client'
import { errorText } from '../components/errors'
import { i18n } from '../i18n'

/** Problems are a failed write's messages by field path, and the summary line. */
export interface Problems {
  fields: Record<string, string>
  summary: string
}

/**
 * problemsOf reads an error: for field errors (400) each field's message and a summary that
 * names the fields by their labels (labels[path], else the path itself); other errors give
 * their text (with the server's error id) as the summary.
 */
export function problemsOf(e: unknown, labels: Record<string, string> = {}): Problems {
  if (e instanceof ApiError && e.fields.length) {
    const fields: Record<string, string> = {}
    const parts: string[] = []
    for (const f of e.fields) {
      const key = f.field.replace(/^\//, '').replaceAll('/', '.')
      if (!(key in fields)) fields[key] = f.message
      // A label from the server is in the message already.
      parts.push(f.label ? f.message : i18n.global.t('admin.fieldProblem', { field: labels[key] ?? labels[key.split('.')[0]] ?? key, message: f.message }))
    }
    return { fields, summary: parts.join(i18n.global.t('admin.problemSep')) }
  }
  return { fields: {}, summary: errorText(e) }
}

export const noProblems = (): Problems => ({ fields: {}, summary: '' })
