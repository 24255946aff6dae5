import { describe, expect, it } from 'vitest'
import zh from '../i18n/zh-CN/labels'
import en from '../i18n/en/labels'
import { codeTypes, paletteKinds } from './model'

function keys(o: object, prefix = ''): string[] {
  return Object.entries(o).flatMap(([k, v]) => (v && typeof v === 'object' ? keys(v, `${prefix}${k}.`) : [`${prefix}${k}`])).sort()
}

describe('label designer words', () => {
  it('has the same keys in zh-CN and en', () => {
    expect(keys(en)).toEqual(keys(zh))
  })
  it('names every palette kind and symbology', () => {
    for (const k of paletteKinds) expect(zh.pal[k], k).toBeTruthy()
    for (const t of codeTypes) expect(zh.type[t], t).toBeTruthy()
  })
})
