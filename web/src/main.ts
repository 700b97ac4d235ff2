import { createClient, type FlametalkClient, type Session } from '../../src/client/index.ts';
import { authView } from './auth-view.ts';
import { ChatView } from './chat-view.ts';
import { connectionBadge } from './connection-badge.ts';
import { describeError, h, replaceChildren } from './dom.ts';
import { RoomList } from './room-list.ts';
import { tabDeviceId, tabStorage } from './session-storage.ts';

const root = document.getElementById('app')!;

/** The server says where its WebSocket is (its own port, or a proxy's URL). */
async function settings(): Promise<{ wsUrl: string }> {
  const response = await fetch('config.json');
  if (!response.ok) throw new Error(`config.json answered ${response.status}`);
  return ((await response.json()) as { data: { wsUrl: string } }).data;
}

const roomInHash = (): string | undefined => /^#\/room\/([0-9]{1,19})$/.exec(location.hash)?.[1];

/** Everything shown while signed in: top bar, room list, the open room. */
function signedInView(client: FlametalkClient, session: Session, signOut: (notice?: string) => void): () => void {
  const badge = connectionBadge(client);
  let chat: ChatView | undefined;
  const pane = h('div', { id: 'chat-pane' }, h('p', { class: 'placeholder' }, 'Pick a room, or create one.'));
  const rooms = new RoomList(client, (roomId) => {
    if (location.hash !== `#/room/${roomId}`) location.hash = `#/room/${roomId}`;
    else show(roomId);
  });

  function show(roomId: string | undefined): void {
    if (roomId === chat?.roomId) return;
    chat?.close();
    chat = undefined;
    rooms.select(roomId);
    if (!roomId) return replaceChildren(pane, h('p', { class: 'placeholder' }, 'Pick a room, or create one.'));
    chat = new ChatView(client, session, roomId, { changed: () => void rooms.refresh() });
    replaceChildren(pane, chat.element);
    void chat.open();
  }

  const copyId = h('button', { type: 'button', id: 'copy-id', title: 'Copy my user id, so others can add me to a room' }, 'Copy');
  copyId.addEventListener('click', () => void navigator.clipboard?.writeText(session.userId));
  const signOutButton = h('button', { type: 'button', id: 'sign-out' }, 'Sign out');
  signOutButton.addEventListener('click', () => signOut());
  replaceChildren(root,
    h('header', { id: 'topbar' },
      h('strong', {}, 'flametalk'),
      h('span', { id: 'me' }, `${session.nickname} · my id `, h('code', { id: 'my-id' }, session.userId), ' ', copyId),
      badge.element, signOutButton),
    h('main', {}, rooms.element, pane));

  const offs = [
    client.on('state', (state) => {
      badge.update();
      if (state === 'connected') {
        chat?.reconnected();
        void rooms.refresh();
      }
    }),
    client.on('room', () => void rooms.refresh()),
    client.on('signedOut', (reason) => signOut(`Signed out: ${reason.message}`)),
  ];
  // Pending sends change on send and on ack; a light poll keeps the count honest without hooks into the SDK.
  const badgeTimer = setInterval(badge.update, 500);
  const onHash = (): void => show(roomInHash());
  window.addEventListener('hashchange', onHash);
  const onVisible = (): void => {
    if (document.visibilityState === 'visible') void rooms.refresh();
  };
  document.addEventListener('visibilitychange', onVisible);
  rooms.start();
  show(roomInHash());
  void client.connect().catch(() => undefined); // the state badge shows how it goes

  return () => {
    for (const off of offs) off();
    clearInterval(badgeTimer);
    window.removeEventListener('hashchange', onHash);
    document.removeEventListener('visibilitychange', onVisible);
    rooms.stop();
    chat?.close();
  };
}

async function main(): Promise<void> {
  const { wsUrl } = await settings();
  const client = createClient({ httpUrl: location.origin, wsUrl, deviceId: tabDeviceId(), storage: tabStorage() });
  let teardown: (() => void) | undefined;

  const showAuth = (notice?: string): void => {
    teardown?.();
    teardown = undefined;
    replaceChildren(root, authView(client, notice, enter));
  };
  function enter(session: Session): void {
    teardown?.();
    teardown = signedInView(client, session, (notice) => {
      if (notice) return showAuth(notice);
      client.signOut().catch(() => undefined).finally(() => showAuth());
    });
  }

  const session = await client.restore().catch(() => undefined);
  if (session) enter(session);
  else showAuth();
}

main().catch((error: unknown) => {
  replaceChildren(root, h('p', { class: 'error', role: 'alert' }, `flametalk could not start: ${describeError(error)}`));
});
