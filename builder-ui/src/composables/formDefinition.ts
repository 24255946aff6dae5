import { api, type Form, type Version } from '../api'
import { fieldSpecs, type FieldSpec } from '../fields/widgets'

// Published versions never change: they are fetched once per form and page load, and again
// only when the form says it has a newer one.
const versionsCache = new Map<string, Promise<Version[]>>()

async function versionsOf(app: string, form: Form): Promise<Version[]> {
  const key = `${app}/${form.key}`
  let p = versionsCache.get(key)
  if (p) {
    const vs = await p
    if (vs.some((v) => v.version === form.published)) return vs
  }
  p = api.versions(app, form.key)
  versionsCache.set(key, p)
  p.catch(() => versionsCache.delete(key))
  return p
}

/** FormRuntime is a form as the record pages use it: its published version and fields. */
export interface FormRuntime {
  form: Form
  version: Version
  specs: FieldSpec[]
}

/**
 * loadForm reads a form and the definition records are written with: its latest published
 * version, or version n for a record kept in an older one. undefined when never published.
 */
export async function loadForm(app: string, formKey: string, n = 0): Promise<FormRuntime | undefined> {
  const form = await api.form(app, formKey)
  if (!form.published) return undefined
  const vs = await versionsOf(app, form)
  const want = n || form.published
  const version = vs.find((v) => v.version === want) ?? vs.find((v) => v.version === form.published)
  if (!version) return undefined
  return { form, version, specs: fieldSpecs(version.definition.schema) }
}
