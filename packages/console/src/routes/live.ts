import { jsonSchemas } from '@tq/contracts';
import type { FastifyInstance } from 'fastify';
import type { ConsoleContext } from '../context.js';

/** What the page reads first and live: the tasks and their send-form schemas, the overview, its event stream. */
export function liveRoutes(app: FastifyInstance, context: ConsoleContext): void {
  const { registry, env } = context;
  // The payload schema of each task's latest version: what the send form is generated from.
  const schemas = jsonSchemas(registry);
  const meta = {
    prefix: env.prefix,
    where: env.endpoint ?? `AWS ${env.region}`,
    readOnly: context.readOnly,
    tasks: context.tasks.map((name) => {
      const version = registry.get(name)?.latestVersion ?? 1;
      const file = schemas.find((candidate) => candidate.task === name && candidate.version === version);
      const properties = (file?.schema as { properties?: { payload?: unknown } } | undefined)?.properties;
      return { name, version, schema: properties?.payload ?? {} };
    }),
  };
  app.get('/api/meta', async () => meta);
  app.get('/api/overview', async () => await context.live.current());
  app.get('/api/events', (request, reply) => {
    reply.hijack();
    reply.raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    });
    const stop = context.live.listen((data) => reply.raw.write(`data: ${data}\n\n`));
    request.raw.on('close', stop);
  });
}
