import type { ChatMessage } from './model.ts';

/** A message as clients see it: FlameTalk's fields, times as ISO 8601. */
export interface MessageDto {
  messageId: string;
  messageType: string;
  senderId: string;
  nickname: string;
  roomId: string;
  contents: string;
  fileUrl: string | null;
  createdAt: string;
  /** System messages (INVITE, ENTER, LEAVE): the users they are about, so clients can render their own text. */
  userIds?: string[];
}

export function messageDto(message: ChatMessage): MessageDto {
  return {
    messageId: message.messageId,
    messageType: message.messageType,
    senderId: message.senderId,
    nickname: message.nickname,
    roomId: message.roomId,
    contents: message.contents,
    fileUrl: message.fileUrl,
    createdAt: new Date(message.createdAt).toISOString(),
    ...(message.userIds ? { userIds: message.userIds } : {}),
  };
}

export const iso = (ms: number): string => new Date(ms).toISOString();
