// `npm run docs`: rewrites the README's configuration table from src/config/schema.ts.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { withConfigTable } from '../src/config/docs.ts';

const readme = join(import.meta.dirname, '..', 'README.md');
await writeFile(readme, withConfigTable(await readFile(readme, 'utf8')));
console.error('README.md configuration table updated');
