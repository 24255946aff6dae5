export default {
  title: '通知',
  open: '通知',
  openUnread: '通知，{n} 条未读',
  unread: '未读',
  markAll: '全部已读',
  empty: '暂无通知',
  more: '加载更多',
  list: '通知列表',
  now: '刚刚',
  minutes: '{n} 分钟前',
  hours: '{n} 小时前',
  days: '{n} 天前',
}
