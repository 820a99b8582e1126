import type { TSchema } from '@sinclair/typebox';
import type { TypeCheck } from '@sinclair/typebox/compiler';
import type { ValueError } from '@sinclair/typebox/errors';
import type { Violation } from './errors.js';

/**
 * Every violation TypeBox finds, with a schema's `errorMessage` (a JSON Schema annotation
 * ajv-errors also reads) in place of its generic text, a missing field reported once as
 * "is required", and duplicates at one path dropped
 * (a `pattern` and a `format` failing for the same value say the same thing). Where a union
 * fails and exactly one of its variants has the value's JSON type, that variant's own
 * violations are reported: `{ name: "..." }` with a bad name says so, not "expected union".
 */
export function collectViolations(check: TypeCheck<TSchema>, value: unknown): Violation[] {
  if (check.Check(value)) return [];
  const seen = new Set<string>();
  const found: Violation[] = [];
  const visit = (errors: Iterable<ValueError>): void => {
    for (const error of errors) {
      const variant = matchingVariant(error);
      if (variant) {
        visit(variant);
        continue;
      }
      // A missing field is missing, whatever its rules: one "is required", not each rule it breaks.
      const custom = (error.schema as { errorMessage?: unknown }).errorMessage;
      const message = error.value === undefined ? 'is required' : typeof custom === 'string' ? custom : error.message;
      const key = `${error.path}\u0000${message}`;
      if (seen.has(key)) continue;
      seen.add(key);
      found.push({ path: error.path, message });
    }
  };
  visit(check.Errors(value));
  return found;
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function matchingVariant(error: ValueError): Iterable<ValueError> | undefined {
  const variants = (error.schema as { anyOf?: { type?: string }[] }).anyOf;
  if (!variants || error.errors.length !== variants.length) return undefined;
  const type = jsonType(error.value);
  const matches = variants
    .map((variant, index) => ({ variant, index }))
    .filter(({ variant }) => variant.type === type || (variant.type === 'integer' && type === 'number'));
  return matches.length === 1 ? error.errors[matches[0]?.index ?? 0] : undefined;
}
