import { parseTask } from '@tq/contracts';
import type { FastifyInstance } from 'fastify';
import type { ConsoleContext } from '../context.js';
import { countCodes } from '../queues.js';

/** A placeholder id for checking a body against its schema (the real one is the message's). */
const CHECK_ID = '00000000-0000-4000-8000-000000000000';

/** Dead letters: pages of a task's DLQ scan grouped by code, and redrive or delete (with the token). */
export function dlqRoutes(app: FastifyInstance, context: ConsoleContext): void {
  const { registry, deadLetters, scans, logger } = context;
  app.get<{
    Params: { task: string };
    Querystring: { code?: string; offset?: string; limit?: string; fresh?: string };
  }>('/api/dlq/:task', async (request, reply) => {
    const { task } = request.params;
    if (!context.knownTask(task, reply)) return;
    const scan = scans.of(task, request.query.fresh === '1');
    await scan.firstBatch;
    if (scan.error) return reply.code(502).send({ error: scan.error });
    const offset = Math.max(0, Number(request.query.offset ?? 0) || 0);
    const limit = Math.min(200, Math.max(1, Number(request.query.limit ?? 50) || 50));
    const read = scan.read;
    const matching = request.query.code ? read.filter((letter) => letter.code === request.query.code) : read;
    return {
      task,
      scanning: !scan.done,
      scannedAt: scan.scannedAt,
      total: scan.total,
      read: read.length,
      codes: countCodes(read),
      matching: matching.length,
      offset,
      messages: matching.slice(offset, offset + limit),
    };
  });

  app.post<{
    Params: { task: string; action: string };
    Body: { messageIds?: string[]; code?: string; body?: string };
  }>('/api/dlq/:task/:action', async (request, reply) => {
    const { task, action } = request.params;
    if (!context.knownTask(task, reply)) return;
    if (action !== 'redrive' && action !== 'delete') return reply.code(404).send({ error: `no action ${action}` });
    if (!context.authorized(request, reply, `dlq ${action}`)) return;
    const body = request.body ?? {};
    const pick = {
      ...(Array.isArray(body.messageIds) ? { messageIds: body.messageIds.map(String).slice(0, 10_000) } : {}),
      ...(typeof body.code === 'string' ? { code: body.code } : {}),
    };
    if (!pick.messageIds && !pick.code) return reply.code(400).send({ error: 'give messageIds or a code' });
    if (body.body !== undefined) {
      // An edited body goes back only if it now passes the task's schema (the worker's rules).
      if (action !== 'redrive' || pick.messageIds?.length !== 1) {
        return reply.code(400).send({ error: 'an edited body redrives exactly one message' });
      }
      const parsed = parseTask(String(body.body), { registry, defaults: { id: CHECK_ID } });
      if (!parsed.ok) return reply.code(422).send({ error: parsed.error.message, violations: parsed.error.violations });
      if (parsed.envelope.task !== task)
        return reply.code(422).send({ error: `the body is a ${parsed.envelope.task} task` });
    }
    const result =
      action === 'redrive'
        ? await deadLetters.redrive(task, pick, body.body === undefined ? undefined : String(body.body))
        : await deadLetters.remove(task, pick);
    logger.info(
      { action: `dlq ${action}`, task, ...pick, edited: body.body !== undefined, ...result, from: request.ip },
      'console: write action',
    );
    scans.forget(task);
    return result;
  });
}
