/**
 * Host snapshots for rollback tests (see `lab/snapshot.ts`).
 * @module
 */
export * from "../lab/snapshot.ts";
