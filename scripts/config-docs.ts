// `npm run docs`: rewrites the generated parts of README.md (configuration table, Cassandra schema).
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readmeWithGeneratedParts } from './readme.ts';

const readme = join(import.meta.dirname, '..', 'README.md');
await writeFile(readme, readmeWithGeneratedParts(await readFile(readme, 'utf8')));
console.error('README.md: configuration table and schema updated');
