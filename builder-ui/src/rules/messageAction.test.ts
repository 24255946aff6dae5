import { describe, expect, it } from 'vitest'
import { computed, ref } from 'vue'
import { mount } from '@vue/test-utils'
import { i18n } from '../i18n'
import { ruleKey, type RuleContext } from './context'
import type { FieldInfo } from './model'
import Email from './actions/Email.vue'
import Notify from './actions/Notify.vue'

// notify and email are one component (MessageAction) under each kind's words and hooks.
function context(): RuleContext {
  const none = <T,>() => ref<T[]>([])
  return {
    app: computed(() => 'plant'),
    form: computed(() => 'receipt'),
    fields: ref<FieldInfo[]>([{ key: 'material', label: '物料', type: 'text' } as FieldInfo]),
    statuses: none(),
    forms: none(),
    roles: ref([{ name: 'qc', label: '质检' }]),
    problems: ref([]),
    names: computed(() => ({}) as RuleContext['names']['value']),
    formFields: async () => [],
    flows: none(),
    flowNodes: async () => [],
    templates: none(),
    printers: async () => [],
  }
}

// mountKind mounts a kind's component as ActionCard does; sent collects what it emits.
function mountKind(c: typeof Email, params: Record<string, unknown>) {
  const sent: Record<string, unknown>[] = []
  const w = mount(c, {
    props: { modelValue: params, pointer: '/actions/0/params', index: 0, 'onUpdate:modelValue': (v: Record<string, unknown>) => sent.push(v) } as Record<string, unknown>,
    global: { plugins: [i18n], provide: { [ruleKey as symbol]: context() } },
  })
  return { w, sent }
}

describe('notify and email settings', () => {
  it('email sets subject and body, with the mail hint', async () => {
    const { w, sent } = mountKind(Email, { to: [], roles: [], subject: '' })
    expect(w.find('label[for="email-to-0"]').exists()).toBe(true)
    expect(w.find('[data-test="email-roles"]').exists()).toBe(true)
    expect(w.find('[data-test="notify-title"]').exists()).toBe(false)
    expect(w.text()).toContain(i18n.global.t('rules.emailHelp'))
    await w.find('input[data-test="email-subject"]').setValue('到期 ')
    await w.find('[data-test="email-subject-insert-material"]').trigger('click')
    expect(sent.at(-1)).toEqual({ to: [], roles: [], subject: 'concat("到期 ", record.material)' })
  })
  it('notify sets title and body, without the mail hint; an empty body is dropped', async () => {
    const { w, sent } = mountKind(Notify, { to: ['wang'], roles: ['qc'], title: '"x"', body: '"y"' })
    expect(w.find('label[for="notify-to-0"]').exists()).toBe(true)
    expect(w.find('[data-test="notify-roles"]').exists()).toBe(true)
    expect(w.text()).not.toContain(i18n.global.t('rules.emailHelp'))
    await w.find('textarea[data-test="notify-body"]').setValue('')
    expect(sent.at(-1)).toEqual({ to: ['wang'], roles: ['qc'], title: '"x"' })
    await w.find('input[data-test="notify-title"]').setValue('批次')
    expect(sent.at(-1)).toEqual({ to: ['wang'], roles: ['qc'], title: '"批次"', body: '"y"' })
  })
})
