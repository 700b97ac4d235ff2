import type { FlametalkClient, RoomSummary } from '../../src/client/index.ts';
import { describeError, formatTime, h, isSystem, replaceChildren } from './dom.ts';

const REFRESH_MS = 5_000;

/**
 * My rooms, most recently active first, with unread counts (the server's, from my read
 * positions), and the form that creates a room. Refreshed on room events, on a timer while the
 * tab is visible and whenever the chat view says something changed.
 */
export class RoomList {
  readonly element: HTMLElement;
  private readonly list = h('ul', { id: 'room-list' });
  private readonly error = h('p', { class: 'error', id: 'room-error', role: 'alert' });
  private selected: string | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private refreshing: Promise<void> | undefined;
  private again = false;

  constructor(private readonly client: FlametalkClient, private readonly open: (roomId: string) => void) {
    const users = h('input', { name: 'users', id: 'new-room-users', placeholder: 'user ids, comma-separated', required: true, autocomplete: 'off' });
    const title = h('input', { name: 'title', id: 'new-room-title', placeholder: 'title (optional)', maxlength: '100', autocomplete: 'off' });
    const form = h('form', { id: 'new-room', onsubmit: (event) => void this.create(event, users, title) },
      h('h2', {}, 'New room'), users, title, h('button', { type: 'submit' }, 'Create'));
    this.element = h('aside', { id: 'rooms' }, h('h2', {}, 'Rooms'), this.list, this.error, form);
  }

  start(): void {
    void this.refresh();
    this.timer = setInterval(() => {
      if (document.visibilityState === 'visible') void this.refresh();
    }, REFRESH_MS);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  select(roomId: string | undefined): void {
    this.selected = roomId;
    for (const item of this.list.querySelectorAll<HTMLElement>('.room')) {
      item.classList.toggle('selected', item.dataset.roomId === roomId);
      // Opening a room reads it: its count goes at once, not on the next refresh.
      if (item.dataset.roomId === roomId) item.querySelector('.unread')?.remove();
    }
  }

  /** Coalesces: one request at a time, and one more if asked meanwhile. */
  refresh(): Promise<void> {
    if (this.refreshing) {
      this.again = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      try {
        do {
          this.again = false;
          this.render(await this.client.listRooms());
          this.error.textContent = '';
        } while (this.again);
      } catch (failure) {
        this.error.textContent = `Could not load rooms: ${describeError(failure)}`;
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  private render(rooms: RoomSummary[]): void {
    if (rooms.length === 0) {
      replaceChildren(this.list, h('li', { class: 'empty' }, 'No rooms yet: create one below.'));
      return;
    }
    replaceChildren(this.list, ...rooms.map((room) => {
      // The open room is being read right now; its count only lags the read marker.
      const unread = room.roomId === this.selected ? 0 : room.unreadCount;
      const last = room.lastMessage;
      return h('li', { class: room.roomId === this.selected ? 'room selected' : 'room', 'data-room-id': room.roomId },
        h('a', { href: `#/room/${room.roomId}`, onclick: (event) => {
          event.preventDefault();
          this.open(room.roomId);
        } },
        h('span', { class: 'title' }, room.title || '(no title)'),
        unread > 0 ? h('span', { class: 'unread', title: `${unread} unread` }, unread >= 999 ? '999+' : String(unread)) : null,
        h('span', { class: 'last' }, last ? (isSystem(last.messageType) ? last.contents : `${last.nickname}: ${last.contents}`) : `${room.memberCount} member${room.memberCount === 1 ? '' : 's'}`),
        last ? h('time', { datetime: last.createdAt }, formatTime(last.createdAt)) : null));
    }));
  }

  private async create(event: Event, users: HTMLInputElement, title: HTMLInputElement): Promise<void> {
    event.preventDefault();
    const ids = users.value.split(/[\s,]+/).filter(Boolean);
    const bad = ids.find((id) => !/^[0-9]{1,19}$/.test(id));
    if (bad !== undefined) {
      this.error.textContent = `"${bad}" is not a user id (user ids are numbers; ask the person for theirs, shown at the top of their page)`;
      return;
    }
    try {
      const room = await this.client.createRoom({ users: ids, ...(title.value.trim() ? { title: title.value.trim() } : {}) });
      users.value = title.value = '';
      this.error.textContent = '';
      await this.refresh();
      this.open(room.roomId);
    } catch (failure) {
      this.error.textContent = `Could not create the room: ${describeError(failure)}`;
    }
  }
}
