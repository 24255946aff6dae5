// What an inbox card says about its record: the record's title (its form's titleField) and a
// few of its fields, as the server chose them for the viewer (GET /api/v1/inbox: recordTitle,
// summary — a field the viewer may not see never comes). The browser only picks the language.
import type { InboxItem, Text } from '../api/types'

/** CardField is one summary field of an inbox item: its label and its value as text. */
export interface CardField {
  key: string
  label: Text
  value: Text
}

/** CardItem is an inbox item with what its card shows of the record. */
export type CardItem = InboxItem & { recordTitle?: Text; summary?: CardField[] }

/** CardText is a card's text in one language. */
export interface CardText {
  /** title is the record's title, else its id. */
  title: string
  /** untitled: the viewer may not see a title (or the form has none): title is the record's id. */
  untitled: boolean
  /** flow is the flow's name and the step: "样品审批 · 质检". */
  flow: string
  /** fields are the summary fields as label and value. */
  fields: { key: string; label: string; value: string }[]
}

type Pick = (t: Text | undefined | null, fallback?: string) => string

/** cardText gives a card's text, picking each server Text with pick (tx). */
export function cardText(it: CardItem, pick: Pick): CardText {
  const recordTitle = pick(it.recordTitle).trim()
  const step = pick(it.nodeName)
  const flow = [it.title || it.flow || it.form, step].filter(Boolean).join(' · ')
  const fields = (it.summary ?? [])
    .map((f) => ({ key: f.key, label: pick(f.label, f.key), value: pick(f.value) }))
    .filter((f) => f.value !== '')
  return { title: recordTitle || it.record || it.instance, untitled: !recordTitle, flow, fields }
}

/** cardName is how a card is named in one line (a batch's results, a checkbox's label). */
export function cardName(it: CardItem, pick: Pick): string {
  const c = cardText(it, pick)
  return c.untitled ? `${c.flow} ${c.title}`.trim() : `${c.title} · ${it.title || it.form}`
}

/** waitedParts splits how long a task has waited as the server says it ("45m", "3h", "2d") into
 * its number and unit, for the language's own words; null for anything else. */
export function waitedParts(w: string | undefined): { n: number; unit: 'm' | 'h' | 'd' } | null {
  const m = /^(\d+)([mhd])$/.exec(w ?? '')
  return m ? { n: Number(m[1]), unit: m[2] as 'm' | 'h' | 'd' } : null
}
