import { defineStore } from 'pinia'
import { ref } from 'vue'
import { api, ApiError, type Me } from '../api'

/** isAdmin tells whether the user may administer the system (users, roles, the audit log). */
export function isAdmin(me: Me | null | undefined): boolean {
  return !!me?.permissions?.includes('system.admin')
}

/** The signed-in user. The session itself is the server's cookie; this only remembers who it is. */
export const useSession = defineStore('session', () => {
  const me = ref<Me | null>(null)
  const checked = ref(false)

  /** load asks the server who is signed in (once); a 401 means nobody. */
  async function load(): Promise<Me | null> {
    if (checked.value) return me.value
    try {
      me.value = await api.me()
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 401)) throw e
      me.value = null
    }
    checked.value = true
    return me.value
  }

  async function login(username: string, password: string) {
    const out = await api.login(username, password)
    me.value = out.user
    checked.value = true
  }

  async function logout() {
    try {
      await api.logout()
    } finally {
      forget()
    }
  }

  /** forget drops the user without asking the server (the session has already ended). */
  function forget() {
    me.value = null
    checked.value = true
  }

  return { me, checked, load, login, logout, forget }
})
