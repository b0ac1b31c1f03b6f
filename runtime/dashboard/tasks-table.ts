/**
 * @module dashboard/tasks-table — the application's own table of tasks, read for the dashboard:
 * counts by status, pages newest first (optionally of one status), and one row in full. Only reads;
 * identifiers come from the validated entry (a schema pattern) and are quoted all the same.
 */
import type { SqlDatabase, SqlRow } from "../drivers/sql/driver.ts";

export interface TasksTableOptions {
  table: string;
  id: string;
  status: string;
  orderBy: string;
  /** Shown in the list besides id and status. */
  listColumns: readonly string[];
}

function quote(identifier: string): string {
  return `"${identifier.replaceAll('"', '""')}"`;
}

export class TasksTable {
  readonly options: TasksTableOptions;
  readonly #database: () => Promise<SqlDatabase>;
  readonly #table: string;
  readonly #listSelect: string;

  constructor(database: () => Promise<SqlDatabase>, options: TasksTableOptions) {
    this.options = options;
    this.#database = database;
    this.#table = quote(options.table);
    const columns = [...new Set([options.id, options.status, ...options.listColumns])];
    this.#listSelect = columns.map(quote).join(", ");
  }

  /** `{status: count}`, statuses in alphabetical order. */
  async counts(): Promise<Record<string, number>> {
    const db = await this.#database();
    const status = quote(this.options.status);
    const rows = await db.query(`SELECT ${status} AS status, COUNT(*) AS count FROM ${this.#table} GROUP BY ${status} ORDER BY ${status}`);
    const counts: Record<string, number> = {};
    for (const row of rows) counts[String(row.status)] = Number(row.count);
    return counts;
  }

  /** One page, newest first; the caller knows the total from `counts()`. */
  async page(filter: { status?: string; limit: number; offset: number }): Promise<SqlRow[]> {
    const db = await this.#database();
    const where = filter.status === undefined ? "" : ` WHERE ${quote(this.options.status)} = ?`;
    const params = filter.status === undefined ? [] : [filter.status];
    return db.query(`SELECT ${this.#listSelect} FROM ${this.#table}${where} ORDER BY ${quote(this.options.orderBy)} DESC LIMIT ? OFFSET ?`, [
      ...params,
      filter.limit,
      filter.offset,
    ]);
  }

  /** Every column of the task, or undefined. */
  async get(id: string): Promise<SqlRow | undefined> {
    const db = await this.#database();
    const [row] = await db.query(`SELECT * FROM ${this.#table} WHERE ${quote(this.options.id)} = ?`, [id]);
    return row;
  }
}
