/**
 * Where a new JSON Schema rejects a value the old one accepted: the comparison behind `tq
 * contracts check`. Run one way it finds breaking changes (messages already sent may fail the new
 * schema); run the other way, additive ones (old workers may refuse what new producers send).
 *
 * It is sound for the keywords tq's contracts use (types, const and enum, unions, objects and
 * arrays, limits, patterns, formats, `required`, `additionalProperties`, `dependentRequired`) and
 * conservative elsewhere: a change it cannot prove harmless is reported (`constraint-changed`).
 * Annotations (`title`, `description`, `examples`, `default`, `errorMessage`, …) never count.
 */

import {
  ANNOTATIONS,
  branches,
  child,
  describe,
  flattenAllOf,
  isEmpty,
  isSchemaObject,
  list,
  literalValues,
  otherProperty,
  pointer,
  type Schema,
  type SchemaObject,
  same,
  show,
  strings,
  typeMatches,
  typesOf,
  valuesOf,
} from './keywords.js';

/** Why a schema rejects what another accepted, in narrowing terms. */
export type NarrowingRule =
  | 'type-narrowed'
  | 'type-changed'
  | 'enum-narrowed'
  | 'const-changed'
  | 'limit-tightened'
  | 'pattern-added'
  | 'pattern-changed'
  | 'format-added'
  | 'format-changed'
  | 'unique-items-added'
  | 'required-added'
  | 'dependent-required-added'
  | 'property-removed'
  | 'property-added-to-open-object'
  | 'additional-properties-closed'
  | 'union-narrowed'
  | 'constraint-added'
  | 'constraint-changed';

/** One place where the second schema rejects values the first accepted. */
export interface Narrowing {
  /** Where in the payload, as a JSONPath: `$.attachments[*].filename`. */
  readonly path: string;
  readonly rule: NarrowingRule;
  /** What changed, e.g. `maxLength 998 → 200`. */
  readonly detail: string;
}

const LOWER_BOUNDS = ['minimum', 'exclusiveMinimum', 'minLength', 'minItems', 'minProperties', 'minContains'];
const UPPER_BOUNDS = ['maximum', 'exclusiveMaximum', 'maxLength', 'maxItems', 'maxProperties', 'maxContains'];
/** Keywords compared one by one below; any other keyword that differs is `constraint-changed`. */
const KNOWN = new Set([
  ...ANNOTATIONS,
  ...LOWER_BOUNDS,
  ...UPPER_BOUNDS,
  'type',
  'const',
  'enum',
  'anyOf',
  'oneOf',
  'allOf',
  'multipleOf',
  'pattern',
  'format',
  'uniqueItems',
  'properties',
  'required',
  'additionalProperties',
  'patternProperties',
  'dependentRequired',
  'items',
  'prefixItems',
  '$defs',
  'definitions',
  '$ref',
]);

/**
 * Every place where `next` rejects a value `previous` accepted. Local `$ref`s (`#/$defs/…`) are
 * followed in each schema's own document.
 */
export function narrowings(previous: Schema, next: Schema): Narrowing[] {
  const comparison = new Comparison(previous, next, false);
  comparison.compare(previous, next, '$', 0);
  return comparison.found;
}

/** Why a schema accepts what another refused: a narrowing read the other way. */
export type WideningRule =
  | 'type-widened'
  | 'type-changed'
  | 'enum-widened'
  | 'const-changed'
  | 'limit-loosened'
  | 'pattern-removed'
  | 'pattern-changed'
  | 'format-removed'
  | 'format-changed'
  | 'unique-items-removed'
  | 'required-removed'
  | 'dependent-required-removed'
  | 'property-added'
  | 'property-removed-from-open-object'
  | 'additional-properties-opened'
  | 'union-widened'
  | 'constraint-removed'
  | 'constraint-changed';

/** One place where the second schema accepts values the first refused. */
export interface Widening {
  readonly path: string;
  readonly rule: WideningRule;
  readonly detail: string;
}

const MIRROR: Record<NarrowingRule, WideningRule> = {
  'type-narrowed': 'type-widened',
  'type-changed': 'type-changed',
  'enum-narrowed': 'enum-widened',
  'const-changed': 'const-changed',
  'limit-tightened': 'limit-loosened',
  'pattern-added': 'pattern-removed',
  'pattern-changed': 'pattern-changed',
  'format-added': 'format-removed',
  'format-changed': 'format-changed',
  'unique-items-added': 'unique-items-removed',
  'required-added': 'required-removed',
  'dependent-required-added': 'dependent-required-removed',
  'property-removed': 'property-added',
  'property-added-to-open-object': 'property-removed-from-open-object',
  'additional-properties-closed': 'additional-properties-opened',
  'union-narrowed': 'union-widened',
  'constraint-added': 'constraint-removed',
  'constraint-changed': 'constraint-changed',
};

/**
 * Every place where `next` accepts a value `previous` refused: what a reader still on `previous`
 * would refuse from a writer already on `next`. Details read from `previous` to `next`.
 */
export function widenings(previous: Schema, next: Schema): Widening[] {
  const comparison = new Comparison(next, previous, true);
  comparison.compare(next, previous, '$', 0);
  return comparison.found.map((item) => ({ ...item, rule: MIRROR[item.rule] }));
}

class Comparison {
  readonly found: Narrowing[] = [];

  constructor(
    private readonly oldRoot: Schema,
    private readonly newRoot: Schema,
    /** Details read from `next` to `previous`: the comparison run backwards to find widenings. */
    private readonly mirrored: boolean,
  ) {}

  /** `a → b`, or `b → a` when mirrored. */
  private arrow(a: string, b: string): string {
    return this.mirrored ? `${b} → ${a}` : `${a} → ${b}`;
  }

  private say(forward: string, mirrored: string): string {
    return this.mirrored ? mirrored : forward;
  }

  private sub(): Comparison {
    return new Comparison(this.oldRoot, this.newRoot, this.mirrored);
  }

  compare(previous: Schema, next: Schema, path: string, depth: number): void {
    if (depth > 64) return;
    const before = this.resolve(previous, this.oldRoot);
    const after = this.resolve(next, this.newRoot);
    if (after === true || isEmpty(after)) return;
    if (before === false) return;
    if (after === false) {
      this.add(path, 'type-narrowed', this.say('accepts nothing now', 'accepted nothing before'));
      return;
    }
    const oldSchema = before === true ? {} : flattenAllOf(before);
    const newSchema = flattenAllOf(after);
    const oldBranches = branches(oldSchema);
    const newBranches = branches(newSchema);
    if (oldBranches.length === 1 && newBranches.length === 1) {
      this.compareBase(oldBranches[0] as SchemaObject, newBranches[0] as SchemaObject, path, depth);
      return;
    }
    const oldValues = literalValues(oldBranches);
    const newValues = literalValues(newBranches);
    if (oldValues && newValues) {
      this.compareValues(oldValues, newValues, path);
      return;
    }
    for (const branch of oldBranches) {
      // Each old alternative must be accepted whole by some new one: the closest is reported.
      const tries = newBranches.map((candidate) => {
        const sub = this.sub();
        sub.compareBase(branch, candidate, path, depth);
        return sub.found;
      });
      if (tries.some((found) => found.length === 0)) continue;
      const closest = tries.reduce((best, found) => (found.length < best.length ? found : best));
      // A kind of value no alternative has any more is the union's change; else the closest says what changed.
      const kindGone = closest.some((item) => item.path === path && item.rule === 'type-changed');
      if (!kindGone) {
        for (const item of closest) if (!this.found.some((seen) => sameNarrowing(seen, item))) this.found.push(item);
        continue;
      }
      const what = describe(branch);
      this.add(
        path,
        'union-narrowed',
        this.say(`no alternative accepts ${what} any more`, `a new alternative accepts ${what}`),
      );
    }
  }

  private compareBase(before: SchemaObject, after: SchemaObject, path: string, depth: number): void {
    this.compareTypes(before, after, path);
    const oldValues = valuesOf(before);
    const newValues = valuesOf(after);
    if (newValues) {
      if (oldValues) this.compareValues(oldValues, newValues, path);
      else this.add(path, 'enum-narrowed', this.arrow('any value', `only ${list(newValues)}`));
    }
    this.compareBounds(before, after, path);
    this.compareStrings(before, after, path);
    if (after.uniqueItems === true && before.uniqueItems !== true) {
      this.add(path, 'unique-items-added', this.say('items must be unique now', 'items may repeat now'));
    }
    this.compareObjects(before, after, path, depth);
    this.compareArrays(before, after, path, depth);
    for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
      if (KNOWN.has(key) || same(before[key], after[key])) continue;
      const added = before[key] === undefined;
      const removed = after[key] === undefined;
      const change = added ? this.say('added', 'removed') : removed ? this.say('removed', 'added') : 'changed';
      this.add(path, added ? 'constraint-added' : 'constraint-changed', `${key} ${change}`);
    }
  }

  private compareTypes(before: SchemaObject, after: SchemaObject, path: string): void {
    const newTypes = typesOf(after);
    if (!newTypes) return;
    const oldTypes = typesOf(before);
    if (!oldTypes) {
      // Without a type the old schema accepted any type its other keywords allowed.
      if (valuesOf(before)?.every((value) => newTypes.some((type) => typeMatches(value, type)))) return;
      this.add(path, 'type-narrowed', this.arrow('any type', newTypes.join(' | ')));
      return;
    }
    const lost = oldTypes.filter(
      (type) => !newTypes.includes(type) && !(type === 'integer' && newTypes.includes('number')),
    );
    if (lost.length === 0) return;
    // number → integer keeps the whole numbers: a narrowing, not a change of kind.
    const kept = oldTypes.filter((type) => !lost.includes(type) || (type === 'number' && newTypes.includes('integer')));
    this.add(
      path,
      kept.length === 0 ? 'type-changed' : 'type-narrowed',
      this.arrow(oldTypes.join(' | '), newTypes.join(' | ')),
    );
  }

  private compareValues(before: unknown[], after: unknown[], path: string): void {
    const removed = before.filter((value) => !after.some((candidate) => same(value, candidate)));
    if (removed.length === 0) return;
    if (before.length === 1 && after.length === 1)
      this.add(path, 'const-changed', this.arrow(list(before), list(after)));
    else this.add(path, 'enum-narrowed', `${list(removed)} ${this.say('no longer accepted', 'accepted now')}`);
  }

  private compareBounds(before: SchemaObject, after: SchemaObject, path: string): void {
    for (const key of LOWER_BOUNDS) {
      const next = after[key];
      if (typeof next !== 'number') continue;
      const previous = before[key];
      if (typeof previous !== 'number' || next > previous) {
        this.add(path, 'limit-tightened', `${key} ${this.arrow(show(previous), String(next))}`);
      }
    }
    for (const key of UPPER_BOUNDS) {
      const next = after[key];
      if (typeof next !== 'number') continue;
      const previous = before[key];
      if (typeof previous !== 'number' || next < previous) {
        this.add(path, 'limit-tightened', `${key} ${this.arrow(show(previous), String(next))}`);
      }
    }
    const step = after.multipleOf;
    if (typeof step === 'number') {
      const previous = before.multipleOf;
      if (typeof previous !== 'number' || !Number.isInteger(previous / step)) {
        this.add(path, 'limit-tightened', `multipleOf ${this.arrow(show(previous), String(step))}`);
      }
    }
  }

  private compareStrings(before: SchemaObject, after: SchemaObject, path: string): void {
    if (typeof after.pattern === 'string' && after.pattern !== before.pattern) {
      const rule = before.pattern === undefined ? 'pattern-added' : 'pattern-changed';
      this.add(path, rule, this.arrow(show(before.pattern), after.pattern));
    }
    if (typeof after.format === 'string' && after.format !== before.format) {
      const rule = before.format === undefined ? 'format-added' : 'format-changed';
      this.add(path, rule, this.arrow(show(before.format), after.format));
    }
  }

  private compareObjects(before: SchemaObject, after: SchemaObject, path: string, depth: number): void {
    const oldRequired = strings(before.required);
    for (const name of strings(after.required)) {
      if (!oldRequired.includes(name)) {
        this.add(child(path, name), 'required-added', `"${name}" is ${this.say('required', 'optional')} now`);
      }
    }
    const oldDependent = (before.dependentRequired ?? {}) as Record<string, string[]>;
    for (const [name, needs] of Object.entries((after.dependentRequired ?? {}) as Record<string, string[]>)) {
      const added = strings(needs).filter((need) => !strings(oldDependent[name]).includes(need));
      if (added.length > 0) {
        const now = this.say('required now', 'optional now');
        this.add(child(path, name), 'dependent-required-added', `with "${name}", ${list(added)} ${now}`);
      }
    }
    const oldProperties = (before.properties ?? {}) as Record<string, Schema>;
    const newProperties = (after.properties ?? {}) as Record<string, Schema>;
    for (const [name, schema] of Object.entries(oldProperties)) {
      const target = newProperties[name] ?? otherProperty(after, name);
      if (target === false && newProperties[name] === undefined) {
        const text = this.say(
          `"${name}" is gone and the object is closed`,
          `"${name}" is new and the object was closed`,
        );
        this.add(child(path, name), 'property-removed', text);
      } else this.compare(schema, target, child(path, name), depth + 1);
    }
    for (const [name, schema] of Object.entries(newProperties)) {
      if (name in oldProperties) continue;
      const previous = otherProperty(before, name);
      if (previous === false) continue;
      if (previous === true || isEmpty(previous)) {
        const sub = this.sub();
        sub.compare(true, schema, child(path, name), depth + 1);
        if (sub.found.length > 0) {
          const text = `"${name}": ${this.arrow('any value (the object is open)', describe(schema))}`;
          this.add(child(path, name), 'property-added-to-open-object', text);
        }
      } else this.compare(previous, schema, child(path, name), depth + 1);
    }
    const oldRest = before.additionalProperties;
    const newRest = after.additionalProperties;
    if (newRest === false && oldRest !== false) {
      this.add(path, 'additional-properties-closed', `other properties are ${this.say('refused', 'accepted')} now`);
    } else if (isSchemaObject(newRest))
      this.compare(oldRest === undefined ? true : (oldRest as Schema), newRest, `${path}.*`, depth + 1);
    const oldPatterns = (before.patternProperties ?? {}) as Record<string, Schema>;
    for (const [pattern, schema] of Object.entries((after.patternProperties ?? {}) as Record<string, Schema>)) {
      const previous = oldPatterns[pattern] ?? (oldRest === false ? false : ((oldRest as Schema | undefined) ?? true));
      this.compare(previous, schema, `${path}[/${pattern}/]`, depth + 1);
    }
  }

  private compareArrays(before: SchemaObject, after: SchemaObject, path: string, depth: number): void {
    const oldPrefix = (before.prefixItems ?? []) as Schema[];
    const newPrefix = (after.prefixItems ?? []) as Schema[];
    newPrefix.forEach((schema, index) => {
      this.compare(
        oldPrefix[index] ?? (before.items as Schema | undefined) ?? true,
        schema,
        `${path}[${index}]`,
        depth + 1,
      );
    });
    if (after.items !== undefined) {
      this.compare((before.items as Schema | undefined) ?? true, after.items as Schema, `${path}[*]`, depth + 1);
    }
  }

  private resolve(schema: Schema, root: Schema): Schema {
    let current = schema;
    for (let hops = 0; hops < 32 && isSchemaObject(current) && typeof current.$ref === 'string'; hops += 1) {
      const target = pointer(root, current.$ref);
      if (target === undefined) break;
      const { $ref: _ref, ...rest } = current;
      current = isEmpty(rest) ? target : isSchemaObject(target) ? { ...target, ...rest } : target;
    }
    return current;
  }

  private add(path: string, rule: NarrowingRule, detail: string): void {
    const item = { path, rule, detail };
    if (!this.found.some((seen) => sameNarrowing(seen, item))) this.found.push(item);
  }
}

function sameNarrowing(a: Narrowing, b: Narrowing): boolean {
  return a.path === b.path && a.rule === b.rule && a.detail === b.detail;
}
