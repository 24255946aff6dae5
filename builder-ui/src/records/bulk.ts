// Bulk actions on the records chosen in the list: each record is deleted (or moved through a
// status transition) with the revision the list read, one request per record, and every
// record's outcome is kept so the summary can say what succeeded and what failed and why.
// Pure apart from the action it is given: unit-tested.
import type { RecordItem, StatusState, Text } from '../api/types'

/** Transition is a form's status transition (forms.Transition). */
export interface Transition {
  key: string
  label: Text
  from: string[]
  to: string
  roles?: string[]
  when?: string
}

/** Outcome is what became of one record. */
export type Outcome =
  | { id: string; state: 'done'; record?: RecordItem }
  | { id: string; state: 'failed'; message: string; code?: string }
  | { id: string; state: 'skipped'; reason: 'status' }

/** Summary counts the outcomes. */
export interface Summary {
  done: number
  failed: number
  skipped: number
}

export function summarise(outcomes: Outcome[]): Summary {
  const s: Summary = { done: 0, failed: 0, skipped: 0 }
  for (const o of outcomes) s[o.state]++
  return s
}

/**
 * runEach applies act to every record, at most `parallel` at a time, and reports each outcome
 * (in the records' order) as it comes. A failure of one record never stops the others.
 * describe turns a failure into its message (the server's, with its error id).
 */
export async function runEach(
  records: RecordItem[],
  act: (r: RecordItem) => Promise<RecordItem | void>,
  describe: (e: unknown) => { message: string; code?: string },
  onOutcome?: (o: Outcome, finished: number) => void,
  parallel = 4,
): Promise<Outcome[]> {
  const out: Outcome[] = new Array(records.length)
  let next = 0
  let finished = 0
  const worker = async () => {
    while (next < records.length) {
      const i = next++
      const r = records[i]
      let o: Outcome
      try {
        const rec = await act(r)
        o = { id: r.id, state: 'done', record: rec || undefined }
      } catch (e) {
        o = { id: r.id, state: 'failed', ...describe(e) }
      }
      out[i] = o
      onOutcome?.(o, ++finished)
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(parallel, records.length)) }, worker))
  return out
}

/** TransitionChoice is a transition the chosen records can take, and which of them can. */
export interface TransitionChoice {
  transition: Transition
  /** applicable are the chosen records in one of the transition's from states. */
  applicable: RecordItem[]
  /** others are the chosen records in another state: skipped, said so in the summary. */
  others: RecordItem[]
}

/**
 * transitionChoices lists the transitions at least one chosen record can take, by status
 * alone: roles and conditions are the server's to check, and a refusal comes back per record.
 */
export function transitionChoices(transitions: Transition[] | undefined, chosen: RecordItem[]): TransitionChoice[] {
  const out: TransitionChoice[] = []
  for (const tr of transitions ?? []) {
    const applicable = chosen.filter((r) => r.status !== undefined && tr.from.includes(r.status))
    if (applicable.length) out.push({ transition: tr, applicable, others: chosen.filter((r) => !applicable.includes(r)) })
  }
  return out
}

/** skippedOutcomes are the records a transition leaves out because of their status. */
export function skippedOutcomes(records: RecordItem[]): Outcome[] {
  return records.map((r) => ({ id: r.id, state: 'skipped', reason: 'status' }))
}

/** stateLabel finds a status's label among the form's states. */
export function stateLabel(states: StatusState[] | undefined, key: string | undefined): Text | undefined {
  return states?.find((s) => s.key === key)?.label
}
