import { onBeforeUnmount, ref } from 'vue'

/** phoneQuery is where the app switches to its phone layout (one column, drawers, cards). */
export const phoneQuery = '(max-width: 767px)'

/** useIsPhone follows the viewport: true on a phone-sized screen. */
export function useIsPhone() {
  const mq = typeof window !== 'undefined' && window.matchMedia ? window.matchMedia(phoneQuery) : undefined
  const isPhone = ref(mq?.matches ?? false)
  const onChange = (e: MediaQueryListEvent) => (isPhone.value = e.matches)
  mq?.addEventListener('change', onChange)
  onBeforeUnmount(() => mq?.removeEventListener('change', onChange))
  return isPhone
}
