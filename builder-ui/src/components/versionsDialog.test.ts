import { describe, expect, it } from 'vitest'
import { nextTick } from 'vue'
import { flushPromises, mount } from '@vue/test-utils'
import { i18n } from '../i18n'
import VersionsDialog, { type PublishedVersion } from './VersionsDialog.vue'

const v = (n: number): PublishedVersion => ({ id: `v${n}`, version: n, publishedBy: 'wang', publishedAt: '2026-01-02T03:04:05Z' })

function mountDialog(load: () => Promise<PublishedVersion[]> | null) {
  const restored: PublishedVersion[] = []
  const w = mount(VersionsDialog, {
    props: { modelValue: false, area: 'rules', restoreLabel: 'restore-me', test: 'rule-version-list', load, onRestore: (x: PublishedVersion) => restored.push(x) },
    global: { plugins: [i18n] },
    attachTo: document.body,
  })
  return { w, restored }
}

// The dialog teleports to the body: read what it shows there.
const shown = () => document.body.querySelector('[data-test="rule-version-list"]')

describe('the versions dialog of the designers', () => {
  it('loads the versions each time it opens, newest first, and restores the one picked', async () => {
    let calls = 0
    const { w, restored } = mountDialog(() => (calls++, Promise.resolve([v(1), v(3), v(2)])))
    expect(calls).toBe(0)
    await w.setProps({ modelValue: true })
    await flushPromises()
    expect(calls).toBe(1)
    const items = [...shown()!.querySelectorAll('li strong')].map((e) => e.textContent)
    expect(items).toEqual(['第 3 版', '第 2 版', '第 1 版'])
    expect(shown()!.textContent).toContain('wang 发布于')
    ;(shown()!.querySelectorAll('li button')[1] as HTMLButtonElement).click()
    await nextTick()
    expect(restored.map((x) => x.version)).toEqual([2])
    await w.setProps({ modelValue: false })
    await w.setProps({ modelValue: true })
    await flushPromises()
    expect(calls).toBe(2)
    w.unmount()
  })
  it('says none were published when there is nothing to load', async () => {
    const { w } = mountDialog(() => null)
    await w.setProps({ modelValue: true })
    await flushPromises()
    expect(shown()).toBeNull()
    expect(document.body.textContent).toContain(i18n.global.t('rules.noVersions'))
    w.unmount()
  })
})
