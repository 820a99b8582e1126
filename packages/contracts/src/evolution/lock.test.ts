import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { createRegistry, defineTask, registry } from '../index.js';
import * as contracts from './lock.js';

const invoice = (subject = Type.String({ maxLength: 200 })) =>
  defineTask({
    name: 'send_invoice',
    description: 'Sends an invoice.',
    versions: { 1: { schema: Type.Object({ orderId: Type.String(), subject }, { additionalProperties: false }) } },
  });

const copy = (lock: contracts.ContractsLock): contracts.ContractsLock => JSON.parse(JSON.stringify(lock));

describe('the contracts lock', () => {
  it('holds every task and version of the registry as plain JSON Schema, in a stable text', () => {
    const lock = contracts.contractsLock(registry);
    expect(Object.keys(lock)).toEqual(['cleanup_data', 'generate_report', 'process_image', 'send_email']);
    expect(lock.send_email?.['1']).toMatchObject({ type: 'object', additionalProperties: false });
    expect(contracts.renderContractsLock(lock)).toBe(
      contracts.renderContractsLock(contracts.parseContractsLock(contracts.renderContractsLock(lock))),
    );
    expect(contracts.checkContracts(registry, lock)).toEqual({ breaking: [], additive: [], changed: false });
  });

  it('refuses a lock that is not JSON or not shaped as one, naming the file and the fix in one line', () => {
    const cases: [string, RegExp][] = [
      [
        '{ "send_email": ',
        /^tq\.contracts\.json is not JSON \(.+\): restore it from git, or write it again with tq contracts lock$/,
      ],
      ['[]', /^tq\.contracts\.json is not a JSON object: /],
      ['{ "send_email": 1 }', /^tq\.contracts\.json: "send_email" is not an object of versions: /],
      [
        '{ "send_email": { "v1": {} } }',
        /^tq\.contracts\.json: "send_email" has version "v1", not a positive integer: /,
      ],
      ['{ "send_email": { "1": "x" } }', /^tq\.contracts\.json: send_email version 1 is not a JSON Schema: /],
    ];
    for (const [text, message] of cases) {
      expect(() => contracts.parseContractsLock(text)).toThrow(contracts.ContractsLockError);
      expect(() => contracts.parseContractsLock(text)).toThrow(message);
      expect(() => contracts.parseContractsLock(text)).not.toThrow(/\n/);
    }
  });

  it('a breaking change within a version: one finding with its path, rule and the fix', () => {
    const lock = contracts.contractsLock(createRegistry([invoice()]));
    const { breaking, additive, changed } = contracts.checkContracts(
      createRegistry([invoice(Type.String({ maxLength: 50 }))]),
      lock,
    );
    expect(changed).toBe(true);
    expect(additive).toEqual([]);
    expect(breaking.map(contracts.formatFinding)).toEqual([
      'send_invoice v1 $.subject: limit-tightened (maxLength 200 → 50): keep version 1 as released and make the change version 2',
    ]);
  });

  it('a removed version or task is breaking; a new version or task is additive with its deploy order', () => {
    const lock = copy(contracts.contractsLock(createRegistry([invoice()])));
    lock.send_invoice = { ...lock.send_invoice, '2': lock.send_invoice?.['1'] as Record<string, unknown> };
    lock.send_sms = { '1': { type: 'object' } };
    const { breaking, additive } = contracts.checkContracts(
      createRegistry([invoice(), ...registry.names().map((name) => registry.get(name) as never)]),
      lock,
    );
    expect(breaking.map((item) => [item.task, item.version, item.rule])).toEqual([
      ['send_invoice', 2, 'version-removed'],
      ['send_sms', 1, 'task-removed'],
    ]);
    expect(breaking[1]?.fix).toMatch(/may still be in a queue or DLQ .*tq contracts lock --accept-breaking/);
    expect(additive.map((item) => [item.task, item.rule])).toEqual([
      ['cleanup_data', 'task-added'],
      ['generate_report', 'task-added'],
      ['process_image', 'task-added'],
      ['send_email', 'task-added'],
    ]);
  });

  it('an annotation-only change is a change, with no finding', () => {
    const lock = copy(contracts.contractsLock(createRegistry([invoice()])));
    (lock.send_invoice?.['1'] as { description?: string }).description = 'old words';
    expect(contracts.checkContracts(createRegistry([invoice()]), lock)).toEqual({
      breaking: [],
      additive: [],
      changed: true,
    });
  });
});
