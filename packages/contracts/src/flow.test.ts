import { describe, expect, it } from 'vitest';
import { type FlowValidationError, isFlowValidationError } from './errors.js';
import { FLOW_LIMITS, type FlowOutcome, flowOutput, flowParent, planFlow, startsWith } from './flow.js';
import { registry } from './task.js';

const mail = (subject: string) => ({ task: 'send_email', payload: { to: ['a@example.com'], subject, text: 'hi' } });

/** The error a refused flow throws (the test fails if the flow is accepted). */
function refusal(flow: unknown) {
  const thrown = (() => {
    try {
      return planFlow(flow, registry);
    } catch (error) {
      return error;
    }
  })();
  expect(isFlowValidationError(thrown), 'a FlowValidationError').toBe(true);
  return thrown as FlowValidationError;
}

describe('planFlow', () => {
  it('lays out a chain of a group and a chord: paths, inputs, what starts at once', () => {
    const plan = planFlow(
      { chain: [mail('a'), { group: [mail('b'), mail('c')], then: mail('d') }, mail('e')] },
      registry,
    );
    expect(plan.tasks.map(({ path, input, start }) => ({ path, input, start }))).toEqual([
      { path: '$.chain[0]', input: undefined, start: true },
      { path: '$.chain[1].group[0]', input: '$.chain[0]', start: false },
      { path: '$.chain[1].group[1]', input: '$.chain[0]', start: false },
      { path: '$.chain[1].then', input: '$.chain[1].group', start: false },
      { path: '$.chain[2]', input: '$.chain[1]', start: false },
    ]);
    expect(plan.groups).toEqual([{ path: '$.chain[1]', size: 2, then: true }]);
  });

  it('starts every child of a top-level group and keeps non-default policies of composites', () => {
    const plan = planFlow({ group: [mail('a'), { chain: [mail('b'), mail('c')], onFailure: 'continue' }] }, registry);
    expect(plan.tasks.filter((task) => task.start).map((task) => task.path)).toEqual([
      '$.group[0]',
      '$.group[1].chain[0]',
    ]);
    expect(plan.policies).toEqual({ '$.group[1]': 'continue' });
  });

  it('refuses every problem at once, each with its path', () => {
    const error = refusal({
      group: [
        { task: 'send_email', payload: { to: ['not-an-address'], subject: 'x', text: 'y' } },
        { task: 'no_such_task', payload: {} },
        { chain: [] },
        { task: 'send_email', chain: [] },
        { task: 'send_email', payload: { to: ['a@example.com'], subject: 's', text: 't' }, priority: 3 },
        { task: 'send_email', payload: { to: ['a@example.com'], subject: 's', text: 't' }, onFailure: 'retry' },
      ],
      then: 'mail',
    });
    expect(error.code).toBe('INVALID_FLOW');
    expect(error.violations.map((violation) => violation.path)).toEqual(
      expect.arrayContaining([
        '$.group[0].payload.to[0]',
        '$.group[1].task',
        '$.group[2].chain',
        '$.group[3]',
        '$.group[4].priority',
        '$.group[5].onFailure',
        '$.then',
      ]),
    );
    expect(error.message).toContain('$.group[1].task: "no_such_task" is not a known task');
  });

  it('refuses a cycle, an unknown version and a flow over the limits', () => {
    const loop: { chain: unknown[] } = { chain: [mail('a')] };
    loop.chain.push(loop);
    expect(refusal(loop).violations).toEqual([{ path: '$.chain[1]', message: expect.stringContaining('cycle') }]);
    expect(refusal({ ...mail('a'), version: 99 }).violations[0]?.path).toBe('$.version');
    const large = refusal({ group: Array.from({ length: FLOW_LIMITS.maxTasks + 1 }, () => mail('x')) });
    expect(large.code).toBe('FLOW_TOO_LARGE');
    expect(large.violations).toHaveLength(1);
    expect(large.violations[0]?.path).toBe(`$.group[${FLOW_LIMITS.maxTasks}]`);
    let deep: unknown = mail('x');
    for (let level = 0; level <= FLOW_LIMITS.maxDepth; level += 1) deep = { chain: [deep] };
    expect(refusal(deep).code).toBe('FLOW_TOO_LARGE');
  });

  it('accepts the same node object in two places (a tree may repeat a subtree)', () => {
    const shared = mail('same');
    expect(planFlow({ group: [shared, shared] }, registry).tasks).toHaveLength(2);
  });
});

describe('startsWith and flowParent', () => {
  it('finds the first tasks of a node', () => {
    expect(startsWith('$.chain[1]', '$.chain[1].group[4]')).toBe(true);
    expect(startsWith('$.chain[1]', '$.chain[1].group[4].chain[0]')).toBe(true);
    expect(startsWith('$.chain[1]', '$.chain[1].group[4].chain[1]')).toBe(false);
    expect(startsWith('$.chain[1]', '$.chain[1].then')).toBe(false);
    expect(startsWith('$.chain[1]', '$.chain[10]')).toBe(false);
    expect(startsWith('$.then', '$.then')).toBe(true);
  });

  it('splits a path into its parent and how the node hangs from it', () => {
    expect(flowParent('$')).toBeUndefined();
    expect(flowParent('$.group[12]')).toEqual({ parent: '$', kind: 'group', index: 12 });
    expect(flowParent('$.group[1].chain[2]')).toEqual({ parent: '$.group[1]', kind: 'chain', index: 2 });
    expect(flowParent('$.chain[0].then')).toEqual({ parent: '$.chain[0]', kind: 'then' });
  });
});

describe('flowOutput', () => {
  const ok = (result: unknown): FlowOutcome => ({ ok: true, result });
  it('assembles tasks, chains, groups and thens from the recorded outcomes', () => {
    const outcomes = new Map<string, FlowOutcome>([
      ['$.chain[0]', ok(1)],
      ['$.chain[1].group[0]', ok('a')],
      ['$.chain[1].group[1].chain[0]', ok('b0')],
      ['$.chain[1].group[1].chain[1]', ok('b1')],
      ['$.chain[1].group[2]', { ok: false, task: 'send_email', code: 'E', message: 'm', policy: 'continue' }],
      ['$.chain[1].group[3]', { ok: false, code: 'E', message: 'm', policy: 'ignore' }],
    ]);
    const sizes = new Map([['$.chain[1]', 4]]);
    expect(flowOutput('$.chain[0]', outcomes, sizes)).toBe(1);
    expect(flowOutput('$.chain[1]', outcomes, sizes)).toEqual([
      'a',
      'b1',
      { error: { task: 'send_email', code: 'E', message: 'm' } },
      null,
    ]);
    outcomes.set('$.chain[1].then', ok('chord'));
    expect(flowOutput('$.chain[1]', outcomes, sizes)).toBe('chord');
    expect(flowOutput('$.chain[1].group', outcomes, sizes)).toHaveLength(4);
  });
});
