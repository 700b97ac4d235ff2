import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import {
  type BackendSpec, type Log, envPort, exists, failure, fetchJars, javaBin, run, stateDir,
} from './common.ts';

export const KAFKA_VERSION = '4.1.1';
const LOG4J_VERSION = '2.24.3';
const HOST = '127.0.0.1';

export function kafkaSpec(): BackendSpec {
  const port = envPort('FLAMETALK_KAFKA_PORT', 9092);
  const controllerPort = port + 1;
  const dir = stateDir('kafka');
  const dataDir = join(dir, 'data');
  const logsDir = join(dir, 'logs');
  const propsFile = join(dir, 'server.properties');
  const log4jFile = join(dir, 'log4j2.properties');

  return {
    host: HOST,
    port,
    otherPorts: [controllerPort],
    env: { KAFKA_BROKERS: `${HOST}:${port}` },
    dir,
    pidFile: join(dir, 'pid'),
    marker: propsFile,
    logFiles: [join(logsDir, 'server.log'), join(logsDir, 'stdout.log')],
    // A single KRaft node shuts down in a few seconds; past this it is stuck.
    stopGraceMs: 30_000,

    fetch: (log) => fetchJars(`kafka-${KAFKA_VERSION}`, [
      { group: 'org.apache.kafka', artifact: 'kafka_2.13', version: KAFKA_VERSION },
      // The release tarball ships a log4j2 binding; the pom does not.
      { group: 'org.apache.logging.log4j', artifact: 'log4j-slf4j-impl', version: LOG4J_VERSION },
      { group: 'org.apache.logging.log4j', artifact: 'log4j-core', version: LOG4J_VERSION },
    ], log),

    async prepare(jarDir: string, log: Log): Promise<string[]> {
      await mkdir(dataDir, { recursive: true });
      await mkdir(logsDir, { recursive: true });
      await writeFile(propsFile, serverProperties(port, controllerPort, dataDir));
      await writeFile(log4jFile, log4j2Properties(logsDir));
      const common = ['-cp', join(jarDir, '*'), `-Dlog4j2.configurationFile=${log4jFile}`, `-Dkafka.logs.dir=${logsDir}`];
      if (!(await exists(join(dataDir, 'meta.properties')))) {
        log('formatting Kafka storage');
        const { code, output } = await run(javaBin(), [
          '-Xmx256m', ...common, 'kafka.tools.StorageTool', 'format',
          '-t', clusterId(), '-c', propsFile, '--ignore-formatted',
        ]);
        if (code !== 0) throw failure('kafka storage format', `StorageTool exited with ${code}`, output.trim().split('\n').slice(-30).join('\n'));
      }
      return [
        javaBin(), '-Xms256m', '-Xmx512m',
        // GC flags from kafka-run-class.sh.
        '-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20', '-XX:InitiatingHeapOccupancyPercent=35',
        '-XX:+ExplicitGCInvokesConcurrent', '-XX:MaxInlineLevel=15', '-XX:+ExitOnOutOfMemoryError',
        '-Djava.awt.headless=true',
        ...common, 'kafka.Kafka', propsFile,
      ];
    },

    probe: () => listTopicsWorks(`${HOST}:${port}`),
  };
}

/** 16 random bytes, base64url; argparse would take a leading '-' for an option. */
function clusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

function serverProperties(port: number, controllerPort: number, dataDir: string): string {
  return `# Written by scripts/backends/kafka.ts on every start; edits are lost.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@${HOST}:${controllerPort}
listeners=PLAINTEXT://${HOST}:${port},CONTROLLER://${HOST}:${controllerPort}
advertised.listeners=PLAINTEXT://${HOST}:${port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=${dataDir}
num.partitions=8
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=false
# One broker: every internal topic must fit on it, or kafkajs loops on "coordinator not available".
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Fewer internal partitions make the first consumer group and transaction start faster.
offsets.topic.num.partitions=8
transaction.state.log.num.partitions=4
share.coordinator.state.topic.num.partitions=4
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
`;
}

function log4j2Properties(logsDir: string): string {
  return `# Written by scripts/backends/kafka.ts on every start; edits are lost.
status = warn
# Log4j's own hook would stop logging before Kafka's shutdown hook has finished.
shutdownHook = disable
appender.file.type = RollingFile
appender.file.name = file
appender.file.fileName = ${join(logsDir, 'server.log')}
appender.file.filePattern = ${join(logsDir, 'server.log.%i')}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 20MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
rootLogger.level = WARN
rootLogger.appenderRef.file.ref = file
# Keeps the "Kafka Server started" line.
logger.raft.name = kafka.server.KafkaRaftServer
logger.raft.level = INFO
`;
}

async function listTopicsWorks(broker: string): Promise<boolean> {
  const kafka = new kafkajs.Kafka({
    clientId: 'flametalk-backends-probe',
    brokers: [broker],
    logLevel: kafkajs.logLevel.NOTHING,
    connectionTimeout: 1000,
    requestTimeout: 3000,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.listTopics();
    return true;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}
