import { createApp } from 'vue'
import { createPinia } from 'pinia'
import App from './App.vue'
import { router } from './router'
import { i18n, currentLocale } from './i18n'
import { configure } from './api/client'
import { useSession } from './stores/session'
import './styles.css'

const app = createApp(App)
const pinia = createPinia()
app.use(pinia).use(i18n).use(router)

const t = i18n.global.t
configure({
  language: currentLocale,
  texts: () => ({ network: t('common.networkError'), http: (status) => t('common.httpError', { status }) }),
  unauthenticated: () => {
    // The session ended (expired, signed out elsewhere): back to sign-in, then here again.
    useSession(pinia).forget()
    const here = router.currentRoute.value
    if (!here.meta.public) router.push({ name: 'login', query: { next: here.fullPath } })
  },
})
document.documentElement.lang = currentLocale()
app.mount('#app')
