// Writes packages/contracts/schemas/*.json from the TypeBox schemas. Run: pnpm schemas
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jsonSchemas, renderJsonSchema } from '../src/index.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'schemas');
await mkdir(dir, { recursive: true });
const files = jsonSchemas();
const wanted = new Set(files.map((file) => file.fileName));
for (const existing of await readdir(dir)) {
  if (existing.endsWith('.json') && !wanted.has(existing)) await rm(join(dir, existing));
}
for (const file of files) await writeFile(join(dir, file.fileName), renderJsonSchema(file));
console.log(`wrote ${files.length} schema files to ${dir}`);
