import { execFileSync } from 'node:child_process';
import { connect } from 'node:net';
import cassandra from 'cassandra-driver';
import { Kafka, logLevel } from 'kafkajs';
import { Redis } from 'ioredis';
import type { ClusterBackends } from './servers.ts';

/**
 * The real Redis, Kafka and Cassandra of the cluster scenario. Other people use them too: a run
 * gets its own Kafka topic, Cassandra keyspace and Redis key prefix, and removes them afterwards.
 */
export function clusterBackends(runId: string): ClusterBackends {
  const id = runId.replace(/[^a-zA-Z0-9]/g, '').toLowerCase();
  return {
    redisUrl: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
    kafkaBrokers: process.env.BENCH_KAFKA_BROKERS ?? '127.0.0.1:9092',
    cassandraContactPoints: process.env.BENCH_CASSANDRA_CONTACT_POINTS ?? '127.0.0.1:9042',
    kafkaTopic: `bench.${id}`,
    cassandraKeyspace: `bench_${id}`,
    redisPrefix: `bench:${id}:`,
  };
}

function reachable(hostPort: string): Promise<boolean> {
  const [host, port] = hostPort.replace(/^rediss?:\/\//, '').split(':');
  return new Promise((resolve) => {
    const socket = connect(Number(port), host!);
    socket.setTimeout(3000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('connect', () => {
      socket.end();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export async function checkBackends(b: ClusterBackends): Promise<void> {
  const targets = { Redis: b.redisUrl, Kafka: b.kafkaBrokers.split(',')[0]!, Cassandra: b.cassandraContactPoints.split(',')[0]! };
  for (const [name, address] of Object.entries(targets)) {
    if (!(await reachable(address))) throw new Error(`${name} is not reachable at ${address} (npm run backends -- start)`);
  }
}

/** Drops what a run created; every step is best effort and reports what it could not do. */
export async function cleanupBackends(b: ClusterBackends): Promise<string[]> {
  const problems: string[] = [];
  const redis = new Redis(b.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${b.redisPrefix}*`, 'COUNT', 1000);
      if (keys.length) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  } catch (error) {
    problems.push(`redis: ${String(error)}`);
  } finally {
    redis.disconnect();
  }
  const kafka = new Kafka({ brokers: b.kafkaBrokers.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const topics = (await admin.listTopics()).filter((t) => t === b.kafkaTopic || t.startsWith(`${b.kafkaTopic}.`));
    if (topics.length) await admin.deleteTopics({ topics });
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.includes(b.kafkaTopic));
    if (groups.length) await admin.deleteGroups(groups).catch(() => undefined);
  } catch (error) {
    problems.push(`kafka: ${String(error)}`);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
  const client = new cassandra.Client({ contactPoints: b.cassandraContactPoints.split(','), localDataCenter: 'datacenter1' });
  try {
    await client.execute(`DROP KEYSPACE IF EXISTS ${b.cassandraKeyspace}`);
  } catch (error) {
    problems.push(`cassandra: ${String(error)}`);
  } finally {
    await client.shutdown().catch(() => undefined);
  }
  return problems;
}

export type BackendName = 'redis' | 'kafka' | 'cassandra';

/**
 * Pids of the processes listening on each backend's port (to charge their CPU to the scenario,
 * each backend separately). A backend listening on several ports of the list counts once, under
 * the first name.
 */
export function backendPids(b: ClusterBackends, which: BackendName[]): Record<string, number[]> {
  const addresses = { redis: b.redisUrl.replace(/^rediss?:\/\//, ''), kafka: b.kafkaBrokers.split(',')[0]!, cassandra: b.cassandraContactPoints.split(',')[0]! };
  let listening = '';
  try {
    listening = execFileSync('ss', ['-Hltnp'], { encoding: 'utf8' });
  } catch {
    return {};
  }
  const seen = new Set<number>();
  const byName: Record<string, number[]> = {};
  for (const name of which) {
    const port = addresses[name].split(':')[1]?.replace(/\/.*$/, '');
    if (!port) continue;
    const pids: number[] = [];
    for (const line of listening.split('\n')) {
      if (!line.includes(`:${port} `)) continue;
      for (const match of line.matchAll(/pid=(\d+)/g)) {
        const pid = Number(match[1]);
        if (!seen.has(pid)) pids.push(pid);
        seen.add(pid);
      }
    }
    byName[name] = pids;
  }
  return byName;
}
