import { type TProperties, Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { narrowings, widenings } from './compare.js';

type Schema = Record<string, unknown> | boolean;

/** A schema as a lock holds it: TypeBox's output as plain JSON. */
const json = (schema: unknown): Schema => JSON.parse(JSON.stringify(schema));
const object = (properties: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  json(Type.Object(properties as never, { additionalProperties: false, ...extra }));

const closed = (properties: TProperties) => Type.Object(properties, { additionalProperties: false });
const Email = Type.String({ format: 'email', pattern: '^[^@\\s]+@[^@\\s]+$', maxLength: 254 });
const Mailbox = Type.Union([
  Email,
  Type.Object({ name: Type.String(), address: Email }, { additionalProperties: false }),
]);

interface Case {
  name: string;
  before: Schema;
  after: Schema;
  /** Rules of the breaking findings, `path rule` each; [] when every old payload still passes. */
  breaking: string[];
  /** Rules of the additive findings (the same comparison backwards), `path rule` each. */
  additive: string[];
}

const cases: Case[] = [
  // Compatible: nothing but annotations, or the same schema in another key order.
  {
    name: 'description and examples changed',
    before: object({ a: Type.String({ description: 'old' }) }),
    after: object(
      { a: Type.String({ description: 'new', examples: ['x'], errorMessage: 'must be a' }) },
      { title: 'T' },
    ),
    breaking: [],
    additive: [],
  },
  {
    name: 'key order only',
    before: { type: 'object', properties: { a: { type: 'string', maxLength: 3 } } },
    after: { properties: { a: { maxLength: 3, type: 'string' } }, type: 'object' },
    breaking: [],
    additive: [],
  },
  // Types.
  {
    name: 'type changed',
    before: object({ n: Type.String() }),
    after: object({ n: Type.Number() }),
    breaking: ['$.n type-changed'],
    additive: ['$.n type-changed'],
  },
  {
    name: 'number narrowed to integer',
    before: object({ n: Type.Number() }),
    after: object({ n: Type.Integer() }),
    breaking: ['$.n type-narrowed'],
    additive: [],
  },
  {
    name: 'integer widened to number',
    before: object({ n: Type.Integer() }),
    after: object({ n: Type.Number() }),
    breaking: [],
    additive: ['$.n type-widened'],
  },
  {
    name: 'type list narrowed',
    before: { type: ['string', 'null'] },
    after: { type: 'string' },
    breaking: ['$ type-narrowed'],
    additive: [],
  },
  {
    name: 'nullable union narrowed (anyOf of string and null)',
    before: object({ s: Type.Union([Type.String(), Type.Null()]) }),
    after: object({ s: Type.String() }),
    breaking: ['$.s union-narrowed'],
    additive: [],
  },
  {
    name: 'nullable union widened',
    before: object({ s: Type.String() }),
    after: object({ s: Type.Union([Type.String(), Type.Null()]) }),
    breaking: [],
    additive: ['$.s union-widened'],
  },
  {
    name: 'any type (unknown) narrowed to string',
    before: object({ v: Type.Unknown() }),
    after: object({ v: Type.String() }),
    breaking: ['$.v type-narrowed'],
    additive: [],
  },
  // Enums, literals and const.
  {
    name: 'literal union narrowed',
    before: object({ fit: Type.Union([Type.Literal('cover'), Type.Literal('contain'), Type.Literal('fill')]) }),
    after: object({ fit: Type.Union([Type.Literal('cover'), Type.Literal('contain')]) }),
    breaking: ['$.fit enum-narrowed'],
    additive: [],
  },
  {
    name: 'literal union extended',
    before: object({ fit: Type.Union([Type.Literal('cover'), Type.Literal('contain')]) }),
    after: object({ fit: Type.Union([Type.Literal('cover'), Type.Literal('contain'), Type.Literal('fill')]) }),
    breaking: [],
    additive: ['$.fit enum-widened'],
  },
  {
    name: 'enum keyword narrowed',
    before: { enum: ['a', 'b', 1] },
    after: { enum: ['a', 1] },
    breaking: ['$ enum-narrowed'],
    additive: [],
  },
  {
    name: 'const changed',
    before: object({ kind: Type.Literal('bar') }),
    after: object({ kind: Type.Literal('pie') }),
    breaking: ['$.kind const-changed'],
    additive: ['$.kind const-changed'],
  },
  {
    name: 'free string narrowed to a const',
    before: object({ kind: Type.String() }),
    after: object({ kind: Type.Literal('bar') }),
    breaking: ['$.kind enum-narrowed'],
    additive: [],
  },
  // Limits.
  {
    name: 'maxLength tightened',
    before: object({ s: Type.String({ maxLength: 998 }) }),
    after: object({ s: Type.String({ maxLength: 200 }) }),
    breaking: ['$.s limit-tightened'],
    additive: [],
  },
  {
    name: 'maxLength loosened',
    before: object({ s: Type.String({ maxLength: 200 }) }),
    after: object({ s: Type.String({ maxLength: 998 }) }),
    breaking: [],
    additive: ['$.s limit-loosened'],
  },
  {
    name: 'minimum raised and maximum added',
    before: object({ q: Type.Integer({ minimum: 1 }) }),
    after: object({ q: Type.Integer({ minimum: 10, maximum: 100 }) }),
    breaking: ['$.q limit-tightened', '$.q limit-tightened'],
    additive: [],
  },
  {
    name: 'exclusive minimum added where the minimum was inclusive',
    before: { type: 'number', minimum: 0 },
    after: { type: 'number', exclusiveMinimum: 0 },
    breaking: ['$ limit-tightened'],
    additive: ['$ limit-loosened'],
  },
  {
    name: 'multipleOf made coarser',
    before: { type: 'number', multipleOf: 0.5 },
    after: { type: 'number', multipleOf: 1 },
    breaking: ['$ limit-tightened'],
    additive: [],
  },
  {
    name: 'minItems raised on an array',
    before: object({ to: Type.Array(Type.String(), { minItems: 1, maxItems: 50 }) }),
    after: object({ to: Type.Array(Type.String(), { minItems: 2, maxItems: 50 }) }),
    breaking: ['$.to limit-tightened'],
    additive: [],
  },
  {
    name: 'uniqueItems added',
    before: object({ tags: Type.Array(Type.String()) }),
    after: object({ tags: Type.Array(Type.String(), { uniqueItems: true }) }),
    breaking: ['$.tags unique-items-added'],
    additive: [],
  },
  // Patterns and formats.
  {
    name: 'pattern added',
    before: object({ id: Type.String() }),
    after: object({ id: Type.String({ pattern: '^[a-z]+$' }) }),
    breaking: ['$.id pattern-added'],
    additive: [],
  },
  {
    name: 'pattern changed',
    before: object({ id: Type.String({ pattern: '^[a-z]+$' }) }),
    after: object({ id: Type.String({ pattern: '^[a-z0-9]+$' }) }),
    breaking: ['$.id pattern-changed'],
    additive: ['$.id pattern-changed'],
  },
  {
    name: 'pattern removed',
    before: object({ id: Type.String({ pattern: '^[a-z]+$' }) }),
    after: object({ id: Type.String() }),
    breaking: [],
    additive: ['$.id pattern-removed'],
  },
  {
    name: 'format email added',
    before: object({ from: Type.String() }),
    after: object({ from: Type.String({ format: 'email' }) }),
    breaking: ['$.from format-added'],
    additive: [],
  },
  {
    name: 'format changed from uuid to date-time',
    before: object({ at: Type.String({ format: 'uuid' }) }),
    after: object({ at: Type.String({ format: 'date-time' }) }),
    breaking: ['$.at format-changed'],
    additive: ['$.at format-changed'],
  },
  // Objects.
  {
    name: 'required field added',
    before: object({ a: Type.String() }),
    after: object({ a: Type.String(), b: Type.String() }),
    breaking: ['$.b required-added'],
    additive: ['$.b property-added'],
  },
  {
    name: 'optional field added to a closed object',
    before: object({ a: Type.String() }),
    after: object({ a: Type.String(), b: Type.Optional(Type.String()) }),
    breaking: [],
    additive: ['$.b property-added'],
  },
  {
    name: 'optional field made required',
    before: object({ a: Type.Optional(Type.String()) }),
    after: object({ a: Type.String() }),
    breaking: ['$.a required-added'],
    additive: [],
  },
  {
    name: 'required field made optional',
    before: object({ a: Type.String() }),
    after: object({ a: Type.Optional(Type.String()) }),
    breaking: [],
    additive: ['$.a required-removed'],
  },
  {
    name: 'property removed from a closed object',
    before: object({ a: Type.String(), b: Type.Optional(Type.String()) }),
    after: object({ a: Type.String() }),
    breaking: ['$.b property-removed'],
    additive: [],
  },
  {
    name: 'property removed from an open object',
    before: json(Type.Object({ a: Type.String(), b: Type.Optional(Type.String()) })),
    after: json(Type.Object({ a: Type.String() })),
    breaking: [],
    additive: ['$.b property-removed-from-open-object'],
  },
  {
    name: 'property added to an open object (old payloads may have had any value there)',
    before: json(Type.Object({ a: Type.String() })),
    after: json(Type.Object({ a: Type.String(), b: Type.Optional(Type.Integer()) })),
    breaking: ['$.b property-added-to-open-object'],
    additive: [],
  },
  {
    name: 'additionalProperties closed',
    before: json(Type.Object({ a: Type.String() })),
    after: object({ a: Type.String() }),
    breaking: ['$ additional-properties-closed'],
    additive: [],
  },
  {
    name: 'additionalProperties opened',
    before: object({ a: Type.String() }),
    after: json(Type.Object({ a: Type.String() })),
    breaking: [],
    additive: ['$ additional-properties-opened'],
  },
  {
    name: 'nested: a field of an object in an array tightened',
    before: object({ attachments: Type.Array(closed({ filename: Type.String({ maxLength: 255 }) })) }),
    after: object({ attachments: Type.Array(closed({ filename: Type.String({ maxLength: 100 }) })) }),
    breaking: ['$.attachments[*].filename limit-tightened'],
    additive: [],
  },
  {
    name: 'nested: a required field added two levels down',
    before: object({ email: closed({ to: Type.Array(Email) }) }),
    after: object({ email: closed({ to: Type.Array(Email), subject: Type.String() }) }),
    breaking: ['$.email.subject required-added'],
    additive: ['$.email.subject property-added'],
  },
  {
    name: 'record values (patternProperties) tightened',
    before: object({ rows: Type.Array(Type.Record(Type.String({ pattern: '^[a-z]+$' }), Type.Number())) }),
    after: object({ rows: Type.Array(Type.Record(Type.String({ pattern: '^[a-z]+$' }), Type.Integer())) }),
    breaking: ['$.rows[*][/^[a-z]+$/] type-narrowed'],
    additive: [],
  },
  {
    name: 'dependentRequired extended',
    before: { type: 'object', dependentRequired: { chart: ['groupBy'] } },
    after: { type: 'object', dependentRequired: { chart: ['groupBy', 'aggregates'] } },
    breaking: ['$.chart dependent-required-added'],
    additive: [],
  },
  // Unions of objects, and the formats the contracts use.
  {
    name: 'a mailbox union loses its object form',
    before: object({ to: Type.Array(Mailbox) }),
    after: object({ to: Type.Array(Email) }),
    breaking: ['$.to[*] union-narrowed'],
    additive: [],
  },
  {
    name: 'a mailbox union gains the object form',
    before: object({ to: Type.Array(Email) }),
    after: object({ to: Type.Array(Mailbox) }),
    breaking: [],
    additive: ['$.to[*] union-widened'],
  },
  {
    name: 'inside one alternative of a union: the address of the object form tightened',
    before: object({ to: Mailbox }),
    after: object({
      to: Type.Union([
        Email,
        Type.Object(
          {
            name: Type.String(),
            address: Type.String({ format: 'email', pattern: '^[^@\\s]+@[^@\\s]+$', maxLength: 100 }),
          },
          { additionalProperties: false },
        ),
      ]),
    }),
    breaking: ['$.to.address limit-tightened'],
    additive: [],
  },
  {
    name: 'oneOf of required fields (rows or source) kept, a field loosened',
    before: object(
      { rows: Type.Optional(Type.Array(Type.Unknown(), { maxItems: 5000 })), source: Type.Optional(Type.String()) },
      { oneOf: [{ required: ['rows'] }, { required: ['source'] }] },
    ),
    after: object(
      { rows: Type.Optional(Type.Array(Type.Unknown(), { maxItems: 10000 })), source: Type.Optional(Type.String()) },
      { oneOf: [{ required: ['rows'] }, { required: ['source'] }] },
    ),
    breaking: [],
    additive: ['$.rows limit-loosened'],
  },
  {
    name: 'a local $ref followed on both sides',
    before: {
      $defs: { name: { type: 'string', maxLength: 10 } },
      type: 'object',
      properties: { a: { $ref: '#/$defs/name' } },
    },
    after: {
      $defs: { name: { type: 'string', maxLength: 5 } },
      type: 'object',
      properties: { a: { $ref: '#/$defs/name' } },
    },
    breaking: ['$.a limit-tightened'],
    additive: [],
  },
  {
    name: 'an unknown keyword added is reported, not ignored',
    before: { type: 'string' },
    after: { type: 'string', contentMediaType: 'application/json' },
    breaking: ['$ constraint-added'],
    additive: ['$ constraint-changed'],
  },
  {
    name: 'a property name that is not an identifier',
    before: object({ 'content-type': Type.String() }),
    after: object({ 'content-type': Type.String({ maxLength: 10 }) }),
    breaking: ['$["content-type"] limit-tightened'],
    additive: [],
  },
];

const rules = (found: { path: string; rule: string }[]) => found.map((item) => `${item.path} ${item.rule}`);

describe('schema narrowings (the rules of tq contracts check)', () => {
  it('has at least 30 pairs, each a different case', () => {
    expect(cases.length).toBeGreaterThanOrEqual(30);
    expect(new Set(cases.map((item) => item.name)).size).toBe(cases.length);
  });

  it.each(cases)('$name', ({ before, after, breaking, additive }) => {
    expect(rules(narrowings(before, after))).toEqual(breaking);
    expect(rules(widenings(before, after))).toEqual(additive);
  });

  it('reads details from the old schema to the new one in both directions', () => {
    const before = object({ s: Type.String({ maxLength: 998 }) });
    const after = object({ s: Type.String({ maxLength: 200 }) });
    expect(narrowings(before, after)).toEqual([
      { path: '$.s', rule: 'limit-tightened', detail: 'maxLength 998 → 200' },
    ]);
    expect(widenings(after, before)).toEqual([{ path: '$.s', rule: 'limit-loosened', detail: 'maxLength 200 → 998' }]);
  });
});
