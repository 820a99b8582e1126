import { classifyAwsError, isS3LocationError, openS3Object } from '@tq/aws';
import { parseTask } from '@tq/contracts';
import { FlowStore, flowViewJson, StatusNotTrackedError } from '@tq/status';
import type { FastifyInstance } from 'fastify';
import type { ConsoleContext } from '../context.js';

/** Tasks: check or send one from the form (sending needs the token), its status by id, its artifacts. */
export function taskRoutes(app: FastifyInstance, context: ConsoleContext): void {
  const { registry, logger } = context;
  app.post<{ Params: { task: string }; Body: { payload?: unknown; send?: boolean } }>(
    '/api/tasks/:task',
    async (request, reply) => {
      const { task } = request.params;
      if (!context.knownTask(task, reply)) return;
      const payload = request.body?.payload;
      const definition = registry.get(task);
      const parsed = parseTask(
        { task, version: definition?.latestVersion ?? 1, payload },
        { registry, defaults: { id: '00000000-0000-4000-8000-000000000000', createdAt: new Date().toISOString() } },
      );
      if (!parsed.ok) {
        return reply.code(422).send({ error: parsed.error.message, violations: parsed.error.violations });
      }
      if (!request.body?.send) return { valid: true };
      if (!context.authorized(request, reply, 'send')) return;
      const sent = await context.producer().send(task as never, payload as never);
      logger.info({ action: 'send', task, id: sent.id, route: sent.route, from: request.ip }, 'console: write action');
      return sent;
    },
  );

  app.get<{ Params: { id: string } }>('/api/tasks/:id', async (request) => {
    try {
      const store = context.status();
      const found = await store.reader.get(request.params.id);
      if (found) return { tracked: true, status: found };
      // An id with no task steps may be a flow's: its tree.
      const flow = await new FlowStore({ dynamodb: store.dynamodb, tableName: store.tableName }).read(
        request.params.id,
      );
      return { tracked: true, status: undefined, flow: flow ? flowViewJson(flow) : undefined };
    } catch (error) {
      if (error instanceof StatusNotTrackedError) return { tracked: false, reason: error.message };
      throw error;
    }
  });

  app.get<{ Querystring: { uri?: string; download?: string } }>('/api/artifacts', async (request, reply) => {
    let location: ReturnType<typeof context.artifactsAllowed.check>;
    try {
      location = context.artifactsAllowed.check(String(request.query.uri ?? ''), 'artifact');
    } catch (error) {
      if (!isS3LocationError(error)) throw error;
      return reply.code(403).send({ error: error.message });
    }
    try {
      const object = await openS3Object(context.s3, location, { maxBytes: 512 * 1024 * 1024 });
      const name = location.key.split('/').pop() || 'artifact';
      reply.type(object.contentType ?? 'application/octet-stream');
      reply.header(
        'content-disposition',
        `${request.query.download === '1' ? 'attachment' : 'inline'}; filename="${name.replace(/["\\\r\n]/g, '_')}"`,
      );
      // Served files cannot run script in the console's origin.
      reply.header('content-security-policy', "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:");
      return reply.send(object.body);
    } catch (error) {
      if (classifyAwsError(error) === 'not-found')
        return reply.code(404).send({ error: `no such artifact ${request.query.uri}` });
      throw error;
    }
  });
}
