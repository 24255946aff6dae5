import { describe, expect, it } from 'vitest'
import { cameraProblem } from './camera'

describe('cameraProblem', () => {
  const ok = { secure: true, hasAPI: true }
  it('says a page outside HTTPS first: phones give it no camera', () => {
    expect(cameraProblem({ secure: false, hasAPI: false })).toBe('insecure')
    expect(cameraProblem({ secure: true, hasAPI: false })).toBe('unsupported')
    expect(cameraProblem(ok)).toBeNull()
  })
  it('names what getUserMedia refused', () => {
    const named = (name: string) => cameraProblem(ok, Object.assign(new Error('x'), { name }))
    expect(named('NotAllowedError')).toBe('denied')
    expect(named('NotFoundError')).toBe('noCamera')
    expect(named('OverconstrainedError')).toBe('noCamera')
    expect(named('NotReadableError')).toBe('busy')
    expect(named('TypeError')).toBe('failed')
    expect(cameraProblem(ok, 'odd')).toBe('failed')
  })
})
