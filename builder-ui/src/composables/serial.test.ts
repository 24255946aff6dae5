import { describe, expect, it } from 'vitest'
import { serial } from './serial'

// A task whose end the test decides: it records when it starts and ends.
function gate(log: string[], name: string, fail = false) {
  let open!: () => void
  const opened = new Promise<void>((r) => (open = r))
  const task = async () => {
    log.push(`start ${name}`)
    await opened
    log.push(`end ${name}`)
    if (fail) throw new Error(`${name} refused`)
    return name
  }
  return { task, open }
}

const settle = () => new Promise((r) => setTimeout(r, 0))

describe('serial', () => {
  it('starts a task only when the one before it has ended', async () => {
    const q = serial()
    const log: string[] = []
    const quiet = gate(log, 'quiet save')
    const button = gate(log, 'button save')
    const a = q.run(quiet.task)
    const b = q.run(button.task)
    await settle()
    expect(log).toEqual(['start quiet save'])
    expect(q.busy()).toBe(true)
    button.open() // the second is ready first: it still waits for the first
    await settle()
    expect(log).toEqual(['start quiet save'])
    quiet.open()
    expect(await a).toBe('quiet save')
    expect(await b).toBe('button save')
    expect(log).toEqual(['start quiet save', 'end quiet save', 'start button save', 'end button save'])
    expect(q.busy()).toBe(false)
  })

  it('runs the next task after one that failed, and gives the failure to its caller', async () => {
    const q = serial()
    const log: string[] = []
    const bad = gate(log, 'save', true)
    const publish = gate(log, 'publish')
    const a = q.run(bad.task)
    const b = q.run(publish.task)
    bad.open()
    publish.open()
    await expect(a).rejects.toThrow('save refused')
    expect(await b).toBe('publish')
    expect(log).toEqual(['start save', 'end save', 'start publish', 'end publish'])
  })

  it('keeps the order of many tasks and lets each see what the one before left', async () => {
    const q = serial()
    let rev = 1
    const sent: number[] = []
    const save = () => q.run(async () => {
      const mine = rev
      await settle()
      sent.push(mine)
      rev = mine + 1 // the server answers with the next revision
      return mine
    })
    const got = await Promise.all([save(), save(), save(), save()])
    expect(got).toEqual([1, 2, 3, 4])
    expect(sent).toEqual([1, 2, 3, 4])
  })

  it('queues are independent', async () => {
    const a = serial()
    const b = serial()
    const log: string[] = []
    const slow = gate(log, 'a')
    const pa = a.run(slow.task)
    const pb = b.run(async () => 'b')
    expect(await pb).toBe('b')
    slow.open()
    expect(await pa).toBe('a')
  })
})
