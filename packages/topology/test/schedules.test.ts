import { S3Client } from '@aws-sdk/client-s3';
import { GetScheduleCommand, ListSchedulesCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import { SNSClient } from '@aws-sdk/client-sns';
import { GetQueueUrlCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { parseTask } from '@tq/contracts';
import { type LocalEndpoint, startLocalEndpoint, uniqueName } from '@tq/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkDeployable,
  createProvisioner,
  defineSchedule,
  defineTopology,
  isTopologyError,
  nextRuns,
  syncSchedules,
  type TopologyError,
} from '../src/index.js';

const report = {
  title: 'Nightly sales',
  columns: [{ key: 'region', label: 'Region' }],
  rows: [{ region: 'north' }],
  destination: 's3://tq-artifacts/reports/nightly.pdf',
};

function rejection(build: () => unknown): TopologyError {
  try {
    build();
  } catch (error) {
    if (isTopologyError(error)) return error;
    throw error;
  }
  throw new Error('expected a TopologyError');
}

describe('defineSchedule', () => {
  it('rejects an invalid payload when the schedule is defined, naming each violation', () => {
    const error = rejection(() =>
      defineSchedule({
        name: 'nightly-report',
        task: 'generate_report',
        payload: { ...report, destination: 'not-a-location', columns: [] } as never,
        cron: '0 2 * * *',
      }),
    );
    expect(error.code).toBe('INVALID_SCHEDULE');
    expect(error.violations.map((violation) => violation.path)).toEqual(
      expect.arrayContaining(['/payload/destination', '/payload/columns']),
    );
  });

  it('rejects bad names, time zones, expressions, and more or fewer than one of cron, rate, at', () => {
    const base = { task: 'generate_report' as const, payload: report };
    expect(rejection(() => defineSchedule({ ...base, name: 'has space', cron: '0 2 * * *' })).violations[0]?.path).toBe(
      '/name',
    );
    expect(rejection(() => defineSchedule({ ...base, name: 'once-x', rate: '1 hour' })).violations[0]?.path).toBe(
      '/name',
    );
    expect(
      rejection(() => defineSchedule({ ...base, name: 'tz', cron: '0 2 * * *', timezone: 'Mars/Olympus' }))
        .violations[0]?.path,
    ).toBe('/timezone');
    expect(rejection(() => defineSchedule({ ...base, name: 'c', cron: '0 25 * * *' })).violations[0]?.path).toBe(
      '/cron',
    );
    expect(rejection(() => defineSchedule({ ...base, name: 'c', cron: '0 2 1 * 1' })).message).toMatch(
      /cannot both be set/,
    );
    expect(rejection(() => defineSchedule({ ...base, name: 'r', rate: 'often' })).violations[0]?.path).toBe('/rate');
    expect(
      rejection(() => defineSchedule({ ...base, name: 'two', rate: '1 hour', cron: '0 2 * * *' })).message,
    ).toMatch(/exactly one of cron, rate or at/);
  });

  it('writes each kind as EventBridge Scheduler expects: cron days of week from Sunday = 1, rates, at in UTC', () => {
    const base = { task: 'generate_report' as const, payload: report };
    const nightly = defineSchedule({ ...base, name: 'nightly', cron: '0 2 * * *', timezone: 'Europe/Paris' });
    expect(nightly).toMatchObject({ expression: 'cron(0 2 * * ? *)', expressionTimezone: 'Europe/Paris', version: 1 });
    expect(defineSchedule({ ...base, name: 'weekdays', cron: '30 9 * * 1-5' }).expression).toBe(
      'cron(30 9 ? * 2,3,4,5,6 *)',
    );
    expect(defineSchedule({ ...base, name: 'sundays', cron: '0 0 * * 0' }).expression).toBe('cron(0 0 ? * 1 *)');
    expect(defineSchedule({ ...base, name: 'names', cron: '0 0 * * MON,FRI' }).expression).toBe('cron(0 0 ? * 2,6 *)');
    expect(defineSchedule({ ...base, name: 'aws', cron: 'cron(0 8 ? * 2 *)' }).cron).toBe('0 8 * * 1');
    expect(defineSchedule({ ...base, name: 'r1', rate: '5 minutes' }).expression).toBe('rate(5 minutes)');
    expect(defineSchedule({ ...base, name: 'r2', rate: '1 hour' }).expression).toBe('rate(1 hour)');
    expect(defineSchedule({ ...base, name: 'r3', rate: '120 minutes' }).expression).toBe('rate(2 hours)');
    expect(defineSchedule({ ...base, name: 'r4', rate: '1 second' }).expression).toBe('rate(1 second)');
    const once = defineSchedule({
      ...base,
      name: 'launch',
      at: '2027-01-15T09:30:00',
      timezone: 'America/New_York',
    });
    expect(once).toMatchObject({
      at: '2027-01-15T14:30:00Z',
      expression: 'at(2027-01-15T14:30:00)',
      expressionTimezone: 'UTC',
    });
  });

  it('computes the next runs in the schedule time zone, across a DST change', () => {
    const nightly = defineSchedule({
      name: 'nightly',
      task: 'generate_report',
      payload: report,
      cron: '0 2 * * *',
      timezone: 'Europe/Paris',
    });
    const runs = nextRuns(nightly, 3, { from: new Date('2026-03-27T12:00:00Z') });
    // 02:00 in Paris: 01:00 UTC in winter; 2026-03-29 has no 02:00 (clocks go 02:00 -> 03:00).
    expect(runs.map((date) => date.toISOString())[0]).toBe('2026-03-28T01:00:00.000Z');
    expect(runs[2]?.toISOString()).toBe('2026-03-30T00:00:00.000Z');
    const rate = defineSchedule({ name: 'r', task: 'generate_report', payload: report, rate: '10 minutes' });
    const since = new Date('2026-11-30T00:00:00Z');
    expect(nextRuns(rate, 2, { from: new Date('2026-11-30T00:25:00Z'), since }).map((d) => d.toISOString())).toEqual([
      '2026-11-30T00:30:00.000Z',
      '2026-11-30T00:40:00.000Z',
    ]);
  });

  it('refuses to deploy sub-minute rates (EventBridge cannot run them) and FIFO or unprovisioned tasks', () => {
    const fast = defineSchedule({ name: 'fast', task: 'generate_report', payload: report, rate: '1 second' });
    expect(() => checkDeployable(fast)).toThrow(/whole minutes/);
    expect(() => defineTopology({ schedules: [fast], queues: { generate_report: { fifo: true } } })).toThrow(
      /FIFO task/,
    );
    expect(() => defineTopology({ schedules: [fast], tasks: ['send_email'] })).toThrow(/not provisioned/);
    expect(() => defineTopology({ schedules: [fast, fast] })).toThrow(/used twice/);
  });
});

describe('schedules on the local endpoint (EventBridge Scheduler API, same SDK calls as on AWS)', () => {
  let endpoint: LocalEndpoint;
  let scheduler: SchedulerClient;
  let sqs: SQSClient;
  let sns: SNSClient;
  const prefix = uniqueName('sch');
  let topicArn: string;

  beforeAll(async () => {
    endpoint = await startLocalEndpoint();
    scheduler = new SchedulerClient(endpoint.clientConfig);
    sqs = new SQSClient(endpoint.clientConfig);
    sns = new SNSClient(endpoint.clientConfig);
    const s3 = new S3Client(endpoint.clientConfig);
    await createProvisioner({ sqs, sns, s3, topology: defineTopology({ prefix, bucket: false }) }).apply();
    s3.destroy();
    topicArn = `arn:aws:sns:${endpoint.region}:000000000000:${prefix}-tasks`;
  });
  afterAll(async () => {
    scheduler.destroy();
    sqs.destroy();
    sns.destroy();
    await endpoint.stop();
  });

  it('syncs definitions (create, unchanged, update, prune) and lists them with the SDK', async () => {
    const roleArn = 'arn:aws:iam::000000000000:role/tq-scheduler';
    const nightly = defineSchedule({ name: 'nightly', task: 'generate_report', payload: report, cron: '0 2 * * *' });
    const hourly = defineSchedule({ name: 'hourly', task: 'generate_report', payload: report, rate: '1 hour' });
    const group = `${prefix}-g`;
    expect(await syncSchedules({ scheduler, group, topicArn, roleArn, schedules: [nightly, hourly] })).toEqual([
      { action: 'create-group', name: group },
      { action: 'create', name: 'nightly' },
      { action: 'create', name: 'hourly' },
    ]);
    expect(await syncSchedules({ scheduler, group, topicArn, roleArn, schedules: [nightly, hourly] })).toEqual([]);
    const later = defineSchedule({ name: 'nightly', task: 'generate_report', payload: report, cron: '0 3 * * *' });
    expect(await syncSchedules({ scheduler, group, topicArn, roleArn, schedules: [later], prune: true })).toEqual([
      { action: 'update', name: 'nightly' },
      { action: 'delete', name: 'hourly' },
    ]);
    const listed = await scheduler.send(new ListSchedulesCommand({ GroupName: group }));
    expect(listed.Schedules?.map((schedule) => schedule.Name)).toEqual(['nightly']);
    const stored = await scheduler.send(new GetScheduleCommand({ Name: 'nightly', GroupName: group }));
    expect(stored).toMatchObject({
      ScheduleExpression: 'cron(0 3 * * ? *)',
      State: 'ENABLED',
      Target: { Arn: 'arn:aws:scheduler:::aws-sdk:sns:publish', RoleArn: roleArn },
    });
    expect(stored.CreationDate).toBeInstanceOf(Date);
  });

  it('a rate of 1 s fires N times in N seconds (within one), each a valid task reaching the task queue', async () => {
    const group = `${prefix}-fast`;
    const fast = defineSchedule({
      name: 'every-second',
      task: 'generate_report',
      payload: report,
      rate: '1 second',
    });
    const fired: string[] = [];
    const firedAt: number[] = [];
    const local = endpoint.scheduler;
    if (!local) throw new Error('the endpoint has no scheduler');
    const stopListening = local.onFiring((firing) => {
      if (firing.group !== group) return;
      fired.push(firing.scheduledTime);
      firedAt.push(Date.parse(firing.firedAt));
    });
    const roleArn = 'arn:aws:iam::000000000000:role/tq-scheduler';
    await syncSchedules({ scheduler, group, topicArn, roleArn, schedules: [fast] });
    const started = Date.now();
    const N = 5;
    // Wait on firings (no fixed sleep) until one lands after the N-second window.
    while (!firedAt.some((at) => at >= started + N * 1000)) await new Promise((resolve) => setTimeout(resolve, 50));
    await syncSchedules({ scheduler, group, topicArn, roleArn, schedules: [], prune: true });
    stopListening();
    const inWindow = firedAt.filter((at) => at >= started && at < started + N * 1000).length;
    expect(Math.abs(inWindow - N)).toBeLessThanOrEqual(1);
    // Distinct whole-second scheduled times, one second apart.
    expect(new Set(fired).size).toBe(fired.length);

    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: `${prefix}-generate_report` }));
    const bodies: string[] = [];
    while (bodies.length < fired.length) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
      );
      for (const message of Messages) bodies.push(message.Body ?? '');
      if (Messages.length === 0) break;
    }
    expect(bodies.length).toBe(fired.length);
    const parsed = parseTask(bodies[0], { defaults: { id: '6f1c2c39-5b8e-4a59-9d1e-0d5c8d8b9a10' } });
    expect(parsed.ok).toBe(true);
    expect(parsed.ok && parsed.envelope).toMatchObject({
      task: 'generate_report',
      createdAt: fired[0],
      idempotencyKey: `schedule:every-second:${fired[0]}`,
      payload: report,
    });
  });
});
