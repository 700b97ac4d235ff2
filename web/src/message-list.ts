import type { MessageDto } from '../../src/client/index.ts';
import { compareIds } from '../../src/client/ids.ts';
import { formatTime, h, isSystem } from './dom.ts';

/**
 * The messages of the open room in id order, one element per message id: history pages, live
 * messages and recovered ones can overlap, and whichever arrives first is kept.
 */
export class MessageList {
  readonly element = h('ol', { id: 'messages' });
  private readonly items = new Map<string, HTMLElement>();
  /** Ids in ascending order, parallel to the elements in the list. */
  private readonly order: string[] = [];
  /** Who has read up to which message (read markers seen live). */
  private readonly readBy = new Map<string, { nickname: string; messageId: string }>();

  /** `me`: the id that names me in this room (my user id, or in an open room my id there). */
  constructor(public me: string) {}

  get newest(): string | undefined {
    return this.order.at(-1);
  }

  get size(): number {
    return this.order.length;
  }

  has(messageId: string): boolean {
    return this.items.has(messageId);
  }

  /** Inserts each message not shown yet at its place in id order; returns how many were new. */
  add(messages: readonly MessageDto[]): number {
    let added = 0;
    for (const message of messages) {
      if (this.items.has(message.messageId)) continue;
      const element = this.render(message);
      const at = this.insertionIndex(message.messageId);
      const next = this.order[at];
      this.element.insertBefore(element, next === undefined ? this.pendingStart() : this.items.get(next)!);
      this.order.splice(at, 0, message.messageId);
      this.items.set(message.messageId, element);
      added++;
    }
    return added;
  }

  /** A message of mine on its way: shown at the bottom until its ack puts the real one in place. */
  addPending(contents: string): HTMLElement {
    const element = h('li', { class: 'message mine pending' },
      h('span', { class: 'contents' }, contents), h('span', { class: 'meta' }, 'sending…'));
    this.element.appendChild(element);
    return element;
  }

  /** Shows "read by" under the newest message each other member has read. */
  markRead(userId: string, nickname: string, messageId: string): void {
    if (userId === this.me) return;
    const previous = this.readBy.get(userId);
    if (previous && compareIds(previous.messageId, messageId) >= 0) return;
    this.readBy.set(userId, { nickname, messageId });
    for (const id of new Set([previous?.messageId, messageId])) if (id) this.renderReaders(id);
  }

  private renderReaders(messageId: string): void {
    const element = this.items.get(messageId);
    if (!element) return;
    const names = [...this.readBy.values()].filter((r) => r.messageId === messageId).map((r) => r.nickname);
    let marker = element.querySelector('.read-by');
    if (names.length === 0) return void marker?.remove();
    if (!marker) marker = element.appendChild(h('span', { class: 'read-by' }));
    marker.textContent = `Read by ${names.join(', ')}`;
  }

  private render(message: MessageDto): HTMLElement {
    const mine = message.senderId === this.me;
    const system = isSystem(message.messageType);
    const classes = ['message', mine ? 'mine' : 'theirs', system ? 'system' : ''].filter(Boolean).join(' ');
    return h('li', { class: classes, 'data-message-id': message.messageId, 'data-sender-id': message.senderId },
      system || mine ? null : h('span', { class: 'nickname' }, message.nickname),
      h('span', { class: 'contents' }, message.contents),
      message.fileUrl ? h('a', { class: 'file', href: message.fileUrl, target: '_blank', rel: 'noopener noreferrer' }, 'file') : null,
      h('time', { class: 'meta', datetime: message.createdAt }, formatTime(message.createdAt)));
  }

  /** Pending sends stay below every delivered message. */
  private pendingStart(): Node | null {
    return this.element.querySelector('.pending');
  }

  private insertionIndex(messageId: string): number {
    let low = 0;
    let high = this.order.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (compareIds(this.order[middle]!, messageId) < 0) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}
