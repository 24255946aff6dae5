// The scan field's camera button; the viewer's own messages load with it (src/scan/messages.ts).
export default {
  camera: 'Scan',
  cameraLabel: 'Scan {label} with the camera',
}
