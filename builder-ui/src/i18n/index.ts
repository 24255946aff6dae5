import { createI18n } from 'vue-i18n'
import zhCommon from './zh-CN/common'
import zhAuth from './zh-CN/auth'
import zhShell from './zh-CN/shell'
import zhRecords from './zh-CN/records'
import zhRecordTools from './zh-CN/recordTools'
import zhInbox from './zh-CN/inbox'
import zhDesigner from './zh-CN/designer'
import zhFlowDesigner from './zh-CN/flowDesigner'
import zhAdmin from './zh-CN/admin'
import zhScan from './zh-CN/scan'
import zhNotifications from './zh-CN/notifications'
import zhRules from './zh-CN/rules'
import zhLabels from './zh-CN/labels'
import enCommon from './en/common'
import enAuth from './en/auth'
import enShell from './en/shell'
import enRecords from './en/records'
import enRecordTools from './en/recordTools'
import enInbox from './en/inbox'
import enDesigner from './en/designer'
import enFlowDesigner from './en/flowDesigner'
import enAdmin from './en/admin'
import enScan from './en/scan'
import enNotifications from './en/notifications'
import enRules from './en/rules'
import enLabels from './en/labels'

// Messages are kept per area (one file per area and language); a designer added later brings
// its own files and registers them here under its area's name.
const zhCN = { common: zhCommon, auth: zhAuth, shell: zhShell, records: zhRecords, recordTools: zhRecordTools, inbox: zhInbox, designer: zhDesigner, flowDesigner: zhFlowDesigner, admin: zhAdmin, scan: zhScan, notifications: zhNotifications, labels: zhLabels, rules: zhRules }
const en: typeof zhCN = { common: enCommon, auth: enAuth, shell: enShell, records: enRecords, recordTools: enRecordTools, inbox: enInbox, designer: enDesigner, flowDesigner: enFlowDesigner, admin: enAdmin, scan: enScan, notifications: enNotifications, labels: enLabels, rules: enRules }

export type Locale = 'zh-CN' | 'en'
export const locales: { value: Locale; label: string }[] = [
  { value: 'zh-CN', label: '中文' },
  { value: 'en', label: 'English' },
]

const storageKey = 'tc.lang'

function initialLocale(): Locale {
  const saved = globalThis.localStorage?.getItem(storageKey)
  return saved === 'en' ? 'en' : 'zh-CN'
}

export const i18n = createI18n({
  legacy: false,
  locale: initialLocale(),
  fallbackLocale: 'zh-CN',
  messages: { 'zh-CN': zhCN, en },
})

/** currentLocale is the language the app shows and asks the server to answer in. */
export function currentLocale(): Locale {
  return i18n.global.locale.value as Locale
}

/** setLocale switches the language and keeps the choice for the next visit. */
export function setLocale(l: Locale) {
  i18n.global.locale.value = l
  globalThis.localStorage?.setItem(storageKey, l)
  if (typeof document !== 'undefined') document.documentElement.lang = l
}
