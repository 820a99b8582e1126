import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { jsonSchemas, parseTask, registry, renderJsonSchema, type TaskName } from '../src/index.js';
import { validEnvelope, validPayloads } from './fixtures.js';
import { REMOVE, type RuleCase, ruleCases } from './rule-cases.js';
import { enumerateRules } from './schema-rules.js';

const schemaDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'schemas');
const files = Object.fromEntries(
  readdirSync(schemaDir).map((name) => [name, JSON.parse(readFileSync(join(schemaDir, name), 'utf8'))]),
);

// An independent validator reading the committed files, not the TypeBox objects.
const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false, keywords: ['errorMessage'] });
addFormats.default(ajv, { mode: 'full' });
const ajvValidators = Object.fromEntries(Object.entries(files).map(([name, schema]) => [name, ajv.compile(schema)]));

function set(target: unknown, pointer: string, value: unknown): unknown {
  if (pointer === '') return value;
  const keys = pointer.slice(1).split('/');
  const copy = structuredClone(target) as Record<string, unknown>;
  let node: Record<string, unknown> = copy;
  for (const key of keys.slice(0, -1)) {
    node[key] ??= {};
    node = node[key] as Record<string, unknown>;
  }
  const last = keys.at(-1) as string;
  if (value === REMOVE) delete node[last];
  else node[last] = value;
  return copy;
}

function envelopeOf(task: string, payload: unknown): Record<string, unknown> {
  return { ...validEnvelope, task, payload };
}

// From the registry: a task type without a fixture or rule cases fails here instead of being skipped.
const tasks = registry.names() as TaskName[];
const tables = [...tasks, 'envelope'] as const;

describe('generated JSON Schema files', () => {
  it('are up to date with the TypeBox schemas (run `pnpm schemas` when this fails)', () => {
    const generated = jsonSchemas();
    expect(Object.keys(files).sort()).toEqual(generated.map((file) => file.fileName).sort());
    for (const file of generated) {
      expect(readFileSync(join(schemaDir, file.fileName), 'utf8'), file.fileName).toBe(renderJsonSchema(file));
    }
  });
});

describe('valid tasks', () => {
  it.each(tasks)('%s with every optional field passes TypeBox and ajv', (task) => {
    expect(validPayloads[task], `test/fixtures.ts has no payload for ${task}`).toBeDefined();
    const envelope = envelopeOf(task, validPayloads[task]);
    const parsed = parseTask(envelope);
    expect(parsed.ok ? [] : parsed.error.violations).toEqual([]);
    const validate = ajvValidators[`${task}.v1.json`];
    expect(validate?.(envelope), JSON.stringify(validate?.errors)).toBe(true);
  });
});

describe('every schema rule has a case that breaks it', () => {
  const seen = new Set<string>();
  const rulesByTask: Record<string, string[]> = {};
  for (const task of tasks) {
    const schema = files[`${task}.v1.json`] as { properties: { payload: Record<string, unknown> } };
    rulesByTask[task] = enumerateRules(task, schema.properties.payload, seen);
  }
  const { payload: _payload, ...envelopeProperties } = files['send_email.v1.json'].properties;
  rulesByTask.envelope = enumerateRules(
    'envelope',
    { ...files['send_email.v1.json'], properties: envelopeProperties },
    new Set(),
  );

  it.each(tables)('%s: the cases cover exactly the rules of the schema', (table) => {
    expect(ruleCases[table], `test/rule-cases.ts has no table for ${table}`).toBeDefined();
    const covered = new Set((ruleCases[table] ?? []).flatMap((ruleCase) => ruleCase.rules));
    const schemaRules = rulesByTask[table] ?? [];
    expect(
      schemaRules.filter((rule) => !covered.has(rule)),
      'rules without a case',
    ).toEqual([]);
    const stale = [...covered].filter((rule) => !schemaRules.includes(rule) && !rule.includes(':refine:'));
    expect(stale, 'cases for rules the schema no longer has').toEqual([]);
  });

  const all = Object.entries(ruleCases).flatMap(([table, cases]) =>
    cases.map((ruleCase) => [table, ruleCase] as const),
  );
  it.each(all.map(([table, ruleCase]) => [ruleCase.rules.join(' + '), table, ruleCase] as const))(
    '%s',
    (_name, table, ruleCase: RuleCase) => {
      const input =
        table === 'envelope'
          ? set(validEnvelope, ruleCase.path, ruleCase.value)
          : envelopeOf(table, set(validPayloads[table as TaskName], ruleCase.path, ruleCase.value));
      const parsed = parseTask(input);
      expect(parsed.ok, 'TypeBox accepted a payload that breaks the rule').toBe(false);
      if (parsed.ok) return;
      if (ruleCase.code) {
        expect(parsed.error.code).toBe(ruleCase.code);
      } else {
        const where = table === 'envelope' ? (ruleCase.at ?? ruleCase.path) : `/payload${ruleCase.at ?? ruleCase.path}`;
        const paths = parsed.error.violations.map((violation) => violation.path);
        expect(
          paths.some((path) => path === where || path.startsWith(`${where}/`)),
          `no violation at ${where}: ${JSON.stringify(parsed.error.violations)}`,
        ).toBe(true);
      }
      const validate = ajvValidators[`${table === 'envelope' ? 'send_email' : table}.v1.json`];
      expect(validate?.(input), 'ajv and TypeBox disagree').toBe(!ruleCase.jsonSchema);
    },
  );
});
