import type { Text } from '../api/types'
import { currentLocale } from '../i18n'

/** tx picks a server Text in the app's language, falling back to the other one. */
export function tx(t: Text | undefined | null, fallback = ''): string {
  if (!t) return fallback
  const l = currentLocale()
  return (l === 'en' ? t.en || t['zh-CN'] : t['zh-CN'] || t.en) || fallback
}

/** when formats a server time for people, in the browser's zone. */
export function when(iso: string | undefined): string {
  if (!iso) return ''
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return iso
  const p = (n: number) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`
}
