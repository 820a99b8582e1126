import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { type MalformedRecord, type RecordRun, RecordSplitter, recordText } from './records.js';

/** Splits `input` fed in byte chunks of `chunkSize`; returns each record's line and text, and the rejects. */
function split(
  input: string | Buffer,
  chunkSize?: number,
  options: { maxRecordLines?: number; maxRecordBytes?: number } = {},
) {
  const data = typeof input === 'string' ? Buffer.from(input) : input;
  const runs: RecordRun[] = [];
  const malformed: MalformedRecord[] = [];
  const splitter = new RecordSplitter({
    delimiter: ',',
    ...options,
    onRun: (run) => runs.push(run),
    onMalformed: (record) => malformed.push(record),
  });
  const size = chunkSize ?? data.length;
  for (let i = 0; i < data.length; i += size) splitter.push(data.subarray(i, i + size));
  splitter.end();
  const records = runs.flatMap((run) => run.starts.map((_, i) => ({ line: run.lines[i], text: recordText(run, i) })));
  return { runs, records, malformed };
}

describe('RecordSplitter', () => {
  const text = '\uFEFFa,b\r\n1,"x\ny"\n2,"he said ""hi"""\n3,"bad"x\n4,5\n\n6,7';
  it.each([1, 2, 3, 1000])('keeps multi-line fields whole and isolates broken quotes (chunks of %i bytes)', (size) => {
    const { records, malformed } = split(text, size);
    expect(records).toEqual([
      { line: 1, text: 'a,b' },
      { line: 2, text: '1,"x\ny"' },
      { line: 4, text: '2,"he said ""hi"""' },
      { line: 6, text: '4,5' },
      { line: 7, text: '' },
      { line: 8, text: '6,7' },
    ]);
    expect(malformed).toEqual([
      { line: 5, text: '3,"bad"x', reason: expect.stringContaining('invalid quote at column 8') },
    ]);
  });

  it('hands csv-parse runs it splits into exactly one row per record, whatever the chunking', () => {
    const input = 'a,b\r\n"é, ü",2\n\n"multi\r\nline",4\n5,"x"\n';
    for (const size of [1, 4, 7, input.length]) {
      const { runs } = split(input, size);
      const rows = runs.flatMap((run) => {
        const parsed = parse(run.data, {
          relax_quotes: true,
          relax_column_count: true,
          skip_empty_lines: false,
          record_delimiter: ['\r\n', '\n'],
        }) as string[][];
        expect(parsed).toHaveLength(run.starts.length);
        return parsed;
      });
      expect(rows).toEqual([['a', 'b'], ['é, ü', '2'], [''], ['multi\r\nline', '4'], ['5', 'x']]);
    }
  });

  it('counts columns in characters, not bytes', () => {
    const { malformed } = split('a,b\n"ééé"x,1\n');
    expect(malformed[0]).toMatchObject({ line: 2, reason: expect.stringContaining('column 6') });
  });

  it('rejects an opening quote that never closes and reads the lines after it afresh', () => {
    const { records, malformed } = split('a,b\n1,"open\n2,3\n4,5\n');
    expect(malformed).toEqual([{ line: 2, text: '1,"open', reason: expect.stringContaining('unclosed quote') }]);
    expect(records.map((r) => r.line)).toEqual([1, 3, 4]);
  });

  it('gives up on a quoted field after maxRecordLines lines', () => {
    const lines = Array.from({ length: 20 }, (_, i) => `${i},x`);
    const { records, malformed } = split(`a,b\n9,"runaway\n${lines.join('\n')}\n"closing,late\n`, 7, {
      maxRecordLines: 5,
    });
    expect(malformed[0]).toMatchObject({ line: 2, reason: expect.stringContaining('unclosed quote') });
    expect(records.some((r) => r.line === 3 && r.text === '0,x')).toBe(true);
  });

  it('rejects a record longer than maxRecordBytes and goes on at the next line', () => {
    const { records, malformed } = split(`a,b\n1,${'x'.repeat(5000)}\n2,y\n`, 64, { maxRecordBytes: 1000 });
    expect(malformed).toEqual([
      { line: 2, text: expect.stringMatching(/^1,x+…$/), reason: 'record longer than 1000 bytes' },
    ]);
    expect(records).toEqual([
      { line: 1, text: 'a,b' },
      { line: 3, text: '2,y' },
    ]);
  });
});
