/**
 * @module drivers/sql/sqlite-batch — group commit for the SQLite driver: transactions that wait
 * their turn on the connection run one after another inside one BEGIN … COMMIT (a batch), and
 * learn their outcome when that COMMIT returns.
 *
 * The transaction that takes the free lock opens a batch (BEGIN IMMEDIATE) and runs in a savepoint
 * of it (the driver's part). When it ends, the next waiter, if it brings a transaction, runs next in
 * the same batch; if nobody waits, the batch waits one turn of the event loop (setImmediate) for
 * transactions started meanwhile. (A lone write statement comes as a transaction of one statement.)
 * The batch commits when the next waiter is a lone statement that must run on its own (a read, a
 * PRAGMA: it never lands inside a batch, and runs after the COMMIT, in arrival order), when still nobody
 * waits, or once it ran `maxTransactions` or has been open `maxMs` (checked as each transaction
 * ends: one never is cut short). A transaction whose function resolved learns its outcome from the
 * COMMIT: its value, or the COMMIT's error (a deferred foreign key violated) as every transaction
 * of that batch does. A function that throws is rolled back to its savepoint and rejected at once;
 * the batch goes on. A statement that ends the whole batch inside SQLite (INSERT OR ROLLBACK,
 * RAISE(ROLLBACK), a disk error) undoes the batch's earlier transactions too, and their callers are
 * told nothing was committed; which is why the driver refuses BEGIN, COMMIT, END and ROLLBACK inside
 * a transaction (a script of several statements given to `execute` is not inspected).
 */

/** What a caller waiting for the connection brings: a transaction may join an open batch, a statement may not. */
export const TURN = { TRANSACTION: "transaction", STATEMENT: "statement" } as const;
export type Turn = (typeof TURN)[keyof typeof TURN];

/** A FIFO lock whose `release` hands the lock straight to the next waiter, so nobody jumps the queue. */
export class WaitQueue {
  #held = false;
  readonly #waiters: { turn: Turn; grant: () => void }[] = [];

  get held(): boolean {
    return this.#held;
  }

  /** What the first waiter brings, or undefined when nobody waits. */
  get next(): Turn | undefined {
    return this.#waiters[0]?.turn;
  }

  acquire(turn: Turn): Promise<void> {
    if (!this.#held) {
      this.#held = true;
      return Promise.resolve();
    }
    return new Promise((grant) => this.#waiters.push({ turn, grant }));
  }

  release(): void {
    const next = this.#waiters.shift();
    if (next) next.grant();
    else this.#held = false;
  }
}

/** When a batch stops taking transactions and commits. */
export interface BatchLimits {
  maxTransactions: number;
  maxMs: number;
}

/**
 * One BEGIN … COMMIT that transactions run in one after another, each in its own savepoint.
 * `committed` settles once, when the batch commits or is lost; a transaction whose function
 * resolved waits for it before its caller sees the result.
 */
export class CommitBatch {
  readonly committed: Promise<void>;
  /** Transactions that ran in the batch so far, failed ones included. */
  transactions = 0;
  readonly #startedAt = performance.now();
  #resolve!: () => void;
  #reject!: (error: unknown) => void;

  constructor() {
    this.committed = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // A batch whose every transaction failed has nobody waiting: its loss must not surface as unhandled.
    this.committed.catch(() => undefined);
  }

  isFull(limits: BatchLimits): boolean {
    return this.transactions >= limits.maxTransactions || performance.now() - this.#startedAt >= limits.maxMs;
  }

  succeed(): void {
    this.#resolve();
  }

  fail(error: unknown): void {
    this.#reject(error);
  }
}

/** What group commit asks of the connection. */
export interface BatchConnection {
  /** BEGIN IMMEDIATE; throws when it cannot. */
  begin(): void;
  /** COMMIT; throws when it fails, possibly leaving the transaction open. */
  commit(): void;
  /** ROLLBACK after a failed COMMIT; reports its own failure rather than throwing it. */
  rollback(reason: unknown): void;
  /** False once SQLite ended the batch on its own (or the connection closed). */
  inTransaction(): boolean;
  /** For the finished transactions of a batch SQLite ended before its COMMIT. */
  lostError(): unknown;
  /** A batch committed (its callers are being told); must not throw. */
  committed(): void;
}

/**
 * Owns the connection's FIFO lock and the batch holding it. A transaction `enter`s (waiting its
 * turn, opening a batch when none is open) and `leave`s; lone statements and `close()` take the
 * lock directly, and finding one of them next in line is what ends a batch early.
 */
export class GroupCommit {
  readonly lock = new WaitQueue();
  readonly #limits: BatchLimits;
  readonly #connection: BatchConnection;
  #batch: CommitBatch | undefined;
  #commitCount = 0;

  constructor(limits: BatchLimits, connection: BatchConnection) {
    this.#limits = limits;
    this.#connection = connection;
  }

  get commitCount(): number {
    return this.#commitCount;
  }

  /** Waits for the lock, then returns the batch to run in: the open one, or one begun now. */
  async enter(): Promise<CommitBatch> {
    await this.lock.acquire(TURN.TRANSACTION);
    if (this.#batch) return this.#batch;
    try {
      this.#connection.begin();
    } catch (error) {
      this.lock.release();
      throw error;
    }
    return (this.#batch = new CommitBatch());
  }

  /** A transaction of `batch` ended, well or not: hand the lock to the next transaction, wait a turn for one, or commit. */
  leave(batch: CommitBatch): void {
    batch.transactions++;
    if (batch !== this.#batch) return this.lock.release();
    if (!this.#connection.inTransaction()) return this.#end(batch, this.#connection.lostError());
    const next = this.lock.next;
    const full = batch.isFull(this.#limits);
    if (next === TURN.TRANSACTION && !full) return this.lock.release();
    if (next !== undefined || full) return this.#commit(batch);
    // Nobody waits: transactions started during this turn of the event loop still get to join.
    setImmediate(() => this.#afterWaitingTurn(batch));
  }

  /** `close()` stopped waiting and closes the connection: the open batch will never commit. */
  abandon(error: unknown): void {
    this.#batch?.fail(error);
    this.#batch = undefined;
  }

  #afterWaitingTurn(batch: CommitBatch): void {
    if (batch !== this.#batch) return this.lock.release();
    if (this.lock.next === TURN.TRANSACTION && !batch.isFull(this.#limits)) this.lock.release();
    else this.#commit(batch);
  }

  #commit(batch: CommitBatch): void {
    try {
      this.#connection.commit();
    } catch (error) {
      this.#connection.rollback(error);
      return this.#end(batch, error);
    }
    this.#commitCount++;
    this.#batch = undefined;
    batch.succeed();
    this.lock.release();
    this.#connection.committed();
  }

  #end(batch: CommitBatch, error: unknown): void {
    this.#batch = undefined;
    batch.fail(error);
    this.lock.release();
  }
}
