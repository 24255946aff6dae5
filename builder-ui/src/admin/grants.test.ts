import { describe, expect, it } from 'vitest'
import type { GrantAction } from './api'
import { actionLabel, actionsFor, toggle } from './grants'

// The catalogue as GET /api/v1/admin/actions answers it (engine/auth_actions.go).
const catalogue: GrantAction[] = [
  { id: 'system.admin', label: { 'zh-CN': '系统管理', en: 'Administer the system' }, on: ['platform'] },
  { id: 'app.read', label: { 'zh-CN': '使用应用', en: 'Use the app' }, on: ['app'] },
  { id: 'app.design', label: { 'zh-CN': '设计应用', en: 'Design the app' }, on: ['app'] },
  { id: '*', label: { 'zh-CN': '全部动作', en: 'Every action' }, on: ['platform', 'app'] },
]

describe('role grants', () => {
  it("offers the server's actions where they apply: the platform, one app or every app", () => {
    expect(actionsFor({ app: '', actions: [] }, catalogue)).toEqual(['system.admin', '*'])
    expect(actionsFor({ app: 'plant', actions: [] }, catalogue)).toEqual(['app.read', 'app.design', '*'])
    expect(actionsFor({ app: '*', actions: [] }, catalogue)).toEqual(['app.read', 'app.design', '*'])
  })
  it('offers an action the catalogue lacks while a grant still has it, after the known ones', () => {
    expect(actionsFor({ app: 'plant', actions: ['record.*', 'app.read'] }, catalogue)).toEqual(['app.read', 'app.design', '*', 'record.*'])
    expect(actionsFor({ app: 'plant', actions: [] }, [])).toEqual([])
  })
  it("toggles an action, keeping the catalogue's order", () => {
    let g = toggle({ app: 'plant', actions: [] }, 'app.design', true, catalogue)
    g = toggle(g, 'app.read', true, catalogue)
    expect(g.actions).toEqual(['app.read', 'app.design'])
    expect(toggle(g, 'app.read', false, catalogue).actions).toEqual(['app.design'])
  })
  it("names an action by the server's label, else by its id", () => {
    expect(actionLabel('app.read', catalogue, (t) => t.en ?? '')).toBe('Use the app')
    expect(actionLabel('app.read', catalogue, (t) => t['zh-CN'] ?? '')).toBe('使用应用')
    expect(actionLabel('record.*', catalogue, (t) => t.en ?? '')).toBe('record.*')
  })
})
