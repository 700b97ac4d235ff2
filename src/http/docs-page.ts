/**
 * The API reference page at `/docs`: the OpenAPI document rendered as plain HTML on the server,
 * one section per area, no scripts (so no bundle to ship and a strict CSP holds).
 */

interface Schema {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  enum?: unknown[];
  anyOf?: Schema[];
  format?: string;
  description?: string;
}

interface Operation {
  summary?: string;
  description?: string;
  tags?: string[];
  parameters?: Array<{ name: string; in: string; required?: boolean; schema?: Schema }>;
  requestBody?: { content?: Record<string, { schema?: Schema }> };
}

interface Document {
  info: { title: string; version: string; description?: string };
  paths?: Record<string, Record<string, Operation>>;
}

const escape = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function typeOf(schema: Schema | undefined): string {
  if (!schema) return '';
  if (schema.anyOf) return schema.anyOf.map(typeOf).join(' | ');
  if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(' | ');
  if (schema.type === 'array') return `${typeOf(schema.items)}[]`;
  const type = Array.isArray(schema.type) ? schema.type.join(' | ') : schema.type ?? 'object';
  return schema.format ? `${type} (${schema.format})` : type;
}

function fields(schema: Schema | undefined): string {
  const properties = Object.entries(schema?.properties ?? {});
  if (properties.length === 0) return '';
  const required = new Set(schema?.required ?? []);
  return properties
    .map(([name, field]) => `<code>${escape(name)}${required.has(name) ? '' : '?'}</code>: ${escape(typeOf(field))}`)
    .join('<br>');
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

export function docsPage(document: Document, jsonPath: string): string {
  const byTag = new Map<string, string[]>();
  for (const [path, item] of Object.entries(document.paths ?? {})) {
    for (const method of METHODS) {
      const operation = item[method];
      if (!operation) continue;
      const params = (operation.parameters ?? [])
        .map((p) => `<code>${escape(p.name)}${p.required ? '' : '?'}</code> (${escape(p.in)}): ${escape(typeOf(p.schema))}`)
        .join('<br>');
      const body = fields(operation.requestBody?.content?.['application/json']?.schema);
      const row = `<tr><td><code>${method.toUpperCase()}</code></td><td><code>${escape(path)}</code></td>`
        + `<td>${escape(operation.summary ?? operation.description ?? '')}</td><td>${params}</td><td>${body}</td></tr>`;
      const tag = operation.tags?.[0] ?? 'other';
      byTag.set(tag, [...(byTag.get(tag) ?? []), row]);
    }
  }
  const sections = [...byTag].map(([tag, rows]) => `<h2>${escape(tag)}</h2>
<table><thead><tr><th>method</th><th>path</th><th>what</th><th>parameters</th><th>body</th></tr></thead>
<tbody>${rows.join('\n')}</tbody></table>`).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(document.info.title)} ${escape(document.info.version)}</title>
<style>body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#222}
table{border-collapse:collapse;width:100%;margin-bottom:1.5rem}th,td{border-bottom:1px solid #ddd;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f6f6}code{font-size:13px}</style></head>
<body><h1>${escape(document.info.title)} <small>${escape(document.info.version)}</small></h1>
<p>${escape(document.info.description ?? '')}</p>
<p>The machine-readable OpenAPI 3.1 document: <a href="${escape(jsonPath)}">${escape(jsonPath)}</a>.
A <code>?</code> after a name marks it optional.</p>
${sections}
</body></html>
`;
}
