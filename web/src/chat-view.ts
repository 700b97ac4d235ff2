import type { FlametalkClient, HistoryPage, MessageDto, RoomHandle, Session } from '../../src/client/index.ts';
import { describeError, h, replaceChildren } from './dom.ts';
import { MessageList } from './message-list.ts';

const PAGE_SIZE = 30;
/** Others see "typing…" for this long after a typing event; we send one at most this often. */
const TYPING_SHOWN_MS = 4_000;
const TYPING_EVERY_MS = 2_000;

export interface ChatViewEvents {
  /** Something the room list shows changed (a message, a read marker). */
  changed(): void;
}

/** One open room: history paged on scroll, live messages, presence, typing, read markers, the composer. */
export class ChatView {
  readonly element: HTMLElement;
  private readonly messages: MessageList;
  private readonly scroller: HTMLElement;
  private readonly olderButton = h('button', { id: 'older', type: 'button', hidden: true }, 'Load older messages');
  private readonly header = h('h2', { id: 'room-title' }, 'Loading…');
  private readonly members = h('ul', { id: 'members', 'aria-label': 'members' });
  private readonly typingLine = h('p', { id: 'typing', 'aria-live': 'polite' });
  private readonly notice = h('p', { class: 'error', id: 'chat-error', role: 'alert' });
  private readonly input = h('input', { id: 'composer-input', name: 'contents', placeholder: 'Write a message', autocomplete: 'off', maxlength: '4000' });
  private handle: RoomHandle | undefined;
  private pages: AsyncIterator<HistoryPage> | undefined;
  private loadingOlder: Promise<void> | undefined;
  private nicknames = new Map<string, string>();
  private memberIds: string[] = [];
  private readonly typers = new Map<string, ReturnType<typeof setTimeout>>();
  private lastTypingSent = 0;
  private lastMarked: string | undefined;
  private readTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly unsubscribe: Array<() => void> = [];
  private closed = false;

  constructor(private readonly client: FlametalkClient, session: Session, readonly roomId: string, private readonly events: ChatViewEvents) {
    this.messages = new MessageList(session.userId);
    this.olderButton.addEventListener('click', () => void this.loadOlder());
    this.scroller = h('div', { id: 'scroller' }, this.olderButton, this.messages.element);
    this.scroller.addEventListener('scroll', () => {
      if (this.scroller.scrollTop < 80) void this.loadOlder();
      this.scheduleRead();
    });
    this.input.addEventListener('input', () => this.typed());
    const composer = h('form', { id: 'composer', onsubmit: (event) => this.submit(event) }, this.input, h('button', { type: 'submit' }, 'Send'));
    this.element = h('section', { id: 'chat', 'data-room-id': roomId },
      h('header', {}, this.header, this.members), this.notice, this.scroller, this.typingLine, composer);
    const onVisible = (): void => this.scheduleRead();
    document.addEventListener('visibilitychange', onVisible);
    this.unsubscribe.push(() => document.removeEventListener('visibilitychange', onVisible));
  }

  /** Joins (live events start), then shows the room and its newest page of history. */
  async open(): Promise<void> {
    try {
      const [room, handle] = await Promise.all([this.client.getRoom(this.roomId), this.client.join(this.roomId)]);
      if (this.closed) return void handle.leave();
      this.handle = handle;
      this.header.textContent = room.title || '(no title)';
      // An open room names me by an id of its own.
      this.messages.me = room.myId;
      this.nicknames = new Map(room.members.map((m) => [m.userId, m.nickname]));
      this.memberIds = room.members.map((m) => m.userId);
      this.unsubscribe.push(
        handle.on('message', (message) => this.live(message)),
        handle.on('presence', () => this.renderMembers()),
        handle.on('typing', ({ userId }) => this.someoneTyping(userId)),
        handle.on('read', ({ userId, messageId }) => this.messages.markRead(userId, this.nickname(userId), messageId)),
        handle.on('left', ({ reason }) => {
          this.notice.textContent = `You are no longer in this room${reason ? `: ${reason.message}` : ''}.`;
          this.input.disabled = true;
          this.events.changed();
        }),
      );
      this.renderMembers();
      this.pages = this.client.history(this.roomId, { pageSize: PAGE_SIZE });
      await this.loadOlder();
      this.scrollToBottom();
      this.input.focus();
      this.scheduleRead();
    } catch (failure) {
      this.notice.textContent = `Could not open the room: ${describeError(failure)}`;
    }
  }

  /** The connection is back: a read marker held back while offline can go now. */
  reconnected(): void {
    this.scheduleRead();
  }

  close(): void {
    this.closed = true;
    for (const off of this.unsubscribe.splice(0)) off();
    for (const timer of this.typers.values()) clearTimeout(timer);
    clearTimeout(this.readTimer);
    void this.handle?.leave();
  }

  /** The next older page of history, keeping what the person is looking at in place. */
  private loadOlder(): Promise<void> {
    if (this.loadingOlder || !this.pages) return this.loadingOlder ?? Promise.resolve();
    const pages = this.pages;
    this.loadingOlder = (async () => {
      try {
        const { value, done } = await pages.next();
        if (done || value.nextCursor === null) {
          this.pages = undefined;
          this.olderButton.hidden = true;
          this.messages.element.dataset.complete = 'true';
        } else {
          this.olderButton.hidden = false;
        }
        if (value) {
          const heightBefore = this.scroller.scrollHeight;
          const topBefore = this.scroller.scrollTop;
          this.messages.add(value.messages);
          this.scroller.scrollTop = topBefore + (this.scroller.scrollHeight - heightBefore);
        }
      } catch (failure) {
        this.notice.textContent = `Could not load history: ${describeError(failure)}`;
      } finally {
        this.loadingOlder = undefined;
      }
    })();
    return this.loadingOlder;
  }

  private live(message: MessageDto): void {
    const atBottom = this.scroller.scrollHeight - this.scroller.scrollTop - this.scroller.clientHeight < 60;
    this.messages.add([message]);
    this.stopTyping(message.senderId);
    if (atBottom || message.senderId === this.messages.me) this.scrollToBottom();
    this.scheduleRead();
    this.events.changed();
  }

  private submit(event: Event): void {
    event.preventDefault();
    const contents = this.input.value.trim();
    if (!contents || !this.handle) return;
    this.input.value = '';
    // Queued by the SDK while offline and resent until acked; the ack brings the real message in.
    const pending = this.messages.addPending(contents);
    this.scrollToBottom();
    this.handle.send(contents).then(() => pending.remove(), (failure: unknown) => {
      pending.classList.add('failed');
      pending.querySelector('.meta')!.textContent = `not sent: ${describeError(failure)}`;
    });
  }

  private typed(): void {
    const now = Date.now();
    if (!this.handle || now - this.lastTypingSent < TYPING_EVERY_MS) return;
    this.lastTypingSent = now;
    this.handle.typing();
  }

  private someoneTyping(userId: string): void {
    if (userId === this.messages.me) return;
    clearTimeout(this.typers.get(userId));
    this.typers.set(userId, setTimeout(() => this.stopTyping(userId), TYPING_SHOWN_MS));
    this.renderTyping();
  }

  private stopTyping(userId: string): void {
    if (!this.typers.has(userId)) return;
    clearTimeout(this.typers.get(userId));
    this.typers.delete(userId);
    this.renderTyping();
  }

  private renderTyping(): void {
    const names = [...this.typers.keys()].map((id) => this.nickname(id));
    this.typingLine.textContent = names.length === 0 ? '' : `${names.join(', ')} ${names.length === 1 ? 'is' : 'are'} typing…`;
  }

  private renderMembers(): void {
    const present = this.handle?.present ?? new Set<string>();
    replaceChildren(this.members, ...this.memberIds.map((userId) => {
      const online = present.has(userId);
      return h('li', { class: online ? 'member online' : 'member', 'data-user-id': userId, 'data-online': String(online), title: online ? 'in the room' : 'away' },
        userId === this.messages.me ? `${this.nickname(userId)} (you)` : this.nickname(userId));
    }));
  }

  /** Tells the server (and the others) how far I have read, once the tab is visible. */
  private scheduleRead(): void {
    clearTimeout(this.readTimer);
    this.readTimer = setTimeout(() => {
      const newest = this.messages.newest;
      if (!newest || newest === this.lastMarked || document.visibilityState !== 'visible' || !this.handle) return;
      if (this.client.state !== 'connected') return;
      this.lastMarked = newest;
      this.handle.markRead(newest);
      this.events.changed();
    }, 300);
  }

  private nickname(userId: string): string {
    return this.nicknames.get(userId) ?? `user ${userId}`;
  }

  private scrollToBottom(): void {
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }
}
