import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { createTask, parseTask } from '@tq/contracts';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { z } from 'zod';
import type { Scenario } from '../lib.js';

interface Config {
  bodies: string[];
  iterations: number;
}

const require = createRequire(import.meta.url);
const schemaFile = join(dirname(require.resolve('@tq/contracts/package.json')), 'schemas', 'send_email.v1.json');

const address = z.email().max(254);
const mailbox = z.union([
  address,
  z
    .object({
      name: z
        .string()
        .min(1)
        .max(256)
        .regex(/^[^\p{Cc}]+$/u),
      address,
    })
    .strict(),
]);
const recipients = z.array(mailbox).min(1).max(50);
/** The send_email v1 envelope written by hand in zod: the same rules as the generated JSON Schema. */
const zodEnvelope = z.object({
  id: z.uuid(),
  task: z.literal('send_email'),
  version: z.literal(1),
  createdAt: z.iso.datetime({ offset: true }),
  idempotencyKey: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[\x21-\x7e]+$/)
    .optional(),
  traceparent: z
    .string()
    .regex(/^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/)
    .optional(),
  payload: z
    .object({
      to: recipients,
      cc: recipients.optional(),
      bcc: recipients.optional(),
      from: mailbox.optional(),
      replyTo: mailbox.optional(),
      subject: z
        .string()
        .min(1)
        .max(998)
        .regex(/^[^\p{Cc}]+$/u),
      text: z.string().min(1).max(500_000).optional(),
      html: z.string().min(1).max(500_000).optional(),
      attachments: z
        .array(
          z
            .object({
              filename: z.string().min(1).max(255),
              source: z.string().regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/.+$/),
              contentType: z.string().max(255).optional(),
              contentId: z.string().min(1).max(255).optional(),
            })
            .strict(),
        )
        .max(20)
        .optional(),
    })
    .strict()
    .refine((p) => p.text !== undefined || p.html !== undefined, 'text or html is required'),
});

/**
 * Contract validation cost: JSON text in, validated send_email envelope out, for tq's compiled
 * TypeBox validators (`parseTask`), ajv on the generated JSON Schema file, and the same rules in zod.
 */
export const validation: Scenario<Config> = {
  name: 'validation',
  title: 'validate send_email envelopes from JSON text',
  unit: 'tasks/s',
  contenders: ['tq (TypeBox compiled)', 'ajv (JSON Schema file)', 'zod'],
  reference: 'ajv (JSON Schema file)',
  referenceNote: 'ajv 8 compiling the generated JSON Schema file, the usual baseline',
  rounds: (context) => (context.quick ? 1 : 3),
  async prepare(context) {
    const bodies = Array.from({ length: 1000 }, (_, i) =>
      JSON.stringify(
        createTask('send_email', {
          to: i % 3 ? [`user${i}@example.com`] : [{ name: `User ${i}`, address: `user${i}@example.com` }],
          ...(i % 5 === 0 ? { cc: ['cc@example.com'] } : {}),
          subject: `Order ${i} confirmed`,
          text: 'Thanks for your order.',
          ...(i % 2 ? { html: '<p>Thanks for your order.</p>' } : {}),
          ...(i % 7 === 0 ? { attachments: [{ filename: 'receipt.pdf', source: 's3://tq-artifacts/r.pdf' }] } : {}),
        }),
      ),
    );
    return { bodies, iterations: context.quick ? 50_000 : 300_000 };
  },
  async run(contender, config) {
    let check: (body: string) => boolean;
    if (contender === 'tq (TypeBox compiled)') {
      check = (body) => parseTask(body).ok;
    } else if (contender === 'ajv (JSON Schema file)') {
      const ajv = new Ajv2020({ allErrors: false, strict: false });
      addFormats.default(ajv);
      const validate = ajv.compile(JSON.parse(readFileSync(schemaFile, 'utf8')));
      check = (body) => validate(JSON.parse(body)) === true;
    } else {
      check = (body) => zodEnvelope.safeParse(JSON.parse(body)).success;
    }
    // Warm up, then measure.
    for (const body of config.bodies) if (!check(body)) throw new Error(`${contender} rejected a valid task`);
    const started = performance.now();
    for (let i = 0; i < config.iterations; i += 1) check(config.bodies[i % config.bodies.length] as string);
    const seconds = (performance.now() - started) / 1000;
    return { value: config.iterations / seconds, extra: { microsecondsPerTask: (seconds * 1e6) / config.iterations } };
  },
};
