// Designers save a draft under the revision they last read; two saves on their way at once
// would send the same revision and the second would be refused as a conflict. A serial queue
// runs them one after another: a save started while another runs (the live check's quiet save,
// then the button) waits for it and reads the revision it got.

/** Serial runs tasks one after another, in the order given. */
export interface Serial {
  /** run queues task after every task queued before it and answers with its result. */
  run<T>(task: () => Promise<T>): Promise<T>
  /** busy says whether a task is queued or running. */
  busy(): boolean
}

/**
 * serial makes a queue. A task that fails does not stop the ones after it (its caller gets
 * the failure). A task must not wait for a task it queues itself: that one runs after it.
 */
export function serial(): Serial {
  let tail: Promise<unknown> = Promise.resolve()
  let pending = 0
  return {
    run<T>(task: () => Promise<T>): Promise<T> {
      pending++
      const done = tail.then(task).finally(() => pending--)
      tail = done.catch(() => undefined)
      return done
    },
    busy: () => pending > 0,
  }
}
