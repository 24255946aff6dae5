// Relation and department values are ids; lists and the record drawer show them by name.
// useRefTitles resolves the ids a page of records (or one record, sub-table rows included)
// holds — relation ids by their target form's title field (one list call per target form and
// page, cached), department ids by the department list — and gives the text a cell shows.
import { shallowRef, type Ref } from 'vue'
import { api, type RecordItem, type Values } from '../api'
import { cachedDepartments } from '../api/records'
import { loadForm } from './formDefinition'
import { titleKeyOf, TitleResolver } from '../records/relation'
import type { FieldSpec } from '../fields/widgets'
import { tx } from '../components/text'

const rowsOf = (v: unknown): Values[] => (Array.isArray(v) ? v.filter((x): x is Values => !!x && typeof x === 'object') : [])
const idsOf = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : typeof v === 'string' && v ? [v] : [])

export function useRefTitles(app: Ref<string>) {
  // Bumped when titles arrive, so cells read again.
  const version = shallowRef(0)
  const resolvers = new Map<string, Promise<TitleResolver>>()
  // The resolvers ready, read synchronously by cells.
  const ready = new Map<string, TitleResolver>()
  let departments = new Map<string, string>()

  function resolverFor(spec: FieldSpec): Promise<TitleResolver> {
    const key = `${app.value}/${spec.target}/${spec.displayField ?? ''}`
    let r = resolvers.get(key)
    if (!r) {
      r = loadForm(app.value, spec.target!).then((rt) => {
        const titleKey = rt ? titleKeyOf(rt.version.definition, spec.displayField) : ''
        const res = new TitleResolver((q) => api.records(app.value, spec.target!, q), titleKey)
        ready.set(key, res)
        return res
      })
      r.catch(() => resolvers.delete(key))
      resolvers.set(key, r)
    }
    return r
  }

  /**
   * resolve learns the titles of the references in rows (failures leave ids showing); deep, those
   * in their sub-tables' rows too (a list shows a sub-table as a count, a record its rows).
   */
  async function resolve(specs: FieldSpec[], rows: Pick<RecordItem, 'data'>[], deep = false) {
    await Promise.allSettled(jobsFor(specs, rows, deep))
    version.value++
  }

  function jobsFor(specs: FieldSpec[], rows: Pick<RecordItem, 'data'>[], deep: boolean): Promise<unknown>[] {
    const jobs: Promise<unknown>[] = []
    for (const s of specs) {
      if (s.widget === 'subtable') {
        if (deep && s.columns) jobs.push(...jobsFor(s.columns, rows.flatMap((r) => rowsOf(r.data[s.key]).map((data) => ({ data }))), false))
        continue
      }
      const ids = [...new Set(rows.flatMap((r) => idsOf(r.data[s.key])))]
      if (!ids.length) continue
      if (s.widget === 'relation' && s.target) jobs.push(resolverFor(s).then((r) => r.resolve(ids)))
      if (s.widget === 'department') {
        jobs.push(cachedDepartments().then((ds) => (departments = new Map(ds.map((d) => [d.id, tx(d.name, d.id)])))))
      }
    }
    return jobs
  }

  /** text is a reference cell's text, or undefined for other fields. */
  function text(spec: FieldSpec, v: unknown): string | undefined {
    void version.value
    if (spec.widget === 'department') return idsOf(v).map((id) => departments.get(id) ?? id).join(', ')
    if (spec.widget !== 'relation') return undefined
    const r = ready.get(`${app.value}/${spec.target}/${spec.displayField ?? ''}`)
    return idsOf(v).map((id) => r?.title(id) ?? id).join(', ')
  }

  return { resolve, text }
}
