// What changed between two versions of a form: fields added, removed, relabelled, retyped, made
// required or optional, or with other settings changed — by field key, columns as "lines.qty" —
// and whether the layout or the role rules changed.
import type { FieldSchema, Text } from '../api/types'
import type { FormDoc } from './model'

export type ChangeKind = 'added' | 'removed' | 'label' | 'type' | 'required' | 'optional' | 'settings'

/** FieldChange is one change to one field. */
export interface FieldChange {
  kind: ChangeKind
  /** key is the field's key; a column's is "subtable.column". */
  key: string
  /** label is the field's label (the newer one when it has both). */
  label?: Text
  before?: string
  after?: string
}

/** DefinitionDiff is what changed from one definition to another. */
export interface DefinitionDiff {
  fields: FieldChange[]
  layout: boolean
  permissions: boolean
  form: boolean
}

interface Flat {
  prop: FieldSchema
  required: boolean
}

function flatten(def: FormDoc | undefined): Map<string, Flat> {
  const out = new Map<string, Flat>()
  const walk = (props: Record<string, FieldSchema> | undefined, required: string[] | undefined, prefix: string) => {
    for (const [k, p] of Object.entries(props ?? {})) {
      out.set(prefix + k, { prop: p, required: !!required?.includes(k) })
      const items = p.items as { properties?: Record<string, FieldSchema>; required?: string[] } | undefined
      if (items?.properties) walk(items.properties, items.required, `${prefix}${k}.`)
    }
  }
  walk(def?.schema?.properties, def?.schema?.required, '')
  return out
}

/** stable is JSON with sorted keys, so equal values compare equal whatever their key order. */
export function stable(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>
    return `{${Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${stable(o[k])}`).join(',')}}`
  }
  return JSON.stringify(v) ?? 'null'
}

const labelText = (t: Text | undefined) => [t?.['zh-CN'] ?? '', t?.en ?? ''].filter(Boolean).join(' / ')

/** diffDefinitions lists what changed from before to after (before undefined: everything is new). */
export function diffDefinitions(before: FormDoc | undefined, after: FormDoc): DefinitionDiff {
  const a = flatten(before)
  const b = flatten(after)
  const fields: FieldChange[] = []
  for (const [key, nb] of b) {
    const na = a.get(key)
    const label = nb.prop['x-label']
    if (!na) {
      fields.push({ kind: 'added', key, label, after: nb.prop['x-type'] })
      continue
    }
    if (stable(na.prop['x-label']) !== stable(label)) {
      fields.push({ kind: 'label', key, label, before: labelText(na.prop['x-label']), after: labelText(label) })
    }
    if (na.prop['x-type'] !== nb.prop['x-type']) {
      fields.push({ kind: 'type', key, label, before: na.prop['x-type'], after: nb.prop['x-type'] })
    }
    if (na.required !== nb.required) fields.push({ kind: nb.required ? 'required' : 'optional', key, label })
    const rest = (p: FieldSchema) => {
      const o = { ...p } as Record<string, unknown>
      delete o['x-label']
      delete o['x-type']
      delete o.items
      return stable(o)
    }
    if (rest(na.prop) !== rest(nb.prop)) fields.push({ kind: 'settings', key, label })
  }
  for (const [key, na] of a) {
    if (!b.has(key)) fields.push({ kind: 'removed', key, label: na.prop['x-label'], before: na.prop['x-type'] })
  }
  const formRest = (d: FormDoc | undefined) => {
    if (!d) return ''
    const o = { ...d } as Record<string, unknown>
    delete o.schema
    delete o.layout
    delete o.permissions
    return stable(o)
  }
  return {
    fields,
    layout: stable(before?.layout) !== stable(after.layout),
    permissions: stable(before?.permissions) !== stable(after.permissions),
    form: !!before && formRest(before) !== formRest(after),
  }
}

/** diffIsEmpty tells that nothing changed. */
export function diffIsEmpty(d: DefinitionDiff): boolean {
  return !d.fields.length && !d.layout && !d.permissions && !d.form
}
