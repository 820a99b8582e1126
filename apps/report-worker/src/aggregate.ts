import type { AggregateFunction, ReportAggregate } from '@tq/contracts';
import { NonRetryableError } from '@tq/worker';

/** One cell value as the data sources deliver it (inline JSON rows or CSV strings). */
export type Cell = string | number | boolean | null | undefined;

/**
 * A row's cell by column name, own properties only: a column named `constructor` or `toString`
 * that a row lacks is empty, not a function inherited from `Object.prototype`.
 */
export function cellOf(row: Readonly<Record<string, Cell>>, key: string): Cell {
  return Object.hasOwn(row, key) ? row[key] : undefined;
}

/** Reads a cell as a number: numbers as they are, numeric strings parsed, empty cells skipped. */
export function toNumber(value: Cell): number | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'boolean') return value ? 1 : 0;
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  const number = Number(trimmed);
  return Number.isFinite(number) ? number : Number.NaN;
}

interface Accumulator {
  count: number;
  sum: number;
  min: number;
  max: number;
  numeric: number;
}

const fresh = (): Accumulator => ({
  count: 0,
  sum: 0,
  min: Number.POSITIVE_INFINITY,
  max: Number.NEGATIVE_INFINITY,
  numeric: 0,
});

function result(fn: AggregateFunction, acc: Accumulator): number | null {
  switch (fn) {
    case 'count':
      return acc.count;
    case 'sum':
      return acc.sum;
    case 'avg':
      return acc.numeric === 0 ? null : acc.sum / acc.numeric;
    case 'min':
      return acc.numeric === 0 ? null : acc.min;
    case 'max':
      return acc.numeric === 0 ? null : acc.max;
  }
}

/** Label of an aggregate column: its own label, else `sum(amount)`. */
export function aggregateLabel(aggregate: ReportAggregate): string {
  return aggregate.label ?? `${aggregate.fn}(${aggregate.column})`;
}

/** Group-by aggregates computed in one pass, in constant memory per group. */
export class Aggregator {
  readonly #aggregates: readonly ReportAggregate[];
  readonly #groupBy: string | undefined;
  readonly #groups = new Map<string, Accumulator[]>();
  readonly #total: Accumulator[];

  constructor(aggregates: readonly ReportAggregate[], groupBy: string | undefined) {
    this.#aggregates = aggregates;
    this.#groupBy = groupBy;
    this.#total = aggregates.map(fresh);
  }

  /** Adds one row; throws `NonRetryableError` (`INVALID_DATA`) for a non-numeric value in a numeric aggregate. */
  add(row: Record<string, Cell>, rowNumber: number): void {
    if (this.#aggregates.length === 0) return;
    const key = this.#groupBy === undefined ? '' : String(cellOf(row, this.#groupBy) ?? '');
    let group = this.#groups.get(key);
    if (!group) {
      group = this.#aggregates.map(fresh);
      this.#groups.set(key, group);
    }
    this.#aggregates.forEach((aggregate, index) => {
      const value = cellOf(row, aggregate.column);
      for (const acc of [group[index] as Accumulator, this.#total[index] as Accumulator]) {
        if (aggregate.fn === 'count') {
          if (value !== null && value !== undefined && value !== '') acc.count += 1;
          continue;
        }
        const number = toNumber(value);
        if (number === undefined) continue;
        if (Number.isNaN(number)) {
          throw new NonRetryableError(
            `row ${rowNumber}, column "${aggregate.column}": ${JSON.stringify(value)} is not a number (needed for ${aggregate.fn})`,
            { code: 'INVALID_DATA' },
          );
        }
        acc.sum += number;
        acc.numeric += 1;
        acc.min = Math.min(acc.min, number);
        acc.max = Math.max(acc.max, number);
      }
    });
  }

  /** Groups in natural order (numbers by value, then text), each with its aggregate values. */
  groups(): { key: string; values: (number | null)[] }[] {
    const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });
    return [...this.#groups.entries()]
      .sort(([a], [b]) => collator.compare(a, b))
      .map(([key, accs]) => ({
        key,
        values: this.#aggregates.map((aggregate, index) => result(aggregate.fn, accs[index] as Accumulator)),
      }));
  }

  /** The aggregates over every row. */
  totals(): (number | null)[] {
    return this.#aggregates.map((aggregate, index) => result(aggregate.fn, this.#total[index] as Accumulator));
  }
}
