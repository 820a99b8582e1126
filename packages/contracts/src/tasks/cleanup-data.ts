import { type Static, Type } from '@sinclair/typebox';
import { ColumnName, S3Prefix, S3Uri } from '../common.js';

const Columns = (min: number) => Type.Array(ColumnName, { minItems: min, maxItems: 500, uniqueItems: true });

/** How one column is checked and normalised. A value that cannot be converted rejects the row. */
export const ColumnRule = Type.Object(
  {
    type: Type.Optional(
      Type.Union([
        Type.Literal('string'),
        Type.Literal('integer'),
        Type.Literal('number'),
        Type.Literal('boolean'),
        Type.Literal('email'),
        Type.Literal('date'),
      ]),
    ),
    /** Input formats tried in order for `date`, e.g. `DD/MM/YYYY`; output is ISO `YYYY-MM-DD`. */
    dateFormats: Type.Optional(
      Type.Array(Type.String({ minLength: 2, maxLength: 32, pattern: '^[YMDHhms/.\\- :T]+$' }), {
        minItems: 1,
        maxItems: 10,
      }),
    ),
    case: Type.Optional(Type.Union([Type.Literal('lower'), Type.Literal('upper'), Type.Literal('title')])),
    /** Cell values treated as empty, e.g. `["N/A", "-"]`. */
    nullValues: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 20 })),
  },
  { additionalProperties: false },
);
export type ColumnRule = Static<typeof ColumnRule>;

/** The cleaning rules, applied in this order: trim, null values, empty rows, types, required, dedupe, rename, select. */
export const CleanupRules = Type.Object(
  {
    /** Trim cells and collapse runs of whitespace to one space (default true). */
    trim: Type.Optional(Type.Boolean({ default: true })),
    /** Drop rows whose cells are all empty (default true). */
    dropEmptyRows: Type.Optional(Type.Boolean({ default: true })),
    /** Rows with an empty cell in one of these columns are rejected. */
    requiredColumns: Type.Optional(Columns(1)),
    /** Keep the first row of each key; later duplicates are counted and dropped. */
    dedupe: Type.Optional(
      Type.Object(
        { keys: Columns(1), caseInsensitive: Type.Optional(Type.Boolean({ default: false })) },
        { additionalProperties: false },
      ),
    ),
    columns: Type.Optional(Type.Record(ColumnName, ColumnRule, { maxProperties: 500, additionalProperties: false })),
    /** Old name → new name, applied after the other rules. */
    rename: Type.Optional(Type.Record(ColumnName, ColumnName, { maxProperties: 500, additionalProperties: false })),
    /** Output only these columns (names after rename), in this order. */
    select: Type.Optional(Columns(1)),
    /** Prefix cells starting with = + - @ with a quote so spreadsheets don't run them (default true). */
    neutralizeFormulas: Type.Optional(Type.Boolean({ default: true })),
  },
  { additionalProperties: false },
);
export type CleanupRules = Static<typeof CleanupRules>;

/** `cleanup_data` v1: clean the CSV at `source`, write cleaned.csv, rejects.csv and summary.json under `destination`. */
export const CleanupDataV1 = Type.Object(
  {
    source: S3Uri,
    destination: S3Prefix,
    delimiter: Type.Optional(Type.String({ minLength: 1, maxLength: 1, default: ',' })),
    rules: CleanupRules,
  },
  { additionalProperties: false, title: 'cleanup_data payload, version 1' },
);
export type CleanupDataV1 = Static<typeof CleanupDataV1>;
