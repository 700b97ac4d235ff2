/** The people domain (FlameTalk's membership and file services) as every layer sees it. Times are epoch milliseconds. */
import type { RoomId, UserId } from '../chat/model.ts';

export type ProfileId = string;
export type OpenProfileId = string;
export type FeedId = string;
export type FileId = string;

export interface Sticker {
  stickerId: string;
  x: number;
  y: number;
}

/** One of a user's faces: every user has exactly one default profile (created at sign-up) and any number of others. */
export interface Profile {
  profileId: ProfileId;
  userId: UserId;
  isDefault: boolean;
  nickname: string;
  /** At most 60 characters. */
  description: string;
  imageUrl: string | null;
  backgroundUrl: string | null;
  stickers: Sticker[];
  createdAt: number;
}

/** `userId`'s view of `friendId`: one direction of a friendship. */
export interface Friend {
  userId: UserId;
  friendId: UserId;
  marked: boolean;
  hidden: boolean;
  blocked: boolean;
  /** Which of `userId`'s profiles `friendId` sees; null means the default profile. */
  assignedProfileId: ProfileId | null;
  createdAt: number;
}

/** A past image of a profile; a locked item is visible to its owner only. */
export interface FeedItem {
  feedId: FeedId;
  profileId: ProfileId;
  userId: UserId;
  imageUrl: string;
  locked: boolean;
  createdAt: number;
}

/** An anonymous identity for open rooms: nickname and image only, never tied to the user's name, phone or email. */
export interface OpenProfile {
  openProfileId: OpenProfileId;
  userId: UserId;
  /** At most 20 characters. */
  nickname: string;
  description: string;
  imageUrl: string | null;
  createdAt: number;
}

/** An open room as the directory lists it: its link code and the title it is found by. */
export interface OpenRoom {
  roomId: RoomId;
  code: string;
  title: string;
  createdAt: number;
}

/** Which open profile a member shows in an open room. */
export interface RoomAlias {
  roomId: RoomId;
  userId: UserId;
  openProfileId: OpenProfileId;
}

/** An uploaded file's metadata; the bytes live in the file store under `fileId`. */
export interface StoredFile {
  fileId: FileId;
  uploaderId: UserId;
  roomId: RoomId | null;
  title: string;
  extension: string;
  size: number;
  contentType: string;
  createdAt: number;
}
