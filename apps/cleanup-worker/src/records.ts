/**
 * Splits CSV bytes into records before csv-parse sees them, so one malformed record can never
 * swallow the rest of the file. A record is one line, or several when a quoted field holds line
 * breaks. A record whose quotes are broken (`"a"b`, or a quote that never closes within
 * `maxRecordLines` lines) is reported as malformed with its line number, and splitting resumes on
 * the next line. Well-formed records are handed on in runs: the bytes of consecutive records
 * exactly as they are in the file, which csv-parse then splits into fields in one call, with no
 * copy and no decoding of the text in between.
 */

/** Consecutive well-formed records, as they are in the file. */
export interface RecordRun {
  /** The records' bytes; each record ends with its line break (the file's last may have none). */
  data: Buffer;
  /** Where each record starts in `data`. */
  starts: number[];
  /** The file line each record starts on (1-based). */
  lines: number[];
}

/** A record that could not be read, with why. */
export interface MalformedRecord {
  line: number;
  text: string;
  reason: string;
}

const FIELD_START = 0;
const UNQUOTED = 1;
const QUOTED = 2;
const QUOTE_IN_QUOTED = 3;
type ScanState = typeof FIELD_START | typeof UNQUOTED | typeof QUOTED | typeof QUOTE_IN_QUOTED;

const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** The text of record `index` of a run, without its line break. */
export function recordText(run: RecordRun, index: number): string {
  const start = run.starts[index] as number;
  let end = index + 1 < run.starts.length ? (run.starts[index + 1] as number) : run.data.length;
  if (end > start && run.data[end - 1] === LF) end -= 1;
  if (end > start && run.data[end - 1] === CR) end -= 1;
  return run.data.toString('utf8', start, end);
}

export interface RecordSplitterOptions {
  /** One character. */
  delimiter: string;
  /** Most lines one quoted field may span before its opening quote is judged unclosed. */
  maxRecordLines?: number;
  /** Longest record in bytes; a longer one is rejected and skipped to the next line. Default 16 MiB. */
  maxRecordBytes?: number;
  onRun(run: RecordRun): void;
  onMalformed(record: MalformedRecord): void;
}

/** Feeds bytes in chunks of any size; calls back with every record in order. */
export class RecordSplitter {
  readonly #delimiter: Buffer;
  readonly #delimiterByte: number;
  readonly #maxLines: number;
  readonly #maxBytes: number;
  readonly #onRun: (run: RecordRun) => void;
  readonly #onMalformed: (record: MalformedRecord) => void;
  /** Bytes of a record not complete yet, carried to the next chunk. */
  #carry: Buffer | undefined;
  /** The line the carried bytes (or the next chunk) start on. */
  #line = 1;
  #first = true;
  /** Skipping the rest of an over-long record up to its next line break. */
  #skipping = false;

  constructor(options: RecordSplitterOptions) {
    this.#delimiter = Buffer.from(options.delimiter);
    this.#delimiterByte = this.#delimiter.length === 1 ? (this.#delimiter[0] as number) : -1;
    this.#maxLines = options.maxRecordLines ?? 1000;
    this.#maxBytes = options.maxRecordBytes ?? 16 * 1024 * 1024;
    this.#onRun = options.onRun;
    this.#onMalformed = options.onMalformed;
  }

  push(chunk: Buffer | string): void {
    let data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (this.#carry) data = Buffer.concat([this.#carry, data]);
    this.#carry = undefined;
    if (this.#first) {
      // A UTF-8 byte order mark is dropped, even when it comes in pieces.
      if (data.length < BOM.length && BOM.subarray(0, data.length).equals(data)) {
        this.#carry = data;
        return;
      }
      if (data.subarray(0, BOM.length).equals(BOM)) data = data.subarray(BOM.length);
      this.#first = false;
    }
    this.#split(data, false);
  }

  end(): void {
    const rest = this.#carry;
    this.#carry = undefined;
    if (rest && rest.length > 0 && !this.#first) this.#split(rest, true);
  }

  #split(data: Buffer, final: boolean): void {
    let pos = 0;
    let line = this.#line;
    if (this.#skipping) {
      const newline = data.indexOf(LF);
      if (newline === -1) {
        this.#line = line;
        return;
      }
      this.#skipping = false;
      pos = newline + 1;
      line += 1;
    }
    let runStart = pos;
    let starts: number[] = [];
    let lines: number[] = [];
    const emitRun = (end: number) => {
      if (starts.length > 0) this.#onRun({ data: data.subarray(runStart, end), starts, lines });
      starts = [];
      lines = [];
    };
    // Where the next quote is, found once and reused by every line before it.
    let nextQuote = data.indexOf(QUOTE, pos);

    records: while (pos < data.length) {
      const recordStart = pos;
      const recordLine = line;
      let state: ScanState = FIELD_START;
      let lineStart = pos;
      let lineCount = 0;
      for (;;) {
        const newline = data.indexOf(LF, lineStart);
        if (newline === -1 && !final) {
          // The record goes on in the next chunk.
          emitRun(recordStart);
          if (data.length - recordStart > this.#maxBytes) {
            this.#tooLong(data, recordStart, recordLine);
            this.#line = recordLine + lineCount;
            return;
          }
          this.#carry = data.subarray(recordStart);
          this.#line = recordLine;
          return;
        }
        const next = newline === -1 ? data.length : newline + 1;
        let lineEnd = newline === -1 ? data.length : newline;
        if (lineEnd > lineStart && data[lineEnd - 1] === CR) lineEnd -= 1;
        lineCount += 1;
        if (nextQuote !== -1 && nextQuote < lineStart) nextQuote = data.indexOf(QUOTE, lineStart);
        // A line without quotes leaves a quoted field open and ends any other record.
        const scanned: ScanState | { invalidAt: number } =
          nextQuote === -1 || nextQuote >= lineEnd
            ? state === QUOTED
              ? QUOTED
              : FIELD_START
            : this.#scan(data, lineStart, lineEnd, state);
        if (typeof scanned === 'object') {
          emitRun(recordStart);
          this.#onMalformed({
            line: recordLine,
            text: data.toString('utf8', recordStart, lineEnd),
            reason:
              lineCount > 1
                ? `invalid quote on line ${recordLine + lineCount - 1}, column ${this.#column(data, lineStart, scanned.invalidAt)}: a closing quote must be followed by "${this.#delimiter}" or the end of the line`
                : `invalid quote at column ${this.#column(data, lineStart, scanned.invalidAt)}: a closing quote must be followed by "${this.#delimiter}" or the end of the line`,
          });
          pos = next;
          line = recordLine + lineCount;
          runStart = pos;
          continue records;
        }
        if (scanned !== QUOTED) {
          starts.push(recordStart - runStart);
          lines.push(recordLine);
          pos = next;
          line = recordLine + lineCount;
          continue records;
        }
        if (newline === -1 || lineCount >= this.#maxLines) {
          // The opening quote never closed: reject its first line and read the lines after it afresh.
          emitRun(recordStart);
          const firstEnd = data.indexOf(LF, recordStart);
          const end = firstEnd === -1 ? data.length : firstEnd;
          this.#onMalformed({
            line: recordLine,
            text: data.toString('utf8', recordStart, end > recordStart && data[end - 1] === CR ? end - 1 : end),
            reason: 'unclosed quote: a quoted field is never closed',
          });
          pos = firstEnd === -1 ? data.length : firstEnd + 1;
          line = recordLine + 1;
          runStart = pos;
          nextQuote = data.indexOf(QUOTE, pos);
          continue records;
        }
        state = QUOTED;
        lineStart = next;
      }
    }
    emitRun(data.length);
    this.#line = line;
  }

  /** Rejects a record longer than `maxRecordBytes` and skips to the end of its line. */
  #tooLong(data: Buffer, start: number, line: number): void {
    this.#onMalformed({
      line,
      text: `${data.toString('utf8', start, start + 200)}…`,
      reason: `record longer than ${this.#maxBytes} bytes`,
    });
    this.#skipping = true;
  }

  /** The 1-based character column of byte `offset` of a line starting at `lineStart`. */
  #column(data: Buffer, lineStart: number, offset: number): number {
    return data.toString('utf8', lineStart, lineStart + offset).length + 1;
  }

  /**
   * Scans one line from `state`; returns the state at its end, or the byte offset in the line
   * of the character after a closing quote that should not be there. Jumps with `indexOf` between the only bytes that matter
   * (delimiters, and quotes inside quoted fields).
   */
  #scan(data: Buffer, start: number, end: number, state: ScanState): ScanState | { invalidAt: number } {
    let current = state;
    let i = start;
    for (;;) {
      switch (current) {
        case FIELD_START:
          if (i >= end) return FIELD_START;
          if (data[i] === QUOTE) {
            current = QUOTED;
            i += 1;
          } else {
            current = UNQUOTED;
          }
          break;
        case UNQUOTED: {
          // A quote inside an unquoted field is kept as a character (csv-parse's relax_quotes).
          const next = data.indexOf(this.#delimiter, i);
          if (next === -1 || next >= end) return UNQUOTED;
          i = next + this.#delimiter.length;
          current = FIELD_START;
          break;
        }
        case QUOTED: {
          const quote = data.indexOf(QUOTE, i);
          if (quote === -1 || quote >= end) return QUOTED;
          i = quote + 1;
          current = QUOTE_IN_QUOTED;
          break;
        }
        case QUOTE_IN_QUOTED:
          if (i >= end) return QUOTE_IN_QUOTED;
          if (data[i] === QUOTE) {
            current = QUOTED;
            i += 1;
          } else if (this.#isDelimiter(data, i)) {
            current = FIELD_START;
            i += this.#delimiter.length;
          } else {
            return { invalidAt: i - start };
          }
          break;
      }
    }
  }

  #isDelimiter(data: Buffer, i: number): boolean {
    if (this.#delimiterByte !== -1) return data[i] === this.#delimiterByte;
    return data.compare(this.#delimiter, 0, this.#delimiter.length, i, i + this.#delimiter.length) === 0;
  }
}
