import { describe, expect, it } from 'vitest'
import { ApiError } from '../api/client'
import { setLocale } from '../i18n'
import { errorText } from './errorText'

describe('errorText', () => {
  it('shows a server error with its id', () => {
    setLocale('zh-CN')
    expect(errorText(new ApiError(500, 'internal', '服务器内部错误', [], '0a1b2c'))).toBe('服务器内部错误（错误编号 0a1b2c）')
    setLocale('en')
    expect(errorText(new ApiError(500, 'internal', 'internal server error', [], '0a1b2c'))).toBe('internal server error（error id 0a1b2c）')
  })
  it('does not repeat an id the message already names', () => {
    expect(errorText(new ApiError(500, 'internal', 'internal server error, id 0a1b2c', [], '0a1b2c'))).toBe('internal server error, id 0a1b2c')
  })
  it('falls back to the code when the server gave no message', () => {
    setLocale('en')
    expect(errorText(new ApiError(409, 'conflict', ''))).toBe('error code conflict')
  })
})
