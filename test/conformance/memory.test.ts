import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChatMessage } from '../../src/chat/model.ts';
import { MemoryBus, MemoryBusHub } from '../../src/infra/memory/bus.ts';
import { MemoryDedup, MemoryDedupHub } from '../../src/infra/memory/dedup.ts';
import { MemoryFeed, MemoryFeedHub } from '../../src/infra/memory/feed.ts';
import { MemoryPresenceHub, MemoryPresenceStore } from '../../src/infra/memory/presence.ts';
import { LogPusher } from '../../src/infra/memory/push.ts';
import { MemoryPeopleStore } from '../../src/infra/memory/people.ts';
import { MemoryStore } from '../../src/infra/memory/store.ts';
import { MemoryTokenHub, MemoryTokenStore } from '../../src/infra/memory/tokens.ts';
import { busConformance } from './bus.ts';
import { dedupConformance } from './dedup.ts';
import { feedConformance } from './feed.ts';
import { peopleConformance } from './people.ts';
import { presenceConformance } from './presence.ts';
import { pushConformance } from './push.ts';
import { storeConformance } from './store.ts';
import { tokenConformance } from './tokens.ts';

presenceConformance('memory', async () => {
  const hub = new MemoryPresenceHub();
  const nodes: MemoryPresenceStore[] = [];
  return {
    node: async (nodeId, leaseMs = 30_000) => {
      const node = new MemoryPresenceStore({ nodeId, leaseMs, hub });
      nodes.push(node);
      return node;
    },
    close: async () => {},
  };
});

busConformance('memory', async () => {
  const hub = new MemoryBusHub();
  const nodes: MemoryBus[] = [];
  return {
    node: async () => {
      const node = new MemoryBus(hub);
      nodes.push(node);
      return node;
    },
    close: async () => {
      for (const node of nodes) await node.close();
    },
  };
});

storeConformance('memory', async () => new MemoryStore());

tokenConformance('memory', async () => {
  const hub = new MemoryTokenHub();
  return { node: async () => new MemoryTokenStore(hub), close: async () => {} };
});

dedupConformance('memory', async () => {
  const hub = new MemoryDedupHub();
  return { node: async () => new MemoryDedup(hub), close: async () => {} };
});

pushConformance('log (embedded)', async () => {
  const pusher = new LogPusher();
  return {
    pusher,
    markUnregistered: (token) => pusher.unregistered.add(token),
    delivered: () => pusher.sent.map(({ token, title, body, data }) => ({ token, title, body, data })),
    close: () => pusher.close(),
  };
});

feedConformance('memory', async () => {
  const hub = new MemoryFeedHub();
  const feeds: MemoryFeed[] = [];
  return {
    node: async (options) => {
      const feed = new MemoryFeed(hub, options);
      feeds.push(feed);
      return feed;
    },
    close: async () => {
      for (const feed of feeds) await feed.close();
    },
  };
});

describe('memory de-duplication bounds', () => {
  const message = (id: string): ChatMessage => ({ messageId: id, roomId: 'r', senderId: 'u', nickname: 'U', messageType: 'TALK', contents: 'hi', fileUrl: null, createdAt: 0 });
  const options = { ttlMs: 60_000, leaseMs: 1_000 };

  it('forgets the oldest claims beyond its cap, and keeps the newest', async () => {
    const dedup = new MemoryDedup(new MemoryDedupHub(3));
    for (const n of [1, 2, 3, 4, 5]) assert.equal((await dedup.claim(`k${n}`, message(String(n)), options)).outcome, 'won');
    assert.equal((await dedup.claim('k5', message('50'), options)).outcome, 'pending', 'the newest is remembered');
    assert.equal((await dedup.claim('k1', message('10'), options)).outcome, 'won', 'the oldest was forgotten');
  });

  it('drops expired claims without a resend of them', async () => {
    let now = 0;
    const hub = new MemoryDedupHub();
    const dedup = new MemoryDedup(hub, () => now);
    await dedup.claim('old', message('1'), options);
    now = 61_000;
    await dedup.claim('new', message('2'), options);
    assert.deepEqual([...hub.claims.keys()], ['new']);
  });
});
peopleConformance('memory', async () => new MemoryPeopleStore());
