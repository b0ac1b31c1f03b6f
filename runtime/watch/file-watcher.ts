/**
 * @module watch/file-watcher — watches the directories of a set of files and reports the changed
 * files once they have been quiet for a moment.
 *
 * Directories, not files, are watched because editors save by writing a new file and renaming it
 * over the old one: a watch on the old file (an inode on Linux) would see the rename and then
 * nothing more. The set only grows: a file that a broken edit dropped from the registry is still
 * watched, so fixing it reloads.
 *
 * A change is delivered once: the watcher keeps a digest of what each file held when it was last
 * delivered or read (`noteRead`), and drops a file whose content still matches. Events arrive late
 * and in bursts (an editor's write, truncate and rename; a busy machine): without this, a reload
 * that already read a file would be followed by another one for the same content.
 */
import { createHash } from "node:crypto";
import { readFileSync, watch, type FSWatcher } from "node:fs";
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
  /** Digest of each file as last delivered or read; a file not in it is always delivered. */
  private readonly readDigests = new Map<string, string>();
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

  /**
   * A reload is about to read the watched files and `files`: what they hold now is what will run,
   * so an event still on its way for one of them is not a change unless the content differs.
   */
  noteRead(files: Iterable<string> = []): void {
    for (const file of new Set([...this.knownFiles, ...this.readDigests.keys(), ...files])) this.readDigests.set(file, digest(file));
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
    this.timer = setTimeout(() => this.deliver(), this.options.debounceMs);
  }

  private deliver(): void {
    const files: string[] = [];
    for (const file of [...this.pending].sort()) {
      const current = digest(file);
      if (this.readDigests.get(file) === current) continue;
      this.readDigests.set(file, current);
      files.push(file);
    }
    this.pending.clear();
    if (files.length) this.options.onChange(files);
  }

  private drop(directory: string, error: Error): void {
    this.watchers.get(directory)?.close();
    this.watchers.delete(directory);
    this.options.onError(directory, error);
  }
}

/** What `file` holds, as a short digest; a file that cannot be read (deleted, a directory) gets its error code. */
function digest(file: string): string {
  try {
    return createHash("sha1").update(readFileSync(file)).digest("base64");
  } catch (error) {
    return `unreadable: ${(error as NodeJS.ErrnoException).code ?? String(error)}`;
  }
}
