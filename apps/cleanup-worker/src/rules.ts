import { createHash } from 'node:crypto';
import { type CleanupRules, type ColumnRule, EMAIL_PATTERN } from '@tq/contracts';
import { NonRetryableError } from '@tq/worker';

const EMAIL = new RegExp(EMAIL_PATTERN);
const INTEGER = /^[+-]?\d+$/;
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
/**
 * Numbers `String(Number(value))` gives back unchanged, so they need no conversion: no sign but
 * a minus (not on zero), no leading zeros, no trailing zeros or point after the fraction, no
 * exponent, a magnitude from 1e-6 up (smaller ones print with an exponent), and with the
 * length check where it is used (16 characters) at most 15 significant digits, exact in a double.
 */
const CANONICAL_NUMBER = /^(?:-?[1-9]\d{0,14}(?:\.\d*[1-9])?|-?0\.0{0,5}[1-9](?:\d*[1-9])?|0)$/;
const BOOLEANS = new Map<string, string>([
  ['true', 'true'],
  ['false', 'false'],
  ['yes', 'true'],
  ['no', 'false'],
  ['y', 'true'],
  ['n', 'false'],
  ['t', 'true'],
  ['f', 'false'],
  ['1', 'true'],
  ['0', 'false'],
]);
const DEFAULT_DATE_FORMATS = ['YYYY-MM-DD'];

/** Why a row was rejected: a code for the summary, and a sentence for the rejects file. */
export interface Rejection {
  code: string;
  reason: string;
}

/** What happened to one row. */
export type RowOutcome =
  | { kind: 'kept'; cells: string[] }
  | { kind: 'empty' }
  | { kind: 'duplicate' }
  | { kind: 'rejected'; rejection: Rejection };

interface DateFormat {
  regex: RegExp;
  order: ('Y' | 'M' | 'D' | 'h' | 'm' | 's')[];
  hasTime: boolean;
}

function compileDateFormat(format: string): DateFormat {
  const order: DateFormat['order'] = [];
  let pattern = '';
  for (let i = 0; i < format.length; ) {
    const rest = format.slice(i);
    const token = /^(YYYY|MM|DD|HH|hh|mm|ss|M|D|H|h|m|s)/.exec(rest)?.[1];
    if (token) {
      const kind =
        token[0] === 'Y'
          ? 'Y'
          : token[0] === 'M'
            ? 'M'
            : token[0] === 'D'
              ? 'D'
              : token[0] === 'm'
                ? 'm'
                : token[0] === 's'
                  ? 's'
                  : 'h';
      order.push(kind);
      pattern += token === 'YYYY' ? '(\\d{4})' : token.length === 2 ? '(\\d{2})' : '(\\d{1,2})';
      i += token.length;
    } else {
      pattern += (format[i] ?? '').replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
      i += 1;
    }
  }
  return { regex: new RegExp(`^${pattern}$`), order, hasTime: order.some((k) => k === 'h' || k === 'm' || k === 's') };
}

const pad2 = (n: number) => (n < 10 ? `0${n}` : `${n}`);
const pad4 = (n: number) => (n >= 1000 ? `${n}` : `${n}`.padStart(4, '0'));

function daysIn(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

function parseDate(value: string, formats: DateFormat[]): string | undefined {
  for (const format of formats) {
    const match = format.regex.exec(value);
    if (!match) continue;
    let Y = 0;
    let M = 1;
    let D = 1;
    let h = 0;
    let m = 0;
    let s = 0;
    for (let index = 0; index < format.order.length; index += 1) {
      const n = Number(match[index + 1]);
      switch (format.order[index]) {
        case 'Y':
          Y = n;
          break;
        case 'M':
          M = n;
          break;
        case 'D':
          D = n;
          break;
        case 'h':
          h = n;
          break;
        case 'm':
          m = n;
          break;
        case 's':
          s = n;
          break;
        case undefined:
          break;
      }
    }
    // Reject dates that do not exist (31 April, 29 February in common years, hour 25).
    if (M < 1 || M > 12 || D < 1 || D > daysIn(Y, M) || h > 23 || m > 59 || s > 59) continue;
    const date = `${pad4(Y)}-${pad2(M)}-${pad2(D)}`;
    return format.hasTime ? `${date}T${pad2(h)}:${pad2(m)}:${pad2(s)}` : date;
  }
  return undefined;
}

function titleCase(value: string): string {
  return value
    .toLowerCase()
    .replace(/(^|[\s\-'])(\p{L})/gu, (_, sep: string, letter: string) => sep + letter.toUpperCase());
}

interface CompiledColumn {
  index: number;
  name: string;
  rule: ColumnRule;
  nulls: ReadonlySet<string>;
  dates: DateFormat[];
}

/**
 * The cleaning rules compiled against a file's header. Applied per row in this order: trim and
 * collapse whitespace, null values, drop empty rows, types (with case), required columns,
 * dedupe; the output then gets renamed and selected columns and neutralised formulas.
 */
export class Cleaner {
  readonly outputHeader: string[];
  readonly #width: number;
  readonly #trim: boolean;
  readonly #dropEmpty: boolean;
  readonly #columns: CompiledColumn[];
  readonly #required: { index: number; name: string }[];
  readonly #dedupe: { indexes: number[]; caseInsensitive: boolean } | undefined;
  readonly #seen = new Set<string>();
  readonly #output: number[];
  readonly #numericOutput: boolean[];
  readonly #neutralize: boolean;

  /** Throws `NonRetryableError` (`INVALID_HEADER`, `UNKNOWN_COLUMN`) when the rules do not fit the header. */
  constructor(header: string[], rules: CleanupRules) {
    const names = header.map((name) => name.trim());
    const empty = names.indexOf('');
    if (empty !== -1) {
      throw new NonRetryableError(`the header has an empty column name (column ${empty + 1})`, {
        code: 'INVALID_HEADER',
      });
    }
    const duplicate = names.find((name, index) => names.indexOf(name) !== index);
    if (duplicate !== undefined) {
      throw new NonRetryableError(`the header names column "${duplicate}" twice`, { code: 'INVALID_HEADER' });
    }
    const indexOf = (name: string, where: string) => {
      const index = names.indexOf(name);
      if (index === -1) {
        throw new NonRetryableError(
          `${where} names column "${name}", which the file does not have (header: ${names.join(', ')})`,
          {
            code: 'UNKNOWN_COLUMN',
          },
        );
      }
      return index;
    };
    this.#width = names.length;
    this.#trim = rules.trim ?? true;
    this.#dropEmpty = rules.dropEmptyRows ?? true;
    this.#neutralize = rules.neutralizeFormulas ?? true;
    this.#columns = Object.entries(rules.columns ?? {}).map(([name, rule]) => ({
      index: indexOf(name, 'rules.columns'),
      name,
      rule,
      nulls: new Set(rule.nullValues ?? []),
      dates: (rule.dateFormats ?? DEFAULT_DATE_FORMATS).map(compileDateFormat),
    }));
    this.#required = (rules.requiredColumns ?? []).map((name) => ({
      index: indexOf(name, 'rules.requiredColumns'),
      name,
    }));
    this.#dedupe = rules.dedupe
      ? {
          indexes: rules.dedupe.keys.map((name) => indexOf(name, 'rules.dedupe.keys')),
          caseInsensitive: rules.dedupe.caseInsensitive ?? false,
        }
      : undefined;
    // A Map: column names are any text, and `constructor` or `__proto__` must not find Object's own.
    const rename = new Map(Object.entries(rules.rename ?? {}));
    for (const old of rename.keys()) indexOf(old, 'rules.rename');
    const renamed = names.map((name) => rename.get(name) ?? name);
    const clash = renamed.find((name, index) => renamed.indexOf(name) !== index);
    if (clash !== undefined) {
      throw new NonRetryableError(`rules.rename gives two columns the name "${clash}"`, { code: 'UNKNOWN_COLUMN' });
    }
    this.#output = rules.select
      ? rules.select.map((name) => {
          const index = renamed.indexOf(name);
          if (index === -1) {
            throw new NonRetryableError(
              `rules.select names column "${name}", which does not exist after renaming (${renamed.join(', ')})`,
              {
                code: 'UNKNOWN_COLUMN',
              },
            );
          }
          return index;
        })
      : renamed.map((_, index) => index);
    this.outputHeader = this.#output.map((index) => renamed[index] as string);
    const numeric = new Set(
      this.#columns.filter((c) => c.rule.type === 'integer' || c.rule.type === 'number').map((c) => c.index),
    );
    this.#numericOutput = this.#output.map((index) => numeric.has(index));
  }

  /** Cleans one parsed record (its cells, as csv-parse split them). */
  clean(record: string[]): RowOutcome {
    if (record.length !== this.#width && !(record.length === 1 && record[0] === '')) {
      return {
        kind: 'rejected',
        rejection: { code: 'COLUMN_COUNT', reason: `expected ${this.#width} columns, found ${record.length}` },
      };
    }
    // The record is this row's own array (csv-parse makes one per record): cleaned in place.
    const cells = record.length === this.#width ? record : new Array<string>(this.#width).fill('');
    if (this.#trim) {
      for (let i = 0; i < cells.length; i += 1) {
        const cell = cells[i] as string;
        if (cell !== '' && needsWhitespaceCleanup(cell)) {
          // Most such cells only have whitespace at their ends: trimming is all they need.
          const trimmed = cell.trim();
          cells[i] = hasWhitespaceToCollapse(trimmed) ? trimmed.replace(/\s+/g, ' ') : trimmed;
        }
      }
    }
    for (const column of this.#columns) {
      if (column.nulls.size > 0 && column.nulls.has(cells[column.index] as string)) cells[column.index] = '';
    }
    if (this.#dropEmpty && isEmpty(cells)) return EMPTY;

    for (const column of this.#columns) {
      const value = cells[column.index] as string;
      if (value === '') continue;
      const converted = this.#convert(value, column);
      if (typeof converted === 'object') return { kind: 'rejected', rejection: converted };
      cells[column.index] = converted;
    }
    for (const { index, name } of this.#required) {
      if (cells[index] === '') {
        return {
          kind: 'rejected',
          rejection: { code: `REQUIRED:${name}`, reason: `column "${name}" is required but empty` },
        };
      }
    }
    if (this.#dedupe) {
      let key = this.#dedupe.indexes.map((index) => cells[index]).join('\u0000');
      if (this.#dedupe.caseInsensitive) key = key.toLowerCase();
      // A 96-bit digest per distinct key: memory grows with distinct keys, not with their length.
      const digest = createHash('sha1').update(key).digest('base64').slice(0, 16);
      if (this.#seen.has(digest)) return DUPLICATE;
      this.#seen.add(digest);
    }
    const output = new Array<string>(this.#output.length);
    for (let position = 0; position < output.length; position += 1) {
      const cell = cells[this.#output[position] as number] as string;
      output[position] = this.#neutralize && !this.#numericOutput[position] ? neutralizeFormula(cell) : cell;
    }
    return { kind: 'kept', cells: output };
  }

  #convert(value: string, column: CompiledColumn): string | Rejection {
    switch (column.rule.type ?? 'string') {
      case 'string':
        return applyCase(value, column.rule.case);
      case 'integer':
        return INTEGER.test(value) ? BigInt(value).toString() : invalid(value, column, 'an integer');
      case 'number':
        if (value.length <= 16 && CANONICAL_NUMBER.test(value)) return value;
        return NUMBER.test(value) ? String(Number(value)) : invalid(value, column, 'a number');
      case 'boolean':
        return BOOLEANS.get(value.toLowerCase()) ?? invalid(value, column, 'a boolean (true/false, yes/no, 1/0)');
      case 'email': {
        const email = value.toLowerCase();
        return EMAIL.test(email) ? email : invalid(value, column, 'an email address');
      }
      case 'date':
        return (
          parseDate(value, column.dates) ??
          invalid(value, column, `a date in ${(column.rule.dateFormats ?? DEFAULT_DATE_FORMATS).join(' or ')}`)
        );
      default:
        return value;
    }
  }
}

function invalid(value: string, column: CompiledColumn, what: string): Rejection {
  return {
    code: `INVALID_${(column.rule.type ?? 'string').toUpperCase()}:${column.name}`,
    reason: `column "${column.name}": ${JSON.stringify(value)} is not ${what}`,
  };
}

function applyCase(text: string, rule: ColumnRule['case']): string {
  return rule === 'lower'
    ? text.toLowerCase()
    : rule === 'upper'
      ? text.toUpperCase()
      : rule === 'title'
        ? titleCase(text)
        : text;
}

/** Prefixes a cell that a spreadsheet would run as a formula with `'`, which makes it text. */
export function neutralizeFormula(cell: string): string {
  const first = cell.charCodeAt(0);
  // = + - @ tab CR (OWASP CSV injection): one character code compared, no regex per cell.
  return first === 0x3d || first === 0x2b || first === 0x2d || first === 0x40 || first === 0x09 || first === 0x0d
    ? `'${cell}`
    : cell;
}

const EMPTY: RowOutcome = Object.freeze({ kind: 'empty' });
const DUPLICATE: RowOutcome = Object.freeze({ kind: 'duplicate' });
const SPACE = /\s/;

/** What a character is to the whitespace rule. */
const NOT_SPACE = 0;
/** U+0020, the one space a collapsed run becomes. */
const PLAIN_SPACE = 1;
/** Any other `\s` (vertical tab, form feed, no-break and other Unicode spaces). */
const OTHER_SPACE = 2;
/** Tab, line feed, carriage return: their presence alone calls for a cleanup. */
const BREAK = 3;

/** Classifies one UTF-16 code unit; only code units outside ASCII ask the regex. */
function whitespaceKind(cell: string, i: number): number {
  const code = cell.charCodeAt(i);
  if (code > 0x20 && code < 0x7f) return NOT_SPACE;
  if (code === 0x20) return PLAIN_SPACE;
  if (code === 0x09 || code === 0x0a || code === 0x0d) return BREAK;
  if (code === 0x0b || code === 0x0c) return OTHER_SPACE;
  return code >= 0x7f && SPACE.test(cell[i] as string) ? OTHER_SPACE : NOT_SPACE;
}

/**
 * Whether trimming and collapsing would change a cell (the same test as
 * `/\s\s|[\t\n\r]|^\s|\s$/`): whitespace at either end, two in a row, or a tab or line
 * break anywhere. One pass over the character codes.
 */
function needsWhitespaceCleanup(cell: string): boolean {
  let previousSpace = true; // whitespace at the start counts as "after whitespace"
  for (let i = 0; i < cell.length; i += 1) {
    const kind = whitespaceKind(cell, i);
    if (kind === BREAK || (kind !== NOT_SPACE && previousSpace)) return true;
    previousSpace = kind !== NOT_SPACE;
  }
  return previousSpace && cell.length > 0;
}

/** Whether collapsing whitespace would change an already trimmed cell: any whitespace but a lone space. */
function hasWhitespaceToCollapse(trimmed: string): boolean {
  let previousSpace = false;
  for (let i = 0; i < trimmed.length; i += 1) {
    const kind = whitespaceKind(trimmed, i);
    if (kind === OTHER_SPACE || kind === BREAK || (kind === PLAIN_SPACE && previousSpace)) return true;
    previousSpace = kind === PLAIN_SPACE;
  }
  return false;
}

function isEmpty(cells: string[]): boolean {
  for (const cell of cells) if (cell !== '') return false;
  return true;
}
