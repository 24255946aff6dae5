// The camera viewer's messages, in its own chunk: merged into vue-i18n (as scanViewer) when
// the viewer first loads, so the app's first load does not carry them.
import { i18n } from '../i18n'

const zhCN = {
  title: '扫描条码或二维码',
  aim: '将条码或二维码放入框内',
  starting: '正在打开摄像头…',
  loading: '正在加载识别组件…',
  torchOn: '打开闪光灯',
  torchOff: '关闭闪光灯',
  photo: '拍照识别',
  photoReading: '正在识别照片…',
  close: '关闭',
  read: '已识别：{code}',
  insecure: '手机浏览器只在 HTTPS 页面中开放摄像头。请用管理员提供的 https:// 地址打开本系统，或点“拍照识别”。',
  denied: '没有使用摄像头的权限。请在浏览器的网站设置中允许本网站使用摄像头，或点“拍照识别”。',
  noCamera: '没有找到摄像头。请点“拍照识别”，或使用扫码枪。',
  busy: '摄像头正被其他应用占用，请关闭那个应用后重试。',
  unsupported: '此浏览器不能打开摄像头扫码，请点“拍照识别”。',
  failed: '打开摄像头失败：{detail}',
  readerFailed: '识别组件加载失败，请刷新页面后重试：{detail}',
  nothingInPhoto: '照片中没有识别到条码或二维码。请靠近一些、对准后重拍。',
}

const en: typeof zhCN = {
  title: 'Scan a barcode or QR code',
  aim: 'Hold the code inside the frame',
  starting: 'Opening the camera…',
  loading: 'Loading the reader…',
  torchOn: 'Turn the light on',
  torchOff: 'Turn the light off',
  photo: 'From a photo',
  photoReading: 'Reading the photo…',
  close: 'Close',
  read: 'Read: {code}',
  insecure: 'Phone browsers open the camera only on HTTPS pages. Open Tracecraft by the https:// address your administrator gave, or use “From a photo”.',
  denied: 'The camera is not allowed. Allow this site to use the camera in the browser’s site settings, or use “From a photo”.',
  noCamera: 'No camera was found. Use “From a photo”, or a scanner.',
  busy: 'Another app is using the camera. Close it and try again.',
  unsupported: 'This browser cannot open the camera for scanning. Use “From a photo”.',
  failed: 'The camera did not open: {detail}',
  readerFailed: 'The reader did not load. Reload the page and try again: {detail}',
  nothingInPhoto: 'No barcode or QR code was found in the photo. Come closer, aim and take it again.',
}

let merged = false

/** useViewerMessages merges the messages once. */
export function useViewerMessages() {
  if (merged) return
  i18n.global.mergeLocaleMessage('zh-CN', { scanViewer: zhCN })
  i18n.global.mergeLocaleMessage('en', { scanViewer: en })
  merged = true
}
