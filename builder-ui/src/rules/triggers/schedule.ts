// A cron time comes (schedule): five fields or @daily and the like, in a time zone (absent:
// the plant's). Without match the rule runs once each time, on no record; with match, once
// for each record of the form that matches every filter (indexed fields, value expressions).
import { defineAsyncComponent } from 'vue'
import type { TriggerKind } from '../kinds'
import { list } from '../kinds'
import { browserZone, describeCron } from '../cron'

const component = defineAsyncComponent(() => import('./Schedule.vue'))

/** presets are the common times the cron input offers (their words are rules.presets.<name>). */
export const presets: [name: string, spec: string][] = [
  ['daily8', '0 8 * * *'], ['weekdays8', '0 8 * * 1-5'], ['monday8', '0 8 * * 1'], ['monthly1', '0 8 1 * *'], ['hourly', '@hourly'], ['every15', '*/15 * * * *'],
]

export const kinds: TriggerKind[] = [{
  component,
  on: 'schedule',
  order: 60,
  notOfRecord: true,
  blank: () => ({ on: 'schedule', cron: '0 8 * * *', timezone: browserZone() }),
  summary: (tr, n, t) => {
    const spec = tr.cron ?? ''
    const words = describeCron(spec, t) ?? t('rules.cronCustom', { spec: spec || '—' })
    const when = tr.timezone ? t('rules.triggerSummary.scheduleZone', { when: words, tz: tr.timezone }) : t('rules.triggerSummary.schedule', { when: words })
    const fields = [...new Set((tr.match ?? []).map((f) => f.field).filter(Boolean))]
    return fields.length ? t('rules.triggerSummary.match', { when, fields: list(fields.map((f) => t('rules.quoted', { x: n.field(f) })), t) }) : when
  },
}]
