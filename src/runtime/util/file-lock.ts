/**
 * An exclusive lock shared by every process that opens the same lock file, released by the kernel
 * when its holder dies (no stale lock after a crash). Node has no flock(2); the lock is SQLite's
 * fcntl(2) lock on a tiny database (better-sqlite3, already a dependency), taken with BEGIN
 * EXCLUSIVE and dropped with COMMIT: about 15 µs when free. Within one process callers queue on a
 * Mutex first, so the file lock is only ever contended between processes (or threads).
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { failed, isNodeError } from './errors.js';
import { Mutex } from './mutex.js';

/** A holder that keeps the lock this long is taken for stuck: the waiter fails instead of hanging. */
const WAIT_LIMIT_MS = 60_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class FileLock {
  private readonly mutex = new Mutex();
  private db: BetterSqlite3.Database | undefined;

  constructor(
    readonly path: string,
    /** Create the directories up to the lock file; without, only its own (work in the background makes no root again). */
    private readonly opts: { parents?: boolean } = {},
  ) {}

  /** Runs `fn` while holding the lock. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    return this.mutex.run(async () => {
      const db = await this.acquire();
      try {
        return await fn();
      } finally {
        db.exec('COMMIT');
      }
    });
  }

  private async open(): Promise<BetterSqlite3.Database> {
    if (!this.db) {
      await mkdir(dirname(this.path), { recursive: this.opts.parents ?? false }).catch((e: unknown) => {
        if (!isNodeError(e, 'EEXIST')) throw e;
      });
      const { default: Database } = await import('better-sqlite3');
      // timeout 0: a busy lock answers SQLITE_BUSY at once, and the wait below does not block the event loop
      this.db ??= new Database(this.path, { timeout: 0 });
    }
    return this.db;
  }

  private async acquire(): Promise<BetterSqlite3.Database> {
    const db = await this.open();
    const deadline = Date.now() + WAIT_LIMIT_MS;
    for (let pause = 1; ; pause = Math.min(pause * 2, 50)) {
      try {
        db.exec('BEGIN EXCLUSIVE');
        return db;
      } catch (e) {
        if ((e as { code?: string }).code !== 'SQLITE_BUSY') throw e;
      }
      if (Date.now() > deadline) throw failed(`lock ${this.path}: held by another process for over ${WAIT_LIMIT_MS / 1000} s`);
      await sleep(pause + Math.random() * pause);
    }
  }

  /** Closes the lock file once no caller holds the lock (a later run() opens it again). */
  close(): Promise<void> {
    return this.mutex.run(async () => {
      this.db?.close();
      this.db = undefined;
    });
  }
}
