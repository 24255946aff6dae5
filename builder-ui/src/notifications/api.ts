// The notification centre's endpoints (docs/rules.md, API): a user's own notifications, newest
// first, with the unread count, and marking them read.
import { request } from '../api/client'

/** Notification is one in-app notification (rules/notifications.go): title and body are user text. */
export interface Notification {
  id: string
  app?: string
  form?: string
  record?: string
  title: string
  body?: string
  at: string
  read: boolean
}

/** NotificationList is a page, newest first, with the unread count (capped at 1000 by the server). */
export interface NotificationList {
  items: Notification[]
  unread: number
  next?: string
}

export const notificationsApi = {
  list: (limit: number, next?: string) => request<NotificationList>('GET', '/api/v1/notifications', { query: { limit, next } }),
  /** unread asks only for the count: one unread item is the smallest page. */
  unread: () => request<NotificationList>('GET', '/api/v1/notifications', { query: { limit: 1, unread: true } }),
  markRead: (ids: string[]) => request<{ changed: number }>('POST', '/api/v1/notifications/read', { body: { ids } }),
  markAllRead: () => request<{ changed: number }>('POST', '/api/v1/notifications/read', { body: { all: true } }),
}
