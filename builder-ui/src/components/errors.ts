import { ElMessage } from 'element-plus'
import 'element-plus/es/components/message/style/css'
import { errorText } from './errorText'

export { errorText }

/** showError announces a failure in a message at the top of the page. */
export function showError(e: unknown) {
  ElMessage({ type: 'error', message: errorText(e), showClose: true, duration: 6000, grouping: true })
}

export function showSuccess(message: string) {
  ElMessage({ type: 'success', message, duration: 2500 })
}
