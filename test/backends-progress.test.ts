import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { MavenProgress } from '../scripts/backends/maven-progress.ts';

describe('Maven fetch progress (scripts/backends)', () => {
  it('adds up the files and bytes of Maven\'s transfer lines and ignores the rest', () => {
    const progress = new MavenProgress();
    assert.equal(progress.line('kafka-4.0.0', 3), 'fetching kafka-4.0.0: resolving dependencies, nothing downloaded yet (3 s)');
    for (const line of [
      '[INFO] Scanning for projects...',
      'Downloading from central: https://repo.maven.apache.org/maven2/org/apache/kafka/kafka-clients/4.0.0/kafka-clients-4.0.0.jar',
      'Downloaded from central: https://repo.maven.apache.org/maven2/org/apache/kafka/kafka-clients/4.0.0/kafka-clients-4.0.0.jar (17 MB at 4.2 MB/s)',
      '[INFO] Downloaded from central: https://repo.maven.apache.org/maven2/org/slf4j/slf4j-api/2.0.9/slf4j-api-2.0.9.jar (64 kB at 1.1 MB/s)',
      'Downloaded from central: https://repo.maven.apache.org/maven2/x/y/1/y-1.pom (812 B at 20 kB/s)',
    ]) progress.feed(line);
    assert.equal(progress.files, 3);
    assert.equal(Math.round(progress.bytes), 17_000_000 + 64_000 + 812);
    assert.equal(progress.line('kafka-4.0.0', 6.4), 'fetching kafka-4.0.0: 3 files, 17.1 MB downloaded (6 s, last y-1.pom)');
    assert.match(progress.line('kafka-4.0.0', 11), /3 files, 17\.1 MB downloaded \(11 s, last y-1\.pom, waiting for the next file\)$/);
  });

  it('prints a progress line every few seconds while mvn runs', { timeout: 60_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'flametalk-mvn-'));
    const saved = { PATH: process.env.PATH, XDG_CACHE_HOME: process.env.XDG_CACHE_HOME, BACKENDS_PROGRESS_MS: process.env.BACKENDS_PROGRESS_MS };
    try {
      // A stand-in for mvn: three downloads 400 ms apart, then the copied jar.
      await writeFile(join(dir, 'mvn'), `#!/bin/sh
for arg in "$@"; do case "$arg" in -DoutputDirectory=*) out="\${arg#-DoutputDirectory=}";; esac; done
for i in 1 2 3; do
  echo "Downloaded from central: https://repo.example/maven2/a/b/$i/b-$i.jar (2.5 MB at 9 MB/s)"
  sleep 0.4
done
touch "$out/b.jar"
`);
      await chmod(join(dir, 'mvn'), 0o755);
      process.env.PATH = `${dir}:${process.env.PATH}`;
      process.env.XDG_CACHE_HOME = join(dir, 'cache');
      process.env.BACKENDS_PROGRESS_MS = '150';
      const { fetchJars } = await import(`../scripts/backends/common.ts?progress=${Date.now()}`) as typeof import('../scripts/backends/common.ts');
      const logged: string[] = [];
      const jars = await fetchJars('fake-1.0', [{ group: 'a', artifact: 'b', version: '1' }], (line) => logged.push(line));
      assert.equal(jars, join(dir, 'cache', 'flametalk', 'jars', 'fake-1.0'));
      const progress = logged.filter((line) => line.startsWith('fetching fake-1.0: '));
      assert.ok(progress.length >= 3, `progress lines: ${JSON.stringify(logged)}`);
      assert.ok(progress.some((line) => /: [12] files, [25]\.0 MB downloaded/.test(line)), 'a line while the download was under way');
      assert.match(logged.at(-1)!, /^fetched 1 jars for fake-1\.0 in [0-9.]+ s, 7\.5 MB downloaded$/);
    } finally {
      for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
      await rm(dir, { recursive: true, force: true });
    }
  });
});
