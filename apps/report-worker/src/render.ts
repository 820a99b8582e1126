import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { GenerateReportV1, ReportColumn } from '@tq/contracts';
import PDFDocument from 'pdfkit';
import { Aggregator, aggregateLabel, type Cell, cellOf, toNumber } from './aggregate.js';
import type { DataRow } from './data.js';

const require = createRequire(import.meta.url);
const fontDir = join(dirname(require.resolve('@embedpdf/fonts-sc')), '..', 'fonts');
/** Noto Sans (Simplified Chinese set: Latin, Greek, Cyrillic, CJK and kana), embedded as subsets. */
export const FONTS = {
  regular: join(fontDir, 'NotoSansHans-Regular.otf'),
  bold: join(fontDir, 'NotoSansHans-Bold.otf'),
};

const PAGE = { size: 'A4' as const, margin: 40 };
const ROW_HEIGHT = 16;
const TABLE_FONT_SIZE = 8.5;
const FOOTER_HEIGHT = 24;
const COLORS = {
  text: '#1f2937',
  muted: '#6b7280',
  header: '#e5e7eb',
  zebra: '#f9fafb',
  bar: '#2563eb',
  grid: '#d1d5db',
};
const MAX_CHART_BARS = 25;

/** Options that are the deployment's, not the task's. */
export interface RenderOptions {
  /** BCP 47 locale for numbers and dates. Default `en-US`. */
  locale?: string;
  /** ISO 4217 currency for `currency` columns. Default `USD`. */
  currency?: string;
  /** The generation time printed in the report. Default now. */
  now?: Date;
}

/** A rendered report. */
export interface RenderedReport {
  pdf: Buffer;
  pages: number;
  rows: number;
  groups: number;
}

type Align = 'left' | 'right' | 'center';

function numeric(format: ReportColumn['format']): boolean {
  return format === 'number' || format === 'currency' || format === 'percent';
}

function formatters(options: RenderOptions) {
  const locale = options.locale ?? 'en-US';
  const number = new Intl.NumberFormat(locale, { maximumFractionDigits: 2 });
  const currency = new Intl.NumberFormat(locale, { style: 'currency', currency: options.currency ?? 'USD' });
  const percent = new Intl.NumberFormat(locale, { style: 'percent', maximumFractionDigits: 1 });
  return (value: Cell | null, format: ReportColumn['format']): string => {
    if (value === null || value === undefined) return '';
    if (numeric(format)) {
      const n = toNumber(value);
      if (n !== undefined && !Number.isNaN(n)) {
        return format === 'currency' ? currency.format(n) : format === 'percent' ? percent.format(n) : number.format(n);
      }
    }
    if (typeof value === 'number') return number.format(value);
    return String(value);
  };
}

/** Cuts text to `width` points, ending with an ellipsis when it had to cut. */
function fit(doc: PDFKit.PDFDocument, text: string, width: number): string {
  const oneLine = text.replace(/[\r\n\t]+/g, ' ');
  if (doc.widthOfString(oneLine) <= width) return oneLine;
  let low = 0;
  let high = oneLine.length;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (doc.widthOfString(`${oneLine.slice(0, mid)}…`) <= width) low = mid;
    else high = mid - 1;
  }
  return `${oneLine.slice(0, low)}…`;
}

interface TableColumn {
  label: string;
  width: number;
  align: Align;
}

/** Draws rows of cells as a table that continues on new pages with its header repeated. */
class TableWriter {
  readonly #doc: PDFKit.PDFDocument;
  readonly #columns: TableColumn[];
  readonly #x: number;
  #row = 0;

  constructor(doc: PDFKit.PDFDocument, columns: TableColumn[]) {
    this.#doc = doc;
    this.#columns = columns;
    this.#x = doc.page.margins.left;
  }

  get #bottom(): number {
    return this.#doc.page.height - this.#doc.page.margins.bottom - FOOTER_HEIGHT;
  }

  header(): void {
    const doc = this.#doc;
    if (doc.y + ROW_HEIGHT * 2 > this.#bottom) doc.addPage();
    const y = doc.y;
    const width = this.#columns.reduce((sum, column) => sum + column.width, 0);
    doc.rect(this.#x, y, width, ROW_HEIGHT).fill(COLORS.header);
    this.#cells(
      this.#columns.map((column) => column.label),
      y,
      'bold',
    );
    doc.y = y + ROW_HEIGHT;
    this.#row = 0;
  }

  row(cells: string[], font: 'regular' | 'bold' = 'regular'): void {
    const doc = this.#doc;
    if (doc.y + ROW_HEIGHT > this.#bottom) {
      doc.addPage();
      this.header();
    }
    const y = doc.y;
    if (this.#row % 2 === 1) {
      const width = this.#columns.reduce((sum, column) => sum + column.width, 0);
      doc.rect(this.#x, y, width, ROW_HEIGHT).fill(COLORS.zebra);
    }
    this.#cells(cells, y, font);
    doc.y = y + ROW_HEIGHT;
    this.#row += 1;
  }

  #cells(cells: string[], y: number, font: 'regular' | 'bold'): void {
    const doc = this.#doc;
    doc.font(font).fontSize(TABLE_FONT_SIZE).fillColor(COLORS.text);
    let x = this.#x;
    this.#columns.forEach((column, index) => {
      const padding = 4;
      const text = fit(doc, cells[index] ?? '', column.width - padding * 2);
      doc.text(text, x + padding, y + 4, { width: column.width - padding * 2, align: column.align, lineBreak: false });
      x += column.width;
    });
  }
}

function niceStep(raw: number): number {
  const power = 10 ** Math.floor(Math.log10(raw));
  const fraction = raw / power;
  const nice = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 2.5 ? 2.5 : fraction <= 5 ? 5 : 10;
  return nice * power;
}

function drawChart(
  doc: PDFKit.PDFDocument,
  title: string,
  bars: { label: string; value: number }[],
  format: (value: number) => string,
): void {
  const height = 240;
  if (doc.y + height + 40 > doc.page.height - doc.page.margins.bottom - FOOTER_HEIGHT) doc.addPage();
  const left = doc.page.margins.left + 50;
  const right = doc.page.width - doc.page.margins.right;
  const top = doc.y + 24;
  const bottom = top + height - 50;
  doc.font('bold').fontSize(11).fillColor(COLORS.text).text(title, doc.page.margins.left, doc.y);

  // A value axis on round numbers: 0 included, about four steps of 1, 2, 2.5 or 5 times a power of ten.
  const high = Math.max(0, ...bars.map((bar) => bar.value));
  const low = Math.min(0, ...bars.map((bar) => bar.value));
  const step = niceStep((high - low) / 4 || 1);
  const max = Math.ceil(high / step) * step;
  const min = Math.floor(low / step) * step;
  const span = max - min || step;
  const yOf = (value: number) => bottom - ((value - min) / span) * (bottom - top);

  doc.font('regular').fontSize(7).lineWidth(0.5);
  for (let value = min; value <= max + step / 2; value += step) {
    const y = yOf(value);
    doc.moveTo(left, y).lineTo(right, y).strokeColor(COLORS.grid).stroke();
    doc
      .fillColor(COLORS.muted)
      .text(format(value), doc.page.margins.left, y - 4, { width: 46, align: 'right', lineBreak: false });
  }
  const slot = (right - left) / Math.max(1, bars.length);
  const barWidth = Math.max(2, slot * 0.7);
  bars.forEach((bar, index) => {
    const x = left + index * slot + (slot - barWidth) / 2;
    const y0 = yOf(0);
    const y1 = yOf(bar.value);
    doc.rect(x, Math.min(y0, y1), barWidth, Math.max(0.5, Math.abs(y1 - y0))).fill(COLORS.bar);
    doc.fillColor(COLORS.text).fontSize(6.5);
    doc.text(fit(doc, format(bar.value), slot), left + index * slot, Math.min(y0, y1) - 9, {
      width: slot,
      align: 'center',
      lineBreak: false,
    });
    doc.text(fit(doc, bar.label, slot - 2), left + index * slot, bottom + 4, {
      width: slot,
      align: 'center',
      lineBreak: false,
    });
  });
  doc.moveTo(left, yOf(0)).lineTo(right, yOf(0)).strokeColor(COLORS.text).lineWidth(0.8).stroke();
  doc.y = bottom + 24;
  doc.x = doc.page.margins.left;
}

/**
 * The summary page: the group-by aggregates with a total row, and a bar chart of one aggregate
 * per group (the largest `MAX_CHART_BARS` when there are more).
 */
function drawSummary(
  doc: PDFKit.PDFDocument,
  report: GenerateReportV1,
  aggregator: Aggregator,
  format: ReturnType<typeof formatters>,
  usable: number,
): void {
  const aggregates = report.aggregates ?? [];
  const groups = aggregator.groups();
  const formatOf = (index: number) => {
    const aggregate = aggregates[index];
    const column = report.columns.find((c) => c.key === aggregate?.column);
    return aggregate?.fn === 'count' ? 'number' : (column?.format ?? 'number');
  };
  doc.addPage();
  const heading = report.groupBy
    ? `Summary by ${report.columns.find((c) => c.key === report.groupBy)?.label ?? report.groupBy}`
    : 'Summary';
  doc.font('bold').fontSize(14).fillColor(COLORS.text).text(heading);
  doc.moveDown(0.5);
  const summaryWidth = usable / (aggregates.length + 1);
  const summary = new TableWriter(doc, [
    {
      label: report.columns.find((c) => c.key === report.groupBy)?.label ?? report.groupBy ?? '',
      width: summaryWidth,
      align: 'left',
    },
    ...aggregates.map((aggregate) => ({
      label: aggregateLabel(aggregate),
      width: summaryWidth,
      align: 'right' as const,
    })),
  ]);
  summary.header();
  if (report.groupBy) {
    for (const group of groups) {
      summary.row([group.key || '(empty)', ...group.values.map((value, index) => format(value, formatOf(index)))]);
    }
  }
  summary.row(['Total', ...aggregator.totals().map((value, index) => format(value, formatOf(index)))], 'bold');

  if (report.chart && report.groupBy) {
    const index = report.chart.aggregate;
    const aggregate = aggregates[index];
    if (aggregate) {
      let bars = groups.map((group) => ({ label: group.key || '(empty)', value: group.values[index] ?? 0 }));
      let title = report.chart.title ?? `${aggregateLabel(aggregate)} by ${report.groupBy}`;
      if (bars.length > MAX_CHART_BARS) {
        bars = [...bars].sort((a, b) => b.value - a.value).slice(0, MAX_CHART_BARS);
        title += ` (top ${MAX_CHART_BARS} of ${groups.length})`;
      }
      doc.moveDown(1.5);
      drawChart(doc, title, bars, (value) => format(value, formatOf(index)));
    }
  }
}

/**
 * Renders a report: title, subtitle and generation time; the rows as a table that paginates
 * with its header repeated; then the group-by aggregates with a total row, and a bar chart of
 * one aggregate per group drawn as vector graphics; "Page n of m" on every page. Rows are
 * consumed as they arrive (aggregates are kept per group, not per row).
 */
export async function renderReport(
  report: GenerateReportV1,
  rows: AsyncIterable<DataRow>,
  options: RenderOptions = {},
): Promise<RenderedReport> {
  const now = options.now ?? new Date();
  const format = formatters(options);
  const doc = new PDFDocument({
    size: PAGE.size,
    margin: PAGE.margin,
    bufferPages: true,
    info: { Title: report.title, Creator: 'tq report-worker', Producer: 'pdfkit', CreationDate: now },
  });
  const chunks: Buffer[] = [];
  doc.on('data', (chunk: Buffer) => chunks.push(chunk));
  const ended = new Promise<void>((resolve, reject) => {
    doc.on('end', resolve);
    doc.on('error', reject);
  });
  doc.registerFont('regular', FONTS.regular);
  doc.registerFont('bold', FONTS.bold);

  doc.font('bold').fontSize(20).fillColor(COLORS.text).text(report.title);
  if (report.subtitle) doc.font('regular').fontSize(12).fillColor(COLORS.muted).text(report.subtitle);
  const generated = new Intl.DateTimeFormat(options.locale ?? 'en-US', {
    dateStyle: 'long',
    timeStyle: 'long',
    timeZone: 'UTC',
  }).format(now);
  doc.moveDown(0.3).font('regular').fontSize(9).fillColor(COLORS.muted).text(`Generated ${generated}`);
  doc.moveDown(1);

  const usable = doc.page.width - doc.page.margins.left - doc.page.margins.right;
  const columnWidth = usable / report.columns.length;
  const table = new TableWriter(
    doc,
    report.columns.map((column) => ({
      label: column.label ?? column.key,
      width: columnWidth,
      align: column.align ?? (numeric(column.format) ? 'right' : 'left'),
    })),
  );
  const aggregates = report.aggregates ?? [];
  const aggregator = new Aggregator(aggregates, report.groupBy);
  table.header();
  let count = 0;
  for await (const row of rows) {
    aggregator.add(row.values, row.number);
    table.row(report.columns.map((column) => format(cellOf(row.values, column.key), column.format)));
    count += 1;
  }
  if (count === 0) {
    doc
      .font('regular')
      .fontSize(9)
      .fillColor(COLORS.muted)
      .text('No rows.', doc.page.margins.left, doc.y + 4);
  }

  const groups = aggregator.groups();
  if (aggregates.length > 0) drawSummary(doc, report, aggregator, format, usable);

  const range = doc.bufferedPageRange();
  for (let page = range.start; page < range.start + range.count; page += 1) {
    doc.switchToPage(page);
    const bottom = doc.page.margins.bottom;
    doc.page.margins.bottom = 0;
    doc
      .font('regular')
      .fontSize(8)
      .fillColor(COLORS.muted)
      .text(`Page ${page + 1} of ${range.count}`, doc.page.margins.left, doc.page.height - bottom - 12, {
        width: usable,
        align: 'right',
        lineBreak: false,
      });
    doc.page.margins.bottom = bottom;
  }
  doc.end();
  await ended;
  return { pdf: Buffer.concat(chunks), pages: range.count, rows: count, groups: groups.length };
}
