// The server's complaints about a definition, placed where the designer shows them: under the
// field they name (a JSON pointer such as /schema/properties/total/x-options/expr), or on the
// form. An expression error's line and column are read from its message ("line 1, column 7:").
import type { FieldIssue } from '../api/client'
import { fieldByKey, type DesignerState, type FieldId } from './model'

/** Problem is one complaint: the part of the field it is about ('' for the field), and the message. */
export interface Problem {
  /** path is relative to the field, with slashes: "x-options/expr", "x-label", "". */
  path: string
  code: string
  message: string
  /** line and column are set for expression errors that give them. */
  line?: number
  column?: number
}

/** Problems are a save's complaints: by field id, and the rest for the form. */
export interface Problems {
  fields: Record<FieldId, Problem[]>
  form: Problem[]
}

export const noProblems: Problems = { fields: {}, form: [] }

const position = /line (\d+), column (\d+)/

function unescape(seg: string): string {
  return seg.replace(/~1/g, '/').replace(/~0/g, '~')
}

/** placeProblems sorts a save's field issues onto the fields of the state that was saved. */
export function placeProblems(s: DesignerState, issues: FieldIssue[]): Problems {
  const out: Problems = { fields: {}, form: [] }
  for (const is of issues) {
    const p: Problem = { path: '', code: is.code, message: is.message }
    const m = position.exec(is.message)
    if (m) {
      p.line = Number(m[1])
      p.column = Number(m[2])
    }
    const segs = is.field.replace(/^\//, '').split('/').map(unescape)
    let id: FieldId | undefined
    let rest: string[] = []
    if (segs[0] === 'schema' && segs[1] === 'properties' && segs[2]) {
      const top = fieldByKey(s, segs[2])
      id = top?.id
      rest = segs.slice(3)
      if (top?.columns && rest[0] === 'items' && rest[1] === 'properties' && rest[2]) {
        const col = fieldByKey(s, rest[2], top.id)
        if (col) {
          id = col.id
          rest = rest.slice(3)
        }
      }
    }
    if (id) {
      p.path = rest.join('/')
      ;(out.fields[id] ??= []).push(p)
    } else {
      p.path = is.field
      out.form.push(p)
    }
  }
  return out
}

/** problemAt lists a field's problems about one of its parts ("x-options/expr"), or all with no part. */
export function problemsAt(ps: Problems, field: FieldId, path?: string): Problem[] {
  const list = ps.fields[field] ?? []
  return path === undefined ? list : list.filter((p) => p.path === path || p.path.startsWith(path + '/'))
}
