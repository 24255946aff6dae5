// A flow on a record of the form ends (flow_finished: of one flow or any, with one outcome or
// any), enters a node (node_entered: the node is required, the flow narrows it), or has a task
// past its node's timeout (task_overdue: one node or any). Nodes are the flow's latest
// published version's.
import { defineAsyncComponent } from 'vue'
import type { NodeInfo } from '../context'
import type { TriggerKind } from '../kinds'
import type { Trigger } from '../model'

const component = defineAsyncComponent(() => import('./FlowTrigger.vue'))

/** nodeTypes are the nodes each kind offers: those a person waits at, or any step of the flow. */
export const nodeTypes: Record<string, string[]> = {
  node_entered: ['approval', 'fill', 'notify', 'action', 'end'],
  task_overdue: ['approval', 'fill'],
}

/**
 * setFlowTrigger is a flow trigger with patch applied: unset members dropped, and a node_entered
 * whose flow changes has its node cleared (a node id belongs to its flow).
 */
export function setFlowTrigger(tr: Trigger, patch: Partial<Trigger>): Trigger {
  const next: Trigger = { ...tr, ...patch }
  if ('flow' in patch && patch.flow !== tr.flow) next.node = tr.on === 'node_entered' ? '' : undefined
  for (const k of ['flow', 'outcome', 'node'] as const) if (next[k] === undefined || (next[k] === '' && k !== 'node')) delete next[k]
  if (next.on !== 'node_entered' && !next.node) delete next.node
  return next
}

/**
 * pickableNodes are the nodes a kind offers from the flows' node lists (each with the flow's
 * name when several flows are offered): those a person waits at for task_overdue, the steps
 * of the flow for node_entered; an id once.
 */
export function pickableNodes(on: string, flows: { label: string; nodes: NodeInfo[] }[]): (NodeInfo & { flowLabel?: string })[] {
  const types = nodeTypes[on] ?? []
  const seen = new Set<string>()
  return flows.flatMap((f) => f.nodes.map((n) => ({ ...n, flowLabel: flows.length > 1 ? f.label : undefined })))
    .filter((n) => types.includes(n.type) && !seen.has(n.id) && !!seen.add(n.id))
}

export const kinds: TriggerKind[] = [
  {
    component,
    on: 'flow_finished',
    order: 50,
    blank: () => ({ on: 'flow_finished' }),
    summary: (tr, n, t) => {
      const flow = tr.flow ? n.flow(tr.flow) : ''
      const outcome = tr.outcome ? t(`rules.triggerSummary.outcome.${tr.outcome}`) : ''
      if (flow && outcome) return t('rules.triggerSummary.flowFinishedOutcome', { flow, outcome })
      if (flow) return t('rules.triggerSummary.flowFinished', { flow })
      return outcome ? t('rules.triggerSummary.flowOutcome', { outcome }) : t('rules.triggerSummary.flow_finished')
    },
  },
  {
    component,
    on: 'node_entered',
    order: 51,
    blank: () => ({ on: 'node_entered', node: '' }),
    summary: (tr, n, t) => {
      const node = n.node(tr.flow ?? '', tr.node ?? '') || '—'
      return tr.flow ? t('rules.triggerSummary.flowNodeEntered', { flow: n.flow(tr.flow), node }) : t('rules.triggerSummary.nodeEntered', { node })
    },
  },
  {
    component,
    on: 'task_overdue',
    order: 52,
    blank: () => ({ on: 'task_overdue' }),
    summary: (tr, n, t) => {
      if (!tr.node) return t('rules.triggerSummary.task_overdue')
      const node = n.node(tr.flow ?? '', tr.node)
      return tr.flow ? t('rules.triggerSummary.flowTaskOverdue', { flow: n.flow(tr.flow), node }) : t('rules.triggerSummary.taskOverdue', { node })
    },
  },
]
