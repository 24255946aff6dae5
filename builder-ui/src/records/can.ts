// What the caller may do, as the server says it on the app and the form (App.can, Form.can,
// Form.canTransitions): pages offer only that, so nobody meets a button that answers 403. The
// server still judges each record (row scopes, a transition's condition). Pure: unit-tested.
import type { App, Form } from '../api/types'
import type { Transition } from './bulk'

/** RecordAction is an action on a form's records the server grants. */
export type RecordAction = 'create' | 'read' | 'update' | 'delete' | 'export' | 'import'

/** may tells whether the caller holds action on the form's records (nothing is assumed when the answer is missing). */
export function may(form: Pick<Form, 'can'> | null | undefined, action: RecordAction): boolean {
  return !!form?.can?.includes(action)
}

/** mayDesign tells whether the caller may design the app (its forms and flows). */
export function mayDesign(app: Pick<App, 'can'> | null | undefined): boolean {
  return !!app?.can?.includes('design')
}

/** takeable are the transitions the caller may take, in the form's order. */
export function takeable(form: Pick<Form, 'canTransitions'> | null | undefined, transitions: Transition[] | undefined): Transition[] {
  const allowed = new Set(form?.canTransitions ?? [])
  return (transitions ?? []).filter((t) => allowed.has(t.key))
}

/** bulkActions tells whether the list offers choosing rows: some bulk action is the caller's. */
export function bulkActions(form: Pick<Form, 'can' | 'canTransitions'> | null | undefined, transitions: Transition[] | undefined): boolean {
  return may(form, 'delete') || takeable(form, transitions).length > 0
}

/**
 * navForms are the forms the app's navigation lists: every form (drafts too) for a designer of
 * the app; for anyone else the published forms they hold some record action on.
 */
export function navForms<F extends Pick<Form, 'can' | 'published'>>(forms: F[], design: boolean): F[] {
  return design ? forms : forms.filter((f) => f.published > 0 && (f.can?.length ?? 0) > 0)
}
