// Opening the back camera, and what to tell the operator when it does not open.

/** CameraProblem names the message (scan.<name>) for a camera that did not open. */
export type CameraProblem = 'insecure' | 'unsupported' | 'denied' | 'noCamera' | 'busy' | 'failed'

/**
 * cameraProblem says why the camera cannot be opened before asking (insecure page, no
 * camera API), or, given the error getUserMedia threw, why it did not open.
 */
export function cameraProblem(env: { secure: boolean; hasAPI: boolean }, err?: unknown): CameraProblem | null {
  if (!env.secure) return 'insecure' // browsers hide navigator.mediaDevices outside HTTPS
  if (!env.hasAPI) return 'unsupported'
  if (err === undefined) return null
  switch ((err as { name?: string })?.name) {
    case 'NotAllowedError':
    case 'PermissionDeniedError':
    case 'SecurityError':
      return 'denied'
    case 'NotFoundError':
    case 'DevicesNotFoundError':
    case 'OverconstrainedError':
      return 'noCamera'
    case 'NotReadableError':
    case 'TrackStartError':
    case 'AbortError':
      return 'busy'
  }
  return 'failed'
}

/** openBackCamera asks for the back camera (any camera where there is no back one). */
export function openBackCamera(): Promise<MediaStream> {
  return navigator.mediaDevices.getUserMedia({
    audio: false,
    video: { facingMode: { ideal: 'environment' }, width: { ideal: 1280 }, height: { ideal: 720 } },
  })
}

/** torchOf returns the video track when it has a torch the page may switch, else null. */
export function torchOf(stream: MediaStream): MediaStreamTrack | null {
  const track = stream.getVideoTracks()[0]
  const caps = (track?.getCapabilities?.() ?? {}) as { torch?: boolean }
  return caps.torch ? track : null
}

/** setTorch switches the torch of track. */
export function setTorch(track: MediaStreamTrack, on: boolean): Promise<void> {
  return track.applyConstraints({ advanced: [{ torch: on } as MediaTrackConstraintSet] })
}
