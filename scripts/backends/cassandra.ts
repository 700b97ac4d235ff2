import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import cassandra from 'cassandra-driver';
import {
  type BackendSpec, type Log, envPort, fetchJars, javaBin, javaMajorVersion, run, stateDir,
} from './common.ts';

export const CASSANDRA_VERSION = '5.0.6';
const HOST = '127.0.0.1';

export function cassandraSpec(): BackendSpec {
  const port = envPort('FLAMETALK_CASSANDRA_PORT', 9042);
  const storagePort = envPort('FLAMETALK_CASSANDRA_STORAGE_PORT', 7000);
  const dir = stateDir('cassandra');
  const dataDir = join(dir, 'data');
  const logsDir = join(dir, 'logs');
  const yamlFile = join(dir, 'cassandra.yaml');
  const logbackFile = join(dir, 'logback.xml');

  return {
    host: HOST,
    port,
    otherPorts: [storagePort],
    env: { CASSANDRA_CONTACT_POINTS: `${HOST}:${port}` },
    dir,
    pidFile: join(dir, 'pid'),
    // A raw path (the config URL may be percent-encoded).
    marker: `-Dcassandra.storagedir=${dataDir}`,
    logFiles: [join(logsDir, 'system.log'), join(logsDir, 'stdout.log')],
    // SIGTERM drains memtables to disk first, which takes a few seconds.
    stopGraceMs: 60_000,

    fetch: (log) => fetchJars(`cassandra-${CASSANDRA_VERSION}`, [
      { group: 'org.apache.cassandra', artifact: 'cassandra-all', version: CASSANDRA_VERSION },
    ], log),

    async prepare(jarDir: string, log: Log): Promise<string[]> {
      const java = await javaMajorVersion();
      if (java !== 11 && java !== 17) {
        log(`warning: Cassandra ${CASSANDRA_VERSION} supports Java 11 and 17, found ${java}; set JAVA_HOME if startup fails`);
      }
      await mkdir(dataDir, { recursive: true });
      await mkdir(logsDir, { recursive: true });
      await writeFile(yamlFile, cassandraYaml(port, storagePort, dataDir));
      await writeFile(logbackFile, logbackXml(logsDir));
      const jamm = (await readdir(jarDir)).find((f) => /^jamm-.*\.jar$/.test(f));
      return [
        ...(await withoutMemoryLock()),
        javaBin(), '-Xms1g', '-Xmx1g', '-Xss256k', '-XX:+ExitOnOutOfMemoryError',
        ...(java >= 17 ? JVM17_OPTIONS : []),
        // From jvm-server.options.
        '-XX:+UseThreadPriorities', '-XX:StringTableSize=1000003', '-XX:+PerfDisableSharedMem',
        '-Djava.net.preferIPv4Stack=true',
        ...(jamm ? [`-javaagent:${join(jarDir, jamm)}`] : []),
        `-Dcassandra.config=${pathToFileURL(yamlFile).href}`,
        // Without it Cassandra closes stdout and daemonizes its logging.
        '-Dcassandra-foreground=yes',
        `-Dcassandra.storagedir=${dataDir}`,
        `-Dcassandra.logdir=${logsDir}`,
        `-Dlogback.configurationFile=${logbackFile}`,
        // A lone seed has nobody to gossip with, nor to announce its shutdown to.
        '-Dcassandra.skip_wait_for_gossip_to_settle=0',
        '-Dcassandra.shutdown_announce_in_ms=0',
        '-cp', join(jarDir, '*'),
        'org.apache.cassandra.service.CassandraDaemon',
      ];
    },

    probe: () => queryWorks(`${HOST}:${port}`),
  };
}

/**
 * Cassandra always calls mlockall(MCL_CURRENT). As root that succeeds and faults in the whole
 * heap: measured +3 s per start and 1.5 GB instead of 0.5 GB RSS. There is no swap to guard
 * against here, so root drops CAP_IPC_LOCK and the call fails harmlessly (non-root users
 * already fail it through RLIMIT_MEMLOCK).
 */
async function withoutMemoryLock(): Promise<string[]> {
  if (process.getuid?.() !== 0) return [];
  const probe = await run('setpriv', ['--version']).catch(() => undefined);
  return probe?.code === 0 ? ['setpriv', '--inh-caps=-ipc_lock', '--bounding-set=-ipc_lock', '--'] : [];
}

// Cassandra's conf/jvm17-server.options (GC, JPMS and Netty parts).
const JVM17_OPTIONS = [
  '-XX:+UseG1GC', '-XX:+ParallelRefProcEnabled', '-XX:MaxTenuringThreshold=1', '-XX:G1HeapRegionSize=16m',
  '-XX:G1RSetUpdatingPauseTimePercent=5', '-XX:MaxGCPauseMillis=300', '-XX:InitiatingHeapOccupancyPercent=70',
  '-Djdk.attach.allowAttachSelf=true',
  '--add-exports', 'java.base/jdk.internal.misc=ALL-UNNAMED',
  '--add-exports', 'java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED',
  '--add-exports', 'java.rmi/sun.rmi.registry=ALL-UNNAMED',
  '--add-exports', 'java.rmi/sun.rmi.server=ALL-UNNAMED',
  '--add-exports', 'java.sql/java.sql=ALL-UNNAMED',
  '--add-exports', 'java.base/java.lang.ref=ALL-UNNAMED',
  '--add-exports', 'jdk.unsupported/sun.misc=ALL-UNNAMED',
  '--add-exports', 'jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED',
  '--add-exports', 'jdk.attach/sun.tools.attach=ALL-UNNAMED',
  '--add-opens', 'java.base/java.lang.module=ALL-UNNAMED',
  '--add-opens', 'java.base/jdk.internal.loader=ALL-UNNAMED',
  '--add-opens', 'java.base/jdk.internal.ref=ALL-UNNAMED',
  '--add-opens', 'java.base/jdk.internal.reflect=ALL-UNNAMED',
  '--add-opens', 'java.base/jdk.internal.math=ALL-UNNAMED',
  '--add-opens', 'java.base/jdk.internal.module=ALL-UNNAMED',
  '--add-opens', 'java.base/jdk.internal.util.jar=ALL-UNNAMED',
  '--add-opens', 'jdk.management/com.sun.management.internal=ALL-UNNAMED',
  '--add-opens', 'java.base/sun.nio.ch=ALL-UNNAMED',
  '--add-opens', 'java.base/java.io=ALL-UNNAMED',
  '--add-opens', 'java.base/java.lang.reflect=ALL-UNNAMED',
  '--add-opens', 'jdk.compiler/com.sun.tools.javac=ALL-UNNAMED',
  '--add-opens', 'java.base/java.lang=ALL-UNNAMED',
  '--add-opens', 'java.base/java.util=ALL-UNNAMED',
  '-Dio.netty.tryReflectionSetAccessible=true',
  '-Dio.netty.allocator.useCacheForAllThreads=true',
  '-Dio.netty.allocator.maxOrder=11',
];

function cassandraYaml(port: number, storagePort: number, dataDir: string): string {
  // Unknown keys abort startup, so only keys Cassandra 5.0 knows go here.
  return `# Written by scripts/backends/cassandra.ts on every start; edits are lost.
cluster_name: flametalk
num_tokens: 1
initial_token: 0
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
endpoint_snitch: SimpleSnitch
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "${HOST}:${storagePort}"
listen_address: ${HOST}
rpc_address: ${HOST}
storage_port: ${storagePort}
native_transport_port: ${port}
data_file_directories:
  - ${join(dataDir, 'data')}
commitlog_directory: ${join(dataDir, 'commitlog')}
saved_caches_directory: ${join(dataDir, 'saved_caches')}
hints_directory: ${join(dataDir, 'hints')}
cdc_raw_directory: ${join(dataDir, 'cdc_raw')}
commitlog_sync: periodic
commitlog_sync_period: 10000ms
commitlog_disk_access_mode: legacy
auto_snapshot: false
snapshot_before_compaction: false
concurrent_compactors: 1
hinted_handoff_enabled: false
dynamic_snitch: false
# Small caches and memtables: this node holds test data, not production data.
memtable_heap_space: 128MiB
memtable_offheap_space: 128MiB
memtable_flush_writers: 1
key_cache_size: 16MiB
file_cache_size: 64MiB
networking_cache_size: 32MiB
concurrent_reads: 8
concurrent_writes: 16
concurrent_counter_writes: 8
`;
}

function logbackXml(logsDir: string): string {
  return `<!-- Written by scripts/backends/cassandra.ts on every start; edits are lost. -->
<configuration>
  <appender name="FILE" class="ch.qos.logback.core.rolling.RollingFileAppender">
    <file>${join(logsDir, 'system.log')}</file>
    <rollingPolicy class="ch.qos.logback.core.rolling.FixedWindowRollingPolicy">
      <fileNamePattern>${join(logsDir, 'system.log.%i')}</fileNamePattern>
      <minIndex>1</minIndex>
      <maxIndex>3</maxIndex>
    </rollingPolicy>
    <triggeringPolicy class="ch.qos.logback.core.rolling.SizeBasedTriggeringPolicy">
      <maxFileSize>20MB</maxFileSize>
    </triggeringPolicy>
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="FILE"/></root>
</configuration>
`;
}

async function queryWorks(contactPoint: string): Promise<boolean> {
  const client = new cassandra.Client({
    contactPoints: [contactPoint],
    localDataCenter: 'datacenter1',
    socketOptions: { connectTimeout: 2000, readTimeout: 5000 },
  });
  try {
    await client.connect();
    await client.execute('SELECT release_version FROM system.local');
    return true;
  } catch {
    return false;
  } finally {
    await client.shutdown().catch(() => {});
  }
}
