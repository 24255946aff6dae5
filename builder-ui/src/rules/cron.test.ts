import { describe, expect, it } from 'vitest'
import { i18n } from '../i18n'
import { CronError, describeCron, firingWords, nextFirings, parseCron, validZone } from './cron'

const t = (key: string, named?: Record<string, unknown>) => i18n.global.t(key, named ?? {})
const en = (key: string, named?: Record<string, unknown>) => i18n.global.t(key, named ?? {}, { locale: 'en' })

// next lists the next n firings as the zone's clock reads them.
function next(spec: string, zone: string, from: string, n = 3): string[] {
  return nextFirings(parseCron(spec), zone, new Date(from), n).map((f) => firingWords(f, t))
}

describe('parseCron', () => {
  it('reads fields, ranges, lists, steps and names as the engine does', () => {
    const c = parseCron('*/15 8-10,14 1,15 jan-MAR mon-fri')
    expect(c.minute).toEqual({ values: [0, 15, 30, 45], star: false })
    expect(c.hour.values).toEqual([8, 9, 10, 14])
    expect(c.dom.values).toEqual([1, 15])
    expect(c.month.values).toEqual([1, 2, 3])
    expect(c.dow).toEqual({ values: [1, 2, 3, 4, 5], star: false })
    expect(parseCron('5/20 * ? * *').minute.values).toEqual([5, 25, 45])
    expect(parseCron('0 0 ? * *').dom.star).toBe(true)
  })
  it('reads the descriptors', () => {
    expect(parseCron('@daily')).toEqual(parseCron('0 0 * * *'))
    expect(parseCron('@weekly')).toEqual(parseCron('0 0 * * 0'))
    expect(parseCron('@monthly')).toEqual(parseCron('0 0 1 * *'))
    expect(parseCron('@hourly')).toEqual(parseCron('0 * * * *'))
  })
  it('refuses what the engine refuses, naming the field', () => {
    const bad: [string, number][] = [
      ['', -1], ['0 8 * *', -1], ['0 0 8 * * *', -1], ['@every 5m', -1], ['CRON_TZ=Asia/Shanghai 0 8 * * *', -1],
      ['60 8 * * *', 0], ['0 24 * * *', 1], ['0 8 0 * *', 2], ['0 8 * 13 *', 3], ['0 8 * * 7', 4], ['0 8 * * 5-1', 4],
      ['0 8 * * x', 4], ['*/0 * * * *', 0], ['1/2/3 * * * *', 0], ['0 1-2-3 * * *', 1],
    ]
    for (const [spec, field] of bad) {
      let err: unknown
      try {
        parseCron(spec)
      } catch (e) {
        err = e
      }
      expect(err, spec).toBeInstanceOf(CronError)
      expect((err as CronError).field, spec).toBe(field)
    }
  })
})

describe('nextFirings', () => {
  it('daily 08:00 in Shanghai, from a UTC instant', () => {
    // 2026-12-06 05:25 UTC is 13:25 in Shanghai: today's 08:00 is past.
    expect(next('0 8 * * *', 'Asia/Shanghai', '2026-12-06T05:25:00Z')).toEqual(['2026-12-07 周一 08:00', '2026-12-08 周二 08:00', '2026-12-09 周三 08:00'])
    const f = nextFirings(parseCron('0 8 * * *'), 'Asia/Shanghai', new Date('2026-12-06T05:25:00Z'), 1)[0]
    expect(f.at.toISOString()).toBe('2026-12-07T00:00:00.000Z')
  })
  it('fires strictly after the instant given', () => {
    expect(next('0 8 * * *', 'Asia/Shanghai', '2026-12-06T00:00:00Z', 1)).toEqual(['2026-12-07 周一 08:00'])
    expect(next('0 8 * * *', 'Asia/Shanghai', '2026-12-05T23:59:59Z', 1)).toEqual(['2026-12-06 周日 08:00'])
  })
  it('the same spec in another zone is another instant', () => {
    const f = nextFirings(parseCron('0 8 * * *'), 'Europe/Berlin', new Date('2026-12-06T05:25:00Z'), 1)[0]
    expect(f.at.toISOString()).toBe('2026-12-06T07:00:00.000Z')
    expect(next('0 8 * * *', 'UTC', '2026-12-06T05:25:00Z', 1)).toEqual(['2026-12-06 周日 08:00'])
  })
  it('weekdays skip the weekend; minutes step within the hour', () => {
    expect(next('30 17 * * 1-5', 'Asia/Shanghai', '2026-12-04T12:00:00Z')).toEqual(['2026-12-07 周一 17:30', '2026-12-08 周二 17:30', '2026-12-09 周三 17:30'])
    expect(next('*/15 * * * *', 'Asia/Shanghai', '2026-12-06T05:25:00Z')).toEqual(['2026-12-06 周日 13:30', '2026-12-06 周日 13:45', '2026-12-06 周日 14:00'])
    expect(next('@hourly', 'Asia/Shanghai', '2026-12-06T15:30:00Z')).toEqual(['2026-12-07 周一 00:00', '2026-12-07 周一 01:00', '2026-12-07 周一 02:00'])
  })
  it('day of month or weekday: either, when both are given; both, when one is any', () => {
    // The 13th or a Friday.
    expect(next('0 9 13 * 5', 'UTC', '2026-12-01T00:00:00Z')).toEqual(['2026-12-04 周五 09:00', '2026-12-11 周五 09:00', '2026-12-13 周日 09:00'])
    expect(next('@weekly', 'UTC', '2026-12-01T00:00:00Z', 2)).toEqual(['2026-12-06 周日 00:00', '2026-12-13 周日 00:00'])
    expect(next('@monthly', 'Asia/Shanghai', '2026-12-06T05:25:00Z', 2)).toEqual(['2027-01-01 周五 00:00', '2027-02-01 周一 00:00'])
  })
  it('29 February comes in leap years, looked for over five years; 30 February never', () => {
    expect(next('0 0 29 2 *', 'UTC', '2026-12-06T00:00:00Z', 2)).toEqual(['2028-02-29 周二 00:00'])
    expect(next('0 0 29 2 *', 'UTC', '2028-03-01T00:00:00Z', 1)).toEqual(['2032-02-29 周日 00:00'])
    expect(next('0 0 30 2 *', 'UTC', '2026-12-06T00:00:00Z')).toEqual([])
  })
  it('a time skipped by daylight saving does not fire that day; a repeated one fires twice (as the engine does)', () => {
    // Berlin skips 02:00–03:00 on 2027-03-28 and has 02:00–03:00 twice on 2027-10-31.
    expect(next('30 2 * * *', 'Europe/Berlin', '2027-03-26T12:00:00Z')).toEqual(['2027-03-27 周六 02:30', '2027-03-29 周一 02:30', '2027-03-30 周二 02:30'])
    const autumn = nextFirings(parseCron('30 2 * * *'), 'Europe/Berlin', new Date('2027-10-30T12:00:00Z'))
    expect(autumn.map((f) => f.at.toISOString())).toEqual(['2027-10-31T00:30:00.000Z', '2027-10-31T01:30:00.000Z', '2027-11-01T01:30:00.000Z'])
  })
  it('knows the zones the browser knows', () => {
    expect(validZone('Asia/Shanghai')).toBe(true)
    expect(validZone('Mars/Olympus')).toBe(false)
  })
})

describe('describeCron', () => {
  const cases: [string, string, string][] = [
    ['0 8 * * *', '每天 08:00', 'daily 08:00'],
    ['@daily', '每天 00:00', 'daily 00:00'],
    ['0 8 * * 1-5', '工作日 08:00', 'weekdays 08:00'],
    ['0 10 * * sat,sun', '周末 10:00', 'weekends 10:00'],
    ['0 8 * * 1,3,5', '每周一、周三、周五 08:00', 'every Mon, Wed, Fri 08:00'],
    ['@weekly', '每周日 00:00', 'every Sun 00:00'],
    ['0 8 1,15 * *', '每月 1、15 日 08:00', 'monthly on day 1, 15 08:00'],
    ['@monthly', '每月 1 日 00:00', 'monthly on day 1 00:00'],
    ['0 6 1 3 *', '每年 3 月 1 日 06:00', 'yearly on 3/1 06:00'],
    ['0 8,14 * * *', '每天 08:00、14:00', 'daily 08:00, 14:00'],
    ['@hourly', '每小时整点', 'every hour on the hour'],
    ['5 * * * *', '每小时第 5 分', 'every hour at minute 5'],
    ['0 */2 * * *', '每 2 小时整点', 'every 2 hours on the hour'],
    ['*/15 * * * *', '每 15 分钟', 'every 15 minutes'],
    ['*/10 * * * 1-5', '工作日 每 10 分钟', 'weekdays every 10 minutes'],
    ['* * * * *', '每分钟', 'every minute'],
  ]
  for (const [spec, zh, e] of cases) {
    it(spec, () => {
      expect(describeCron(spec, t)).toBe(zh)
      expect(describeCron(spec, en)).toBe(e)
    })
  }
  it('is null for what short words do not say, and for a broken spec', () => {
    expect(describeCron('7,9,11 1-3 * * *', t)).toBeNull()
    expect(describeCron('0 8 13 * 5', t)).toBeNull()
    expect(describeCron('0 25 * * *', t)).toBeNull()
  })
})
