import { describe, expect, it } from 'vitest'
import type { Text } from '../api/types'
import { cardName, cardText, waitedParts, type CardItem } from './card'

const zh = (t: Text | undefined | null, fallback = '') => (t ? t['zh-CN'] || t.en || fallback : fallback)
const en = (t: Text | undefined | null, fallback = '') => (t ? t.en || t['zh-CN'] || fallback : fallback)

const item = (over: Partial<CardItem> = {}): CardItem => ({
  task: { id: 'i1.1', node: 'a1', kind: 'approval', assignee: 'bob', state: 'pending', created: '' },
  instance: 'i1', app: 'qa', flow: 'sampleflow', form: 'sample', record: 'r1', title: '样品审批',
  initiator: 'alice', nodeName: { 'zh-CN': '质检', en: 'QC' }, started: '', state: 'running',
  recordTitle: { 'zh-CN': 'LOT-7', en: 'LOT-7' },
  summary: [
    { key: 'grade', label: { 'zh-CN': '等级', en: 'Grade' }, value: { 'zh-CN': '一级', en: 'Grade A' } },
    { key: 'qty', label: { 'zh-CN': '数量' }, value: { 'zh-CN': '40', en: '40' } },
  ],
  ...over,
} as CardItem)

describe('inbox card', () => {
  it('titles the card by the record, with the flow and step small, fields in the language', () => {
    expect(cardText(item(), zh)).toEqual({
      title: 'LOT-7', untitled: false, flow: '样品审批 · 质检',
      fields: [{ key: 'grade', label: '等级', value: '一级' }, { key: 'qty', label: '数量', value: '40' }],
    })
    const c = cardText(item(), en)
    expect(c.flow).toBe('样品审批 · QC')
    expect(c.fields.map((f) => `${f.label}: ${f.value}`)).toEqual(['Grade: Grade A', '数量: 40'])
  })

  it('names the record by its id when the viewer gets no title', () => {
    const c = cardText(item({ recordTitle: undefined, summary: undefined }), zh)
    expect(c).toEqual({ title: 'r1', untitled: true, flow: '样品审批 · 质检', fields: [] })
    expect(cardName(item({ recordTitle: undefined }), zh)).toBe('样品审批 · 质检 r1')
    expect(cardName(item(), zh)).toBe('LOT-7 · 样品审批')
  })

  it('falls back to the flow key or form without a flow name, and drops empty values', () => {
    const c = cardText(item({ title: '', nodeName: {}, summary: [{ key: 'x', label: {}, value: {} }] }), zh)
    expect(c.flow).toBe('sampleflow')
    expect(c.fields).toEqual([])
  })
})

describe('waited', () => {
  it('reads the server\'s 45m, 3h, 2d and refuses the rest', () => {
    expect(waitedParts('45m')).toEqual({ n: 45, unit: 'm' })
    expect(waitedParts('3h')).toEqual({ n: 3, unit: 'h' })
    expect(waitedParts('2d')).toEqual({ n: 2, unit: 'd' })
    expect(waitedParts('')).toBeNull()
    expect(waitedParts('1h30m')).toBeNull()
    expect(waitedParts(undefined)).toBeNull()
  })
})
