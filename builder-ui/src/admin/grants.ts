// The actions a role's grant can give come from the server (GET /api/v1/admin/actions: the
// ones it checks, with labels and where each applies), so the role editor offers what the
// server knows, not a copy of it kept here.
import type { Grant, GrantAction } from './api'

/** applies says where a grant on app gives its actions: the platform (app "") or an app (one, or "*": every app). */
function applies(app: string): 'platform' | 'app' {
  return app === '' ? 'platform' : 'app'
}

/** actionsFor lists the actions a grant on g.app may give (the catalogue's order), then any it already has that the catalogue lacks. */
export function actionsFor(g: Grant, catalogue: readonly GrantAction[]): string[] {
  const known = catalogue.filter((a) => a.on.includes(applies(g.app))).map((a) => a.id)
  return [...known, ...g.actions.filter((a) => !known.includes(a))]
}

/** toggle adds or removes an action of a grant, keeping the listed order. */
export function toggle(g: Grant, action: string, on: boolean, catalogue: readonly GrantAction[]): Grant {
  const have = new Set(g.actions)
  if (on) have.add(action)
  else have.delete(action)
  return { ...g, actions: actionsFor(g, catalogue).filter((a) => have.has(a)) }
}

/** actionLabel is an action's label from the catalogue (in the language pick gives), else its id. */
export function actionLabel(id: string, catalogue: readonly GrantAction[], pick: (t: GrantAction['label']) => string): string {
  const a = catalogue.find((x) => x.id === id)
  return (a && pick(a.label)) || id
}
