// The JSON Schema keywords as the comparison reads them: unions, literals, types, properties.

export type Schema = Record<string, unknown> | boolean;
export type SchemaObject = Record<string, unknown>;

/** Keywords that only describe: they never change what a schema accepts. */
export const ANNOTATIONS = new Set([
  'title',
  'description',
  'examples',
  'default',
  '$comment',
  '$schema',
  '$id',
  'deprecated',
  'readOnly',
  'writeOnly',
  // The message of a violation (tq's contracts carry one for other validators, ajv-errors style).
  'errorMessage',
]);
export function isSchemaObject(value: unknown): value is SchemaObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isEmpty(schema: Schema): boolean {
  return isSchemaObject(schema) && Object.keys(schema).every((key) => ANNOTATIONS.has(key));
}

/** `allOf` folded into its parent: properties merged, `required` joined, the rest by the last word. */
export function flattenAllOf(schema: SchemaObject): SchemaObject {
  const { allOf, ...base } = schema;
  if (!Array.isArray(allOf)) return schema;
  return allOf.filter(isSchemaObject).map(flattenAllOf).reduce(merge, base);
}

export function merge(base: SchemaObject, extra: SchemaObject): SchemaObject {
  const merged: SchemaObject = { ...base, ...extra };
  if (base.properties || extra.properties)
    merged.properties = { ...(base.properties as object), ...(extra.properties as object) };
  if (base.required || extra.required)
    merged.required = [...new Set([...strings(base.required), ...strings(extra.required)])];
  return merged;
}

/** The alternatives a schema accepts, each with the keywords around the union folded in. */
export function branches(schema: SchemaObject): SchemaObject[] {
  const { anyOf, oneOf, ...base } = schema;
  const alternatives = (Array.isArray(anyOf) ? anyOf : Array.isArray(oneOf) ? oneOf : undefined) as
    | Schema[]
    | undefined;
  if (!alternatives) return [schema];
  return alternatives.map((alternative) =>
    merge(base, alternative === true ? {} : alternative === false ? { not: {} } : flattenAllOf(alternative)),
  );
}

/** The values of a union made only of `const`/`enum` alternatives, else undefined. */
export function literalValues(alternatives: SchemaObject[]): unknown[] | undefined {
  const values: unknown[] = [];
  for (const alternative of alternatives) {
    const own = valuesOf(alternative);
    if (!own) return undefined;
    values.push(...own);
  }
  return values;
}

export function valuesOf(schema: SchemaObject): unknown[] | undefined {
  if ('const' in schema) return [schema.const];
  return Array.isArray(schema.enum) ? schema.enum : undefined;
}

export function typesOf(schema: SchemaObject): string[] | undefined {
  if (typeof schema.type === 'string') return [schema.type];
  return Array.isArray(schema.type) ? strings(schema.type) : undefined;
}

export function typeMatches(value: unknown, type: string): boolean {
  if (type === 'null') return value === null;
  if (type === 'array') return Array.isArray(value);
  if (type === 'object') return isSchemaObject(value);
  if (type === 'integer') return Number.isInteger(value);
  return typeof value === type;
}

/** What governs a property an object does not list: its matching patternProperties, else additionalProperties. */
export function otherProperty(schema: SchemaObject, name: string): Schema {
  for (const [pattern, property] of Object.entries((schema.patternProperties ?? {}) as Record<string, Schema>)) {
    if (new RegExp(pattern, 'u').test(name)) return property;
  }
  const rest = schema.additionalProperties;
  return rest === undefined ? true : (rest as Schema);
}

export function pointer(root: Schema, ref: string): Schema | undefined {
  if (!ref.startsWith('#')) return undefined;
  let current: unknown = root;
  for (const part of ref.slice(1).split('/').filter(Boolean)) {
    const key = decodeURIComponent(part).replaceAll('~1', '/').replaceAll('~0', '~');
    if (!isSchemaObject(current) && !Array.isArray(current)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current === undefined ? undefined : (current as Schema);
}

export function child(path: string, name: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(name) ? `${path}.${name}` : `${path}[${JSON.stringify(name)}]`;
}

export function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

export function same(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

/** JSON with sorted keys, so that key order never counts as a change. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, item) =>
    isSchemaObject(item)
      ? Object.fromEntries(
          Object.keys(item)
            .sort()
            .map((key) => [key, item[key]]),
        )
      : item,
  );
}

export function show(value: unknown): string {
  return value === undefined ? '(none)' : typeof value === 'string' ? value : JSON.stringify(value);
}

export function list(values: unknown[]): string {
  return values.map((value) => JSON.stringify(value)).join(', ');
}

export function describe(schema: Schema): string {
  if (!isSchemaObject(schema)) return schema ? 'any value' : 'no value';
  const values = valuesOf(schema);
  if (values) return list(values);
  const types = typesOf(schema);
  return types ? types.join(' | ') : 'a constrained value';
}
