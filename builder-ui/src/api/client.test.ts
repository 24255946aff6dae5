import { describe, expect, it, vi, beforeEach } from 'vitest'
import { ApiError, configure, errorFrom, normaliseFieldPath, request, url } from './client'

function fakeFetch(status: number, body: string, capture?: (url: string, init: RequestInit) => void) {
  return vi.fn(async (u: string | URL | Request, init?: RequestInit) => {
    capture?.(String(u), init ?? {})
    return new Response(body, { status, headers: { 'Content-Type': 'application/json' } })
  }) as unknown as typeof fetch
}

describe('request', () => {
  let unauth: ReturnType<typeof vi.fn>
  beforeEach(() => {
    unauth = vi.fn()
    configure({ language: () => 'en', texts: () => ({ network: 'offline', http: (s) => `http ${s}` }), unauthenticated: unauth })
    document.cookie = 'tc_csrf=tok%2B1; path=/'
  })

  it('returns the parsed answer and sends the language', async () => {
    let seen: RequestInit = {}
    configure({ fetch: fakeFetch(200, '{"ok":true}', (_, init) => (seen = init)) })
    await expect(request('GET', '/api/v1/me')).resolves.toEqual({ ok: true })
    expect((seen.headers as Record<string, string>)['Accept-Language']).toBe('en')
    expect((seen.headers as Record<string, string>)['X-CSRF-Token']).toBeUndefined()
  })

  it('sends the CSRF token from its cookie on writes, and JSON bodies', async () => {
    let seen: RequestInit = {}
    configure({ fetch: fakeFetch(201, '{"id":"r1"}', (_, init) => (seen = init)) })
    await request('POST', '/api/v1/apps/a/forms/f/records', { body: { data: { qty: 1 } } })
    const h = seen.headers as Record<string, string>
    expect(h['X-CSRF-Token']).toBe('tok+1')
    expect(h['Content-Type']).toBe('application/json')
    expect(seen.body).toBe('{"data":{"qty":1}}')
  })

  it('turns a server error into an ApiError with its code, fields and id', async () => {
    configure({ fetch: fakeFetch(500, '{"error":{"code":"internal","message":"internal server error, id 0a1b2c","id":"0a1b2c"}}') })
    const e = await request('GET', '/api/v1/apps').catch((x) => x)
    expect(e).toBeInstanceOf(ApiError)
    expect(e.status).toBe(500)
    expect(e.code).toBe('internal')
    expect(e.id).toBe('0a1b2c')
    expect(e.message).toContain('0a1b2c')
  })

  it('maps field errors to the record form keys', async () => {
    const body = {
      error: {
        code: 'invalid',
        message: 'invalid input',
        fields: [
          { field: 'qty', code: 'required', message: 'required' },
          { field: 'checks.2.result', code: 'not_option', message: 'not an option' },
          { field: '/data/price', code: 'too_small', message: 'too small' },
          { field: 'qty', code: 'other', message: 'second message for qty' },
        ],
      },
    }
    configure({ fetch: fakeFetch(400, JSON.stringify(body)) })
    const e: ApiError = await request('POST', '/x').catch((x) => x)
    expect(e.fieldErrors()).toEqual({ qty: 'required', 'checks.2.result': 'not an option', price: 'too small' })
    expect(unauth).not.toHaveBeenCalled()
  })

  it('reports a 401 to the app, except for sign-in itself', async () => {
    configure({ fetch: fakeFetch(401, '{"error":{"code":"unauthenticated","message":"sign in first"}}') })
    await expect(request('GET', '/api/v1/me')).rejects.toMatchObject({ status: 401, code: 'unauthenticated' })
    expect(unauth).toHaveBeenCalledTimes(1)
    await expect(request('POST', '/api/v1/auth/login', { body: {} })).rejects.toBeInstanceOf(ApiError)
    expect(unauth).toHaveBeenCalledTimes(1)
  })

  it('makes an ApiError of an answer that is not ours', async () => {
    configure({ fetch: vi.fn(async () => new Response('<html>bad gateway</html>', { status: 502 })) as unknown as typeof fetch })
    await expect(request('GET', '/api/v1/apps')).rejects.toMatchObject({ status: 502, code: 'http_502', message: 'http 502' })
  })

  it('makes an ApiError with status 0 when the server is not reached', async () => {
    configure({ fetch: vi.fn(async () => { throw new TypeError('Failed to fetch') }) as unknown as typeof fetch })
    await expect(request('GET', '/api/v1/apps')).rejects.toMatchObject({ status: 0, code: 'network', message: 'offline' })
  })

  it('returns undefined for an empty answer', async () => {
    configure({ fetch: vi.fn(async () => new Response(null, { status: 204 })) as unknown as typeof fetch })
    await expect(request('DELETE', '/x')).resolves.toBeUndefined()
  })
})

describe('helpers', () => {
  it('url leaves out empty query values', () => {
    expect(url('/api/v1/inbox', { box: 'todo', before: undefined, limit: 20, q: '' })).toBe('/api/v1/inbox?box=todo&limit=20')
    expect(url('/a')).toBe('/a')
  })
  it('errorFrom reads the error body', () => {
    const e = errorFrom(409, '{"error":{"code":"form_not_published","message":"publish it first"}}')
    expect([e.status, e.code, e.message, e.id]).toEqual([409, 'form_not_published', 'publish it first', undefined])
  })
  it('normaliseFieldPath', () => {
    expect(normaliseFieldPath('data.qty')).toBe('qty')
    expect(normaliseFieldPath('/data/lines/0/qty')).toBe('lines.0.qty')
    expect(normaliseFieldPath('lines.0.qty')).toBe('lines.0.qty')
  })
})
