import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type BackendSpec, envPort, fetchJars, javaBin, stateDir } from './common.ts';

export const S3MOCK_VERSION = '4.11.0';
const HOST = '127.0.0.1';

/**
 * Adobe S3Mock, an S3-compatible server (Spring Boot, Java 17), for the S3 file-store driver's
 * tests. Its pom resolves slf4j-api 1.7 next to Logback 1.5, which refuses to start; pinning
 * slf4j-api 2.0 fixes the classpath.
 */
export function s3mockSpec(): BackendSpec {
  const port = envPort('FLAMETALK_S3MOCK_PORT', 9190);
  // S3Mock always opens an HTTPS port too; keep it beside the HTTP one.
  const httpsPort = envPort('FLAMETALK_S3MOCK_HTTPS_PORT', port + 3);
  const dir = stateDir('s3mock');
  const dataDir = join(dir, 'data');
  const logsDir = join(dir, 'logs');

  return {
    host: HOST,
    port,
    otherPorts: [httpsPort],
    env: { S3_ENDPOINT: `http://${HOST}:${port}` },
    dir,
    pidFile: join(dir, 'pid'),
    // The store root is in the command line: it proves a pid is ours.
    marker: dataDir,
    logFiles: [join(logsDir, 'stdout.log')],
    stopGraceMs: 15_000,

    fetch: (log) => fetchJars(`s3mock-${S3MOCK_VERSION}`, [
      { group: 'com.adobe.testing', artifact: 's3mock', version: S3MOCK_VERSION },
      { group: 'org.slf4j', artifact: 'slf4j-api', version: '2.0.17' },
    ], log),

    async prepare(jarDir: string): Promise<string[]> {
      await mkdir(dataDir, { recursive: true });
      await mkdir(logsDir, { recursive: true });
      return [
        javaBin(), '-Xms64m', '-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Djava.awt.headless=true',
        '-cp', join(jarDir, '*'), 'com.adobe.testing.s3mock.S3MockApplication',
        `--server.port=${httpsPort}`, `--com.adobe.testing.s3mock.httpPort=${port}`,
        `--server.address=${HOST}`,
        `--com.adobe.testing.s3mock.store.root=${dataDir}`,
        // Uploads of up to MAX_UPLOAD_BYTES go through in 5 MiB parts; room to spare.
        '--server.tomcat.max-swallow-size=64MB',
        '--spring.main.banner-mode=off',
      ];
    },

    probe: async () => {
      try {
        const response = await fetch(`http://${HOST}:${port}/`, { signal: AbortSignal.timeout(3_000) });
        return response.ok;
      } catch {
        return false;
      }
    },
  };
}
