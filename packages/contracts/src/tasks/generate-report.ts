import { type Static, Type } from '@sinclair/typebox';
import { ColumnName, Mailbox, S3Uri, SingleLine } from '../common.js';

const Cell = Type.Union([Type.String({ maxLength: 10_000 }), Type.Number(), Type.Boolean(), Type.Null()]);

export const ReportColumn = Type.Object(
  {
    key: ColumnName,
    label: Type.Optional(SingleLine({ maxLength: 128 })),
    format: Type.Optional(
      Type.Union([Type.Literal('text'), Type.Literal('number'), Type.Literal('currency'), Type.Literal('percent')]),
    ),
    align: Type.Optional(Type.Union([Type.Literal('left'), Type.Literal('right'), Type.Literal('center')])),
  },
  { additionalProperties: false },
);
export type ReportColumn = Static<typeof ReportColumn>;

export const AggregateFunction = Type.Union([
  Type.Literal('count'),
  Type.Literal('sum'),
  Type.Literal('avg'),
  Type.Literal('min'),
  Type.Literal('max'),
]);
export type AggregateFunction = Static<typeof AggregateFunction>;

export const ReportAggregate = Type.Object(
  { column: ColumnName, fn: AggregateFunction, label: Type.Optional(SingleLine({ maxLength: 128 })) },
  { additionalProperties: false },
);
export type ReportAggregate = Static<typeof ReportAggregate>;

/** A bar chart of one aggregate per group (requires `groupBy`). */
export const ReportChart = Type.Object(
  {
    type: Type.Literal('bar'),
    /** Index into `aggregates` of the value to plot. */
    aggregate: Type.Integer({ minimum: 0, maximum: 19 }),
    title: Type.Optional(SingleLine({ maxLength: 200 })),
  },
  { additionalProperties: false },
);

/**
 * `generate_report` v1: a PDF from inline `rows` or a CSV at `source` (exactly one of them),
 * written to `destination`; emailed to `email.to` when given.
 */
export const GenerateReportV1 = Type.Object(
  {
    title: SingleLine({ maxLength: 200 }),
    subtitle: Type.Optional(SingleLine({ maxLength: 500 })),
    rows: Type.Optional(
      Type.Array(Type.Record(ColumnName, Cell, { maxProperties: 100, additionalProperties: false }), {
        maxItems: 5000,
      }),
    ),
    source: Type.Optional(S3Uri),
    columns: Type.Array(ReportColumn, { minItems: 1, maxItems: 30 }),
    groupBy: Type.Optional(ColumnName),
    aggregates: Type.Optional(Type.Array(ReportAggregate, { minItems: 1, maxItems: 20 })),
    chart: Type.Optional(ReportChart),
    destination: S3Uri,
    email: Type.Optional(
      Type.Object(
        {
          to: Type.Array(Mailbox, { minItems: 1, maxItems: 50 }),
          subject: Type.Optional(SingleLine({ maxLength: 998 })),
          text: Type.Optional(Type.String({ minLength: 1, maxLength: 100_000 })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  {
    additionalProperties: false,
    title: 'generate_report payload, version 1',
    // Checked by the task's refinement for TypeBox; kept here so other validators enforce them too.
    oneOf: [{ required: ['rows'] }, { required: ['source'] }],
    dependentRequired: { chart: ['groupBy', 'aggregates'] },
  },
);
export type GenerateReportV1 = Static<typeof GenerateReportV1>;

/** What `exampleSalesReport` makes. */
export interface ExampleSalesReportOptions {
  title: string;
  destination: string;
  subtitle?: string;
  /** How many generated rows to inline (region, product, units, revenue); none: the caller sets `rows` or `source`. */
  rows?: number;
  /** The regions the rows cycle through (default north, south, east, west). */
  regions?: readonly string[];
}

/**
 * A valid `generate_report` payload: sales grouped by region with unit and revenue sums and a bar
 * chart of the revenue, over deterministic generated rows. What `tq demo`, the bench and the tests
 * send, and a starting point for your own reports.
 */
export function exampleSalesReport(options: ExampleSalesReportOptions): GenerateReportV1 {
  const regions = options.regions ?? ['north', 'south', 'east', 'west'];
  const rows =
    options.rows === undefined
      ? undefined
      : Array.from({ length: options.rows }, (_, i) => ({
          region: regions[i % regions.length] as string,
          product: `product-${(i * 7) % 37}`,
          units: (i % 13) + 1,
          revenue: Math.round(((i * 7919) % 100_000) + 50) / 100,
        }));
  return {
    title: options.title,
    ...(options.subtitle === undefined ? {} : { subtitle: options.subtitle }),
    ...(rows ? { rows } : {}),
    columns: [
      { key: 'region', label: 'Region' },
      { key: 'product', label: 'Product' },
      { key: 'units', label: 'Units', format: 'number' },
      { key: 'revenue', label: 'Revenue', format: 'currency' },
    ],
    groupBy: 'region',
    aggregates: [
      { column: 'units', fn: 'sum', label: 'Units' },
      { column: 'revenue', fn: 'sum', label: 'Revenue' },
    ],
    chart: { type: 'bar', aggregate: 1 },
    destination: options.destination,
  };
}
