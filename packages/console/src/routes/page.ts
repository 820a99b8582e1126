import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

const publicDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'public');

const JS = 'text/javascript; charset=utf-8';
/** The page's own files: its HTML, style, and one module per view (`app.js` imports the rest). */
const PAGES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
  'app.js': JS,
  'lib.js': JS,
  'overview.js': JS,
  'dead-letters.js': JS,
  'send.js': JS,
  'task.js': JS,
};

/** The vendor files the page imports (served from node_modules: no CDN at run time). */
function vendorFiles(): Record<string, { path: string; type: string }> {
  const require = createRequire(import.meta.url);
  const js = 'text/javascript; charset=utf-8';
  return {
    'preact.mjs': { path: require.resolve('preact'), type: js },
    'hooks.mjs': { path: require.resolve('preact/hooks'), type: js },
    'htm.mjs': { path: join(dirname(require.resolve('htm')), 'htm.mjs'), type: js },
    'uplot.mjs': { path: require.resolve('uplot/dist/uPlot.esm.js'), type: js },
    'uplot.css': { path: require.resolve('uplot/dist/uPlot.min.css'), type: 'text/css; charset=utf-8' },
  };
}

/**
 * The page, its assets and vendor files, and the headers every answer carries: a content
 * security policy whose only inline script is the page's import map (allowed by its hash).
 */
export async function pageRoutes(app: FastifyInstance): Promise<void> {
  const vendor = vendorFiles();
  const indexHtml = await readFile(join(publicDir, 'index.html'), 'utf8');
  const importMap = /<script type="importmap">([\s\S]*?)<\/script>/.exec(indexHtml)?.[1] ?? '';
  const importMapHash = createHash('sha256').update(importMap).digest('base64');
  const csp = [
    "default-src 'self'",
    `script-src 'self' 'sha256-${importMapHash}'`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
  ].join('; ');
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    if (!reply.hasHeader('content-security-policy')) reply.header('content-security-policy', csp);
    return payload;
  });

  app.get('/', async (_request, reply) => {
    reply.type(PAGES['index.html'] as string).header('cache-control', 'no-store');
    return indexHtml;
  });
  app.get('/favicon.ico', async (_request, reply) => reply.code(204).send());
  app.get<{ Params: { file: string } }>('/assets/:file', async (request, reply) => {
    const type = PAGES[request.params.file];
    if (!type) return reply.code(404).send({ error: 'not found' });
    reply.type(type);
    return await readFile(join(publicDir, request.params.file));
  });
  app.get<{ Params: { file: string } }>('/vendor/:file', async (request, reply) => {
    const file = vendor[request.params.file];
    if (!file) return reply.code(404).send({ error: 'not found' });
    reply.type(file.type).header('cache-control', 'public, max-age=86400');
    return await readFile(file.path);
  });
}
