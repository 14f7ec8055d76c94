// What the stores' contract suites share: a target that gives fresh places (a file, a database) to open
// stores on, and the hooks that set it up, tear it down and close every store a test opened.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before } from 'node:test';

export interface ContractPlace<S, O> {
  /** Opens a store on this place; a second open sees what the first stored (a hub restart). */
  open(options: O): Promise<S>;
}

export interface ContractTarget<S, O> {
  /** A fresh, empty place to open stores on. */
  fresh(): Promise<ContractPlace<S, O>>;
  teardown(): Promise<void>;
}

/**
 * Registers the suite's hooks (call inside `describe`) and returns `fresh`: a store on a fresh place,
 * and `reopen` to open another on the same place.
 */
export function useContractTarget<S extends { close(): unknown }, O>(
  setup: () => Promise<ContractTarget<S, O>>,
): (options: O) => Promise<{ store: S; reopen(): Promise<S> }> {
  let target: ContractTarget<S, O> | undefined;
  const opened: S[] = [];
  before(async () => {
    target = await setup();
  });
  after(async () => {
    await target?.teardown();
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });
  return async (options) => {
    if (target === undefined) throw new Error('the contract target is not set up');
    const place = await target.fresh();
    const openOne = async () => {
      const s = await place.open(options);
      opened.push(s);
      return s;
    };
    return { store: await openOne(), reopen: openOne };
  };
}

/** A target whose places are files in temp folders (one per place), for the SQLite stores. */
export function tempFileTarget<S, O>(fileName: string, open: (path: string, options: O) => S | Promise<S>): ContractTarget<S, O> {
  const dirs: string[] = [];
  return {
    async fresh() {
      const dir = mkdtempSync(join(tmpdir(), 'fieldmesh-contract-'));
      dirs.push(dir);
      const path = join(dir, fileName);
      return { open: async (options) => open(path, options) };
    },
    async teardown() {
      for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
    },
  };
}
