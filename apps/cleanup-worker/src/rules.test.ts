import { describe, expect, it } from 'vitest';
import { Cleaner, neutralizeFormula } from './rules.js';

/** The rule as documented: cells with stray whitespace are trimmed and runs collapse to one space. */
const reference = (cell: string) => (/\s\s|[\t\n\r]|^\s|\s$/.test(cell) ? cell.trim().replace(/\s+/g, ' ') : cell);

describe('Cleaner whitespace', () => {
  it('trims and collapses exactly as the regular-expression rule does, for any mix of whitespace', () => {
    const alphabet = [' ', ' ', '\t', '\n', '\r', '\v', '\f', '\u00a0', '\u2003', '\u3000', 'a', 'b', 'é', '😀', '-'];
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const cleaner = new Cleaner(['text'], { neutralizeFormulas: false, dropEmptyRows: false });
    for (let n = 0; n < 5000; n += 1) {
      const length = Math.floor(random() * 8);
      const cell = Array.from({ length }, () => alphabet[Math.floor(random() * alphabet.length)]).join('');
      const outcome = cleaner.clean([cell]);
      expect(outcome, JSON.stringify(cell)).toEqual({ kind: 'kept', cells: [reference(cell)] });
    }
  });
});

describe('neutralizeFormula', () => {
  it.each(['=1+1', '+1', '-1', '@SUM(A1)', '\tx', '\rx'])('prefixes %j with a quote', (cell) => {
    expect(neutralizeFormula(cell)).toBe(`'${cell}`);
  });
  it.each(['', 'a=1', '1', ' =1', 'é'])('leaves %j alone', (cell) => {
    expect(neutralizeFormula(cell)).toBe(cell);
  });
});

describe('Cleaner numbers', () => {
  it('normalises every number exactly as String(Number(value)), with or without the fast path', () => {
    let seed = 11;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    const digits = (max: number) =>
      Array.from({ length: Math.floor(random() * (max + 1)) }, () => pick(['0', '0', '1', '5', '9'])).join('');
    const cleaner = new Cleaner(['n'], { neutralizeFormulas: false, columns: { n: { type: 'number' } } });
    let checked = 0;
    for (let n = 0; n < 20_000; n += 1) {
      const value =
        pick(['', '', '-', '+']) +
        digits(17) +
        pick(['', '.', '.', '.']) +
        digits(17) +
        (random() < 0.1 ? `${pick(['e', 'E'])}${pick(['', '-', '+'])}${digits(2) || '0'}` : '');
      if (!/^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(value)) continue;
      checked += 1;
      expect(cleaner.clean([value]), value).toEqual({ kind: 'kept', cells: [String(Number(value))] });
    }
    expect(checked).toBeGreaterThan(10_000);
    for (const value of ['0', '-0', '0.5', '-0.000001', '0.0000001', '123456789012345', '1234567890123456', '1.50']) {
      expect(cleaner.clean([value]), value).toEqual({ kind: 'kept', cells: [String(Number(value))] });
    }
  });
});
