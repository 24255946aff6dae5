// The scan field's camera button; the viewer's own messages load with it (src/scan/messages.ts).
export default {
  camera: '扫码',
  cameraLabel: '用摄像头扫描{label}',
}
