import { closeSync, fsyncSync, mkdirSync, openSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import type { Engine, StartKey, StoredEvent, StoredRow } from './engine.js';
import { EngineStore } from './engine-store.js';
import { StoreError, type ObjectKey, type WatchEventType } from './types.js';
import type { WatchHubOptions } from './watch-hub.js';

const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS objects (
  resource  TEXT NOT NULL,
  namespace TEXT NOT NULL,
  name      TEXT NOT NULL,
  revision  INTEGER NOT NULL,
  value     TEXT NOT NULL,
  PRIMARY KEY (resource, namespace, name)
);
CREATE TABLE IF NOT EXISTS history (
  revision  INTEGER PRIMARY KEY,
  resource  TEXT NOT NULL,
  namespace TEXT NOT NULL,
  name      TEXT NOT NULL,
  type      TEXT NOT NULL,
  value     TEXT NOT NULL,
  prev      TEXT
);
CREATE INDEX IF NOT EXISTS history_by_resource ON history (resource, revision);
CREATE TABLE IF NOT EXISTS meta (
  key   TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
INSERT OR IGNORE INTO meta (key, value) VALUES ('revision', 0), ('compacted', 0);
`;

interface HistoryRow {
  revision: number;
  namespace: string;
  name: string;
  type: WatchEventType;
  value: string;
  prev: string | null;
}

function prepareAll(db: Database.Database) {
  const p = (sql: string) => db.prepare(sql);
  return {
    read: p('SELECT namespace, name, revision, value FROM objects WHERE resource = ? AND namespace = ? AND name = ?'),
    getMeta: p('SELECT value FROM meta WHERE key = ?').pluck(),
    setMeta: p('UPDATE meta SET value = ? WHERE key = ?'),
    put: p(
      `INSERT INTO objects (resource, namespace, name, revision, value) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (resource, namespace, name) DO UPDATE SET revision = excluded.revision, value = excluded.value`,
    ),
    remove: p('DELETE FROM objects WHERE resource = ? AND namespace = ? AND name = ?'),
    appendHistory: p(
      'INSERT INTO history (revision, resource, namespace, name, type, value, prev) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    scanAll: p('SELECT namespace, name, revision, value FROM objects WHERE resource = ? ORDER BY namespace, name'),
    scanAllAfter: p(
      `SELECT namespace, name, revision, value FROM objects
       WHERE resource = ? AND (namespace, name) > (?, ?) ORDER BY namespace, name`,
    ),
    scanNs: p('SELECT namespace, name, revision, value FROM objects WHERE resource = ? AND namespace = ? ORDER BY name'),
    scanNsAfter: p(
      `SELECT namespace, name, revision, value FROM objects
       WHERE resource = ? AND namespace = ? AND name > ? ORDER BY name`,
    ),
    countAll: p('SELECT COUNT(*) FROM objects WHERE resource = ?').pluck(),
    countAllAfter: p('SELECT COUNT(*) FROM objects WHERE resource = ? AND (namespace, name) > (?, ?)').pluck(),
    countNs: p('SELECT COUNT(*) FROM objects WHERE resource = ? AND namespace = ?').pluck(),
    countNsAfter: p('SELECT COUNT(*) FROM objects WHERE resource = ? AND namespace = ? AND name > ?').pluck(),
    history: p(
      `SELECT revision, namespace, name, type, value, prev FROM history
       WHERE resource = ? AND revision > ? ORDER BY revision`,
    ),
    historyNs: p(
      `SELECT revision, namespace, name, type, value, prev FROM history
       WHERE resource = ? AND revision > ? AND namespace = ? ORDER BY revision`,
    ),
    compact: p('DELETE FROM history WHERE revision <= ?'),
    countsAll: p('SELECT resource, COUNT(*) AS n FROM objects GROUP BY resource'),
  };
}

/**
 * SQLite through better-sqlite3: WAL with synchronous=FULL, so a write is on disk (fsynced WAL)
 * before the call that made it returns. One process owns a database file: live watch events
 * are fanned out in-process, so writes by another process would not reach this one's watchers.
 */
export class SqliteEngine implements Engine {
  private readonly db: Database.Database;
  private readonly stmts: ReturnType<typeof prepareAll>;
  private readonly runInTransaction: Database.Transaction<(fn: () => unknown) => unknown>;

  constructor(path: string) {
    const inMemory = path === ':memory:';
    const file = inMemory ? path : resolve(path);
    try {
      if (!inMemory) mkdirSync(dirname(file), { recursive: true });
      this.db = new Database(file);
    } catch (err) {
      throw new StoreError(`cannot open SQLite database ${file}: ${(err as Error).message}`);
    }
    try {
      if (!inMemory) {
        const mode = this.db.pragma('journal_mode = WAL', { simple: true });
        if (mode !== 'wal') throw new StoreError(`SQLite database ${file} could not switch to WAL (journal_mode=${String(mode)})`);
      }
      this.db.pragma('synchronous = FULL');
      this.db.pragma('busy_timeout = 5000');
      this.db.exec(SCHEMA);
      const schema = this.db.prepare("SELECT value FROM meta WHERE key = 'schema'").pluck().get() as number | undefined;
      if (schema === undefined) {
        this.db.prepare("INSERT INTO meta (key, value) VALUES ('schema', ?)").run(SCHEMA_VERSION);
      } else if (schema !== SCHEMA_VERSION) {
        throw new StoreError(`SQLite database ${file} has schema version ${schema}; this build reads ${SCHEMA_VERSION}`);
      }
      this.stmts = prepareAll(this.db);
      this.runInTransaction = this.db.transaction((fn: () => unknown) => fn());
    } catch (err) {
      this.db.close();
      throw err instanceof StoreError ? err : new StoreError(`cannot initialise SQLite database ${file}: ${(err as Error).message}`);
    }
    // A freshly created database file (and its WAL) must survive a power cut, not only a process crash.
    if (!inMemory) syncDir(dirname(file));
  }

  transaction<T>(fn: () => T): T {
    // IMMEDIATE takes the write lock up front, so the revision read inside cannot go stale.
    return this.runInTransaction.immediate(fn) as T;
  }

  read(key: ObjectKey): StoredRow | undefined {
    return this.stmts.read.get(key.resource, key.namespace, key.name) as StoredRow | undefined;
  }

  revision(): number {
    return this.stmts.getMeta.get('revision') as number;
  }

  setRevision(revision: number): void {
    this.stmts.setMeta.run(revision, 'revision');
  }

  put(key: ObjectKey, revision: number, value: string): undefined {
    this.stmts.put.run(key.resource, key.namespace, key.name, revision, value);
    return undefined;
  }

  remove(key: ObjectKey): void {
    this.stmts.remove.run(key.resource, key.namespace, key.name);
  }

  appendHistory(ev: StoredEvent): void {
    this.stmts.appendHistory.run(ev.revision, ev.resource, ev.namespace, ev.name, ev.type, ev.value, ev.prev ?? null);
  }

  scan(resource: string, namespace: string | undefined, after: StartKey | undefined): Iterable<StoredRow> {
    const s = this.stmts;
    if (namespace !== undefined) {
      if (!after) return s.scanNs.iterate(resource, namespace) as Iterable<StoredRow>;
      // A start key from another namespace than the one listed: resume from its place in the order.
      if (after.namespace < namespace) return s.scanNs.iterate(resource, namespace) as Iterable<StoredRow>;
      if (after.namespace > namespace) return [];
      return s.scanNsAfter.iterate(resource, namespace, after.name) as Iterable<StoredRow>;
    }
    if (!after) return s.scanAll.iterate(resource) as Iterable<StoredRow>;
    return s.scanAllAfter.iterate(resource, after.namespace, after.name) as Iterable<StoredRow>;
  }

  countAfter(resource: string, namespace: string | undefined, after: StartKey | undefined): number {
    const s = this.stmts;
    if (namespace !== undefined) {
      if (!after || after.namespace < namespace) return s.countNs.get(resource, namespace) as number;
      if (after.namespace > namespace) return 0;
      return s.countNsAfter.get(resource, namespace, after.name) as number;
    }
    if (!after) return s.countAll.get(resource) as number;
    return s.countAllAfter.get(resource, after.namespace, after.name) as number;
  }

  history(resource: string, afterRevision: number, namespace: string | undefined): StoredEvent[] {
    const rows = (
      namespace === undefined
        ? this.stmts.history.all(resource, afterRevision)
        : this.stmts.historyNs.all(resource, afterRevision, namespace)
    ) as HistoryRow[];
    return rows.map((r) => {
      const ev: StoredEvent = { revision: r.revision, type: r.type, resource, namespace: r.namespace, name: r.name, value: r.value };
      if (r.prev !== null) ev.prev = r.prev;
      return ev;
    });
  }

  compactedRevision(): number {
    return this.stmts.getMeta.get('compacted') as number;
  }

  compact(revision: number): void {
    this.stmts.compact.run(revision);
    this.stmts.setMeta.run(revision, 'compacted');
  }

  counts(resource?: string): Record<string, number> {
    if (resource !== undefined) return { [resource]: this.stmts.countAll.get(resource) as number };
    const out: Record<string, number> = {};
    for (const row of this.stmts.countsAll.all() as { resource: string; n: number }[]) out[row.resource] = row.n;
    return out;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some filesystems refuse fsync on directories; the data itself is still fsynced by SQLite.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The embedded, crash-safe Store: every acknowledged write survives kill -9 and power loss. */
export class SqliteStore extends EngineStore {
  constructor(path: string, hubOptions: WatchHubOptions = {}) {
    super(new SqliteEngine(path), hubOptions);
  }

  static async open(path: string, hubOptions: WatchHubOptions = {}): Promise<SqliteStore> {
    return new SqliteStore(path, hubOptions);
  }
}
