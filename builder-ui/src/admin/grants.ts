// The actions a role's grant can give (the ones the server checks: engine/auth.go, and "*"
// for every action), by where they apply: the platform (app "") or an app ("*": every app).
import type { Grant } from './api'

/** platformActions are granted with app "" (the platform itself). */
export const platformActions = ['system.admin', '*'] as const
/** appActions are granted on one app, or every app ("*"). */
export const appActions = ['app.read', 'app.design', '*'] as const

/** actionsFor lists the actions a grant on app may give, the ones it already has first if unknown. */
export function actionsFor(g: Grant): string[] {
  const known: readonly string[] = g.app === '' ? platformActions : appActions
  return [...known, ...g.actions.filter((a) => !known.includes(a))]
}

/** toggle adds or removes an action of a grant, keeping the listed order. */
export function toggle(g: Grant, action: string, on: boolean): Grant {
  const have = new Set(g.actions)
  if (on) have.add(action)
  else have.delete(action)
  return { ...g, actions: actionsFor(g).filter((a) => have.has(a)) }
}

/** actionKey is where an action's name is in the messages (admin.roles.action.KEY). */
export function actionKey(a: string): string {
  return a === '*' ? 'all' : a.replaceAll('.', '_')
}
