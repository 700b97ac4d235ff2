import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateBucketCommand, CreateMultipartUploadCommand, DeleteObjectCommand,
  GetObjectCommand, HeadBucketCommand, HeadObjectCommand, PutObjectCommand, S3Client, UploadPartCommand, type CompletedPart,
} from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import { assertKey, type ByteRange, type FileStore, type StoredObject } from '../ports/files.ts';

export interface S3FileStoreOptions {
  bucket: string;
  region: string;
  /** An S3-compatible server (S3Mock, MinIO); unset: AWS. Path-style addressing is used with it. */
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Create the bucket when it does not exist (default true). */
  createBucket?: boolean;
}

/** S3's smallest part of a multipart upload (except the last one). */
const PART_BYTES = 5 * 1024 * 1024;

const isMissing = (error: unknown): boolean => {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
};

/**
 * Cluster mode's FileStore: one object per key in a bucket, so every node serves every file.
 * Uploads stream through in 5 MiB parts (a multipart upload once a file passes one part, a single
 * PUT below that), so memory per upload stays bounded; a failed upload is aborted, and S3 never
 * shows an object until it is complete.
 */
export class S3FileStore implements FileStore {
  private constructor(private readonly client: S3Client, private readonly bucket: string) {}

  static async connect(options: S3FileStoreOptions): Promise<S3FileStore> {
    const client = new S3Client({
      region: options.region,
      ...(options.endpoint ? { endpoint: options.endpoint, forcePathStyle: true } : {}),
      ...(options.credentials ? { credentials: options.credentials } : {}),
    });
    const store = new S3FileStore(client, options.bucket);
    try {
      await client.send(new HeadBucketCommand({ Bucket: options.bucket }));
    } catch (error) {
      if (!isMissing(error) || options.createBucket === false) {
        client.destroy();
        throw new Error(`cannot reach S3 bucket ${options.bucket}${options.endpoint ? ` at ${options.endpoint}` : ''}: ${(error as Error).message || (error as Error).name}`, { cause: error });
      }
      await client.send(new CreateBucketCommand({ Bucket: options.bucket })).catch((creating: unknown) => {
        // Another node starting at the same moment created it first.
        if ((creating as Error).name !== 'BucketAlreadyOwnedByYou') throw creating;
      });
    }
    return store;
  }

  async put(key: string, body: Readable, contentType: string): Promise<number> {
    assertKey(key);
    let uploadId: string | undefined;
    const parts: CompletedPart[] = [];
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let total = 0;
    const sendPart = async (): Promise<void> => {
      uploadId ??= (await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key, ContentType: contentType }))).UploadId!;
      const PartNumber = parts.length + 1;
      const { ETag } = await this.client.send(new UploadPartCommand({
        Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumber, Body: Buffer.concat(pending), ContentLength: pendingBytes,
      }));
      parts.push({ ETag, PartNumber });
      pending = [];
      pendingBytes = 0;
    };
    try {
      for await (const chunk of body) {
        const buffer = chunk as Buffer;
        pending.push(buffer);
        pendingBytes += buffer.length;
        total += buffer.length;
        if (pendingBytes >= PART_BYTES) await sendPart();
      }
      if (uploadId === undefined) {
        await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: Buffer.concat(pending), ContentLength: pendingBytes, ContentType: contentType }));
      } else {
        if (pendingBytes > 0) await sendPart();
        await this.client.send(new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } }));
      }
      return total;
    } catch (error) {
      body.destroy();
      if (uploadId !== undefined) {
        await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId })).catch(() => undefined);
      }
      throw error;
    }
  }

  async get(key: string, range?: ByteRange): Promise<StoredObject | undefined> {
    assertKey(key);
    try {
      const result = await this.client.send(new GetObjectCommand({
        Bucket: this.bucket, Key: key, ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}),
      }));
      const size = range
        ? Number(/\/(\d+)$/.exec(result.ContentRange ?? '')?.[1] ?? (await this.size(key)) ?? 0)
        : Number(result.ContentLength ?? 0);
      return { body: result.Body as Readable, size };
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async size(key: string): Promise<number | undefined> {
    assertKey(key);
    try {
      return Number((await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }))).ContentLength ?? 0);
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    assertKey(key);
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  async ping(): Promise<void> {
    await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}
