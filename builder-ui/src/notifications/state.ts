// The notification centre's logic, apart from Vue and the DOM: when the unread count is asked
// for (every minute while the tab is visible), what the list holds after a page or a read mark,
// and where a notification leads.
import type { Notification, NotificationList } from './api'

/** pollInterval is how often the unread count is asked for while the tab is visible. */
export const pollInterval = 60_000

/** Clock is what the poller needs of the browser: the time, timers and the tab's visibility. */
export interface Clock {
  now: () => number
  setTimeout: (f: () => void, ms: number) => unknown
  clearTimeout: (h: unknown) => void
  visible: () => boolean
}

/** Poller asks for the count (tick) now and every interval while the tab is visible. */
export interface Poller {
  /** start ticks at once (after sign-in) and keeps ticking. */
  start: () => void
  /** visibilityChanged is called on the document's visibilitychange. */
  visibilityChanged: () => void
  /** stop ends the ticking (the shell is gone, the user signed out). */
  stop: () => void
}

/**
 * createPoller ticks at start and then every interval while clock.visible(); a hidden tab asks
 * nothing, and on becoming visible it ticks at once if a whole interval has passed since the last
 * tick, else at the end of that interval. A tick that is still running is not started again.
 */
export function createPoller(tick: () => Promise<unknown> | void, clock: Clock, interval = pollInterval): Poller {
  let timer: unknown = null
  let last = -Infinity
  let running = false
  let stopped = true

  const clear = () => {
    if (timer !== null) clock.clearTimeout(timer)
    timer = null
  }
  const schedule = (ms: number) => {
    clear()
    if (!stopped && clock.visible()) timer = clock.setTimeout(fire, Math.max(0, ms))
  }
  async function fire() {
    timer = null
    if (stopped || !clock.visible()) return
    if (running) {
      // The last tick hangs (a slow server): look again after a whole interval, not at once.
      schedule(interval)
      return
    }
    running = true
    last = clock.now()
    try {
      await tick()
    } catch {
      // The count is a hint: the next tick tries again.
    } finally {
      running = false
    }
    schedule(interval - (clock.now() - last))
  }

  return {
    start() {
      stopped = false
      last = -Infinity
      schedule(0)
    },
    visibilityChanged() {
      if (stopped) return
      if (!clock.visible()) clear()
      else schedule(interval - (clock.now() - last))
    },
    stop() {
      stopped = true
      clear()
    },
  }
}

/** countText is the header's badge: nothing for none, 99+ beyond 99. */
export function countText(n: number): string {
  if (n <= 0) return ''
  return n > 99 ? '99+' : String(n)
}

/** ListState is what the centre shows: the notifications loaded, newest first, and the next page. */
export interface ListState {
  items: Notification[]
  next: string
  unread: number
}

export const emptyList = (): ListState => ({ items: [], next: '', unread: 0 })

/** withPage adds a page to the list (first: it replaces it), each notification once, newest first. */
export function withPage(s: ListState, page: NotificationList, first: boolean): ListState {
  const byId = new Map<string, Notification>()
  for (const n of first ? page.items : [...s.items, ...page.items]) byId.set(n.id, n)
  const items = [...byId.values()].sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0))
  return { items, next: page.next ?? '', unread: page.unread }
}

/** withRead marks ids read in the list and lowers the count by those that were unread. */
export function withRead(s: ListState, ids: string[]): ListState {
  const set = new Set(ids)
  let changed = 0
  const items = s.items.map((n) => {
    if (!set.has(n.id) || n.read) return n
    changed++
    return { ...n, read: true }
  })
  return { ...s, items, unread: Math.max(0, s.unread - changed) }
}

/** withAllRead marks every loaded notification read; unread is what the server still counts. */
export function withAllRead(s: ListState, unread: number): ListState {
  return { ...s, items: s.items.map((n) => (n.read ? n : { ...n, read: true })), unread }
}

/** RecordLink is where a notification leads: its record in its form's list, or the form's list. */
export interface RecordLink {
  path: string
  query?: { open: string }
}

/** recordLink is the page a notification names (app, form, record), or null when it names none. */
export function recordLink(n: Pick<Notification, 'app' | 'form' | 'record'>): RecordLink | null {
  if (!n.app) return null
  const enc = encodeURIComponent
  if (!n.form) return { path: `/apps/${enc(n.app)}` }
  const path = `/apps/${enc(n.app)}/forms/${enc(n.form)}`
  return n.record ? { path, query: { open: n.record } } : { path }
}

/** Age is how long ago a notification came, for the language's words; null past a week (show the date). */
export type Age = { unit: 'now' } | { unit: 'm' | 'h' | 'd'; n: number } | null

/** age says how long before now (ms) the time at (ISO) was. */
export function age(at: string, now: number): Age {
  const t = Date.parse(at)
  if (Number.isNaN(t)) return null
  const min = Math.floor((now - t) / 60_000)
  if (min < 1) return { unit: 'now' }
  if (min < 60) return { unit: 'm', n: min }
  if (min < 24 * 60) return { unit: 'h', n: Math.floor(min / 60) }
  if (min < 7 * 24 * 60) return { unit: 'd', n: Math.floor(min / (24 * 60)) }
  return null
}
