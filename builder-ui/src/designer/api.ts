// The designer's endpoints (docs/forms.md "Drafts and versions"), through the app's one HTTP
// client (api/client.ts).
import { request } from '../api/client'
import type { Form, Text } from '../api/types'
import type { FormDoc } from './model'
import type { FieldTypeInfo } from './palette'

const enc = encodeURIComponent
const formPath = (app: string, form: string) => `/api/v1/apps/${enc(app)}/forms/${enc(form)}`

/** DesignForm is forms.Form with its draft as the designer reads it. */
export interface DesignForm extends Omit<Form, 'draft'> {
  draft: FormDoc
  updatedBy?: string
}

/** DesignVersion is forms.Version. */
export interface DesignVersion {
  id: string
  key: string
  version: number
  /** unchanged: the draft was the same as this version, so none was made. */
  unchanged?: boolean
  definition: FormDoc
  publishedBy?: string
  publishedAt: string
}

/** RoleInfo is engine.Role, as far as the designer needs it. */
export interface RoleInfo {
  name: string
  label?: Text
}

export const designerApi = {
  fieldTypes: () => request<FieldTypeInfo[]>('GET', '/api/v1/form-meta/field-types'),
  forms: (app: string) => request<DesignForm[]>('GET', `/api/v1/apps/${enc(app)}/forms`),
  form: (app: string, form: string) => request<DesignForm>('GET', formPath(app, form)),
  /** create saves a new form's first draft. */
  create: (app: string, def: FormDoc) => request<DesignForm>('POST', `/api/v1/apps/${enc(app)}/forms`, { body: def }),
  /** save saves the draft over revision rev (a stale rev is a 409). */
  save: (app: string, def: FormDoc, rev: number) => request<DesignForm>('PUT', formPath(app, def.key), { query: { rev }, body: def }),
  publish: (app: string, form: string) => request<DesignVersion>('POST', `${formPath(app, form)}/publish`),
  versions: (app: string, form: string) => request<DesignVersion[]>('GET', `${formPath(app, form)}/versions`),
  /** roles lists the system's roles (administrators only: others get a 403). */
  roles: () => request<RoleInfo[]>('GET', '/api/v1/roles'),
}
