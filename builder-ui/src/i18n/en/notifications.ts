import type zh from '../zh-CN/notifications'

const en: typeof zh = {
  title: 'Notifications',
  open: 'Notifications',
  openUnread: 'Notifications, {n} unread',
  unread: 'Unread',
  markAll: 'Mark all read',
  empty: 'No notifications',
  more: 'Load more',
  list: 'Notifications',
  now: 'just now',
  minutes: '{n} min ago',
  hours: '{n} h ago',
  days: '{n} d ago',
}

export default en
