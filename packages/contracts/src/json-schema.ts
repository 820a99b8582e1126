import { envelopeSchemaFor } from './envelope.js';
import type { TaskRegistry } from './registry.js';
import { registry as builtinRegistry } from './task.js';

/** The JSON Schema dialect of the generated files. */
export const JSON_SCHEMA_DIALECT = 'https://json-schema.org/draft/2020-12/schema';

/** One generated JSON Schema document. */
export interface JsonSchemaFile {
  /** File name under `schemas/`, e.g. `send_email.v1.json`. */
  readonly fileName: string;
  readonly task: string;
  readonly version: number;
  /** The full envelope schema of that task version, payload inlined. */
  readonly schema: Record<string, unknown>;
}

/**
 * The JSON Schema of every task version in the registry, generated from the TypeBox schemas:
 * what `packages/contracts/schemas/` holds for workers in other languages.
 */
export function jsonSchemas(registry: TaskRegistry = builtinRegistry): JsonSchemaFile[] {
  const files: JsonSchemaFile[] = [];
  for (const name of registry.names()) {
    const definition = registry.get(name);
    if (!definition) continue;
    for (const [number, version] of Object.entries(definition.versions)) {
      const fileName = `${name}.v${number}.json`;
      // A JSON round trip drops TypeBox's symbol keys and leaves plain JSON Schema.
      const schema = JSON.parse(JSON.stringify(envelopeSchemaFor(name, Number(number), version.schema)));
      files.push({
        fileName,
        task: name,
        version: Number(number),
        schema: { $schema: JSON_SCHEMA_DIALECT, $id: `https://tq.dev/schemas/${fileName}`, ...schema },
      });
    }
  }
  return files;
}

/** The exact text written for a schema file (stable key order, trailing newline). */
export function renderJsonSchema(file: JsonSchemaFile): string {
  return `${JSON.stringify(file.schema, null, 2)}\n`;
}
