export default {
  title: '登录 Tracecraft',
  subtitle: '表单 · 流程 · 追溯',
  username: '用户名',
  password: '密码',
  signIn: '登录',
  signingIn: '正在登录…',
  signOut: '退出登录',
  required: '请输入{field}',
  sessionEnded: '登录已过期，请重新登录',
}
