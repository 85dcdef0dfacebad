/**
 * The demo's saved runs, in IndexedDB (database "webode-demo", object store
 * "runs", one record per key): plain objects such as a trainer checkpoint,
 * stored by structured clone. Every call resolves to null / does nothing
 * when IndexedDB is unavailable (e.g. a private window that refuses it).
 */
const DB = 'webode-demo';
const STORE = 'runs';

function open(): Promise<IDBDatabase | null> {
  return new Promise((resolve) => {
    if (typeof indexedDB === 'undefined') return resolve(null);
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => resolve(null);
  });
}

async function run<T>(mode: IDBTransactionMode, body: (s: IDBObjectStore) => IDBRequest<T>): Promise<T | null> {
  const db = await open();
  if (!db) return null;
  try {
    return await new Promise<T | null>((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = body(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req.result ?? null);
      tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
    });
  } finally {
    db.close();
  }
}

/** Stores `value` under `key` (replacing what was there). */
export async function saveRun(key: string, value: unknown): Promise<void> {
  await run('readwrite', (s) => s.put(value, key));
}

/** The value stored under `key`, or null. */
export function loadRun<T>(key: string): Promise<T | null> {
  return run<T>('readonly', (s) => s.get(key) as IDBRequest<T>);
}

/** Removes what is stored under `key`. */
export async function clearRun(key: string): Promise<void> {
  await run('readwrite', (s) => s.delete(key));
}
