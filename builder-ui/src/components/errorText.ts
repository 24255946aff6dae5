import { ApiError } from '../api/client'
import { i18n } from '../i18n'

/** errorText is what a person reads about a failure: the server's message, and its id when it has one. */
export function errorText(e: unknown): string {
  const t = i18n.global.t
  if (e instanceof ApiError) {
    const msg = e.message || t('common.errorCode', { code: e.code })
    return e.id && !msg.includes(e.id) ? `${msg}（${t('common.errorId', { id: e.id })}）` : msg
  }
  return e instanceof Error ? e.message : String(e)
}
