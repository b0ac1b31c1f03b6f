/**
 * @module watch/file-watcher — watches the directories of a set of files and reports the changed
 * files once they have been quiet for a moment.
 *
 * Directories, not files, are watched because editors save by writing a new file and renaming it
 * over the old one: a watch on the old file (an inode on Linux) would see the rename and then
 * nothing more. The set only grows: a file that a broken edit dropped from the registry is still
 * watched, so fixing it reloads.
 */
import { watch, type FSWatcher } from "node:fs";
import path from "node:path";
import { isReloadingChange } from "./watched-files.ts";

export interface FileWatcherOptions {
  /** Called with the changed files (absolute, sorted) after `debounceMs` without further changes. */
  onChange: (files: string[]) => void;
  debounceMs: number;
  /** A directory that cannot be watched (gone, or no permission): it is dropped and told here. */
  onError: (directory: string, error: Error) => void;
}

export class FileWatcher {
  private readonly knownFiles = new Set<string>();
  private readonly watchers = new Map<string, FSWatcher>();
  private readonly pending = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: FileWatcherOptions) {}

  /** Adds files (and watches their directories); files already known are skipped. */
  add(files: Iterable<string>): void {
    if (this.closed) return;
    for (const file of files) {
      this.knownFiles.add(file);
      const directory = path.dirname(file);
      if (this.watchers.has(directory)) continue;
      try {
        const watcher = watch(directory, { persistent: true }, (_event, name) => {
          if (name) this.changed(path.join(directory, name.toString()));
        });
        watcher.on("error", (error) => this.drop(directory, error));
        this.watchers.set(directory, watcher);
      } catch (error) {
        this.options.onError(directory, error instanceof Error ? error : new Error(String(error)));
      }
    }
  }

  /** How many files and directories are watched, for the start-up line. */
  counts(): { files: number; directories: number } {
    return { files: this.knownFiles.size, directories: this.watchers.size };
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    for (const watcher of this.watchers.values()) watcher.close();
    this.watchers.clear();
    this.pending.clear();
  }

  private changed(file: string): void {
    if (this.closed || !isReloadingChange(file, this.knownFiles)) return;
    this.pending.add(file);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      const files = [...this.pending].sort();
      this.pending.clear();
      this.options.onChange(files);
    }, this.options.debounceMs);
  }

  private drop(directory: string, error: Error): void {
    this.watchers.get(directory)?.close();
    this.watchers.delete(directory);
    this.options.onError(directory, error);
  }
}
