// Relation fields point at records of another form by id; people know those records by their
// title — the relation's displayField, else the target form's titleField. This module finds
// which field is the title, builds the searches the picker sends to the list API and resolves
// ids to titles in batches with a cache. Pure apart from the list call it is given:
// unit-tested.
import type { Definition, ListQuery, ListResult, RecordItem } from '../api/types'

/** Types whose values can be searched with contains (strings the list stores as text). */
const textTypes = new Set(['text', 'textarea', 'scan', 'autonumber', 'select', 'radio'])

/**
 * titleKeyOf is the target form's field that names its records: the relation's displayField
 * when the target has it, else the target's titleField, else its first text field; '' when it
 * has none (records are then shown and found by id).
 */
export function titleKeyOf(target: Definition, displayField?: string): string {
  const props = target.schema.properties ?? {}
  if (displayField && props[displayField]) return displayField
  if (target.titleField && props[target.titleField]) return target.titleField
  for (const [k, s] of Object.entries(props)) if (textTypes.has(s['x-type'])) return k
  return ''
}

/** searchable tells whether the title field can be searched by part of its text. */
export function searchable(target: Definition, titleKey: string): boolean {
  const t = target.schema.properties?.[titleKey]?.['x-type']
  return !!t && textTypes.has(t)
}

/**
 * searchQuery finds target records by their title: containing text (an exact id when the title
 * is not text), newest first, only the title field read.
 */
export function searchQuery(target: Definition, titleKey: string, text: string, limit = 20): ListQuery {
  const q = text.trim()
  const fields = titleKey ? [titleKey] : []
  if (!q) return { limit, fields }
  if (titleKey && searchable(target, titleKey)) return { filters: [{ field: titleKey, op: 'contains', value: q }], limit, fields }
  return { filters: [{ field: 'id', op: 'eq', value: q }], limit, fields }
}

/** titleText is a record's title as text: its title field's value, else its id. */
export function titleText(r: Pick<RecordItem, 'id' | 'data'>, titleKey: string): string {
  const v = titleKey ? r.data?.[titleKey] : undefined
  if (typeof v === 'string' && v.trim()) return v
  if (typeof v === 'number' || typeof v === 'boolean') return String(v)
  if (Array.isArray(v) && v.length) return v.map(String).join(', ')
  return r.id
}

/** The list call a resolver uses: one page of the target form's records. */
export type ListFn = (q: ListQuery) => Promise<ListResult>

/** Most ids one `in` filter may carry (forms/record_list.go). */
export const maxIn = 500

/**
 * TitleResolver turns ids into titles with as few list calls as it can: ids it has not seen
 * are asked for together (id in […], up to 500 a call); what it learns — titles, and ids the
 * caller cannot find or see (null) — is kept for the picker's lifetime.
 */
export class TitleResolver {
  private known = new Map<string, string | null>()
  private pending = new Map<string, Promise<void>>()

  constructor(
    private list: ListFn,
    private titleKey: string,
  ) {}

  /** remember keeps titles the picker already has (search results). */
  remember(records: Pick<RecordItem, 'id' | 'data'>[]) {
    for (const r of records) this.known.set(r.id, titleText(r, this.titleKey))
  }

  /** title is what is known of id: its title, null when it was not found, undefined when not asked yet. */
  title(id: string): string | null | undefined {
    return this.known.get(id)
  }

  /** resolve asks for the ids it does not know yet and returns the titles of all (null when not found). */
  async resolve(ids: string[]): Promise<Map<string, string | null>> {
    const missing = [...new Set(ids)].filter((id) => id && !this.known.has(id) && !this.pending.has(id))
    for (let i = 0; i < missing.length; i += maxIn) {
      const chunk = missing.slice(i, i + maxIn)
      const p = this.list({ filters: [{ field: 'id', op: 'in', value: chunk }], limit: chunk.length, fields: this.titleKey ? [this.titleKey] : [] })
        .then((res) => {
          this.remember(res.items)
          for (const id of chunk) if (!this.known.has(id)) this.known.set(id, null)
        })
        .finally(() => chunk.forEach((id) => this.pending.delete(id)))
      for (const id of chunk) this.pending.set(id, p)
    }
    await Promise.all(ids.map((id) => this.pending.get(id)).filter(Boolean))
    return new Map(ids.map((id) => [id, this.known.get(id) ?? null]))
  }
}
