/**
 * @module drivers/sql/postgres-placeholders — rewrites the `?` placeholders handlers write into
 * PostgreSQL's `$1, $2, …`, leaving string literals, quoted identifiers, comments and dollar-quoted
 * bodies untouched, so one statement text runs on SQLite and PostgreSQL alike.
 *
 * `??` stands for a literal `?` (PostgreSQL's jsonb operators `?`, `?|`, `?&`), as in JDBC.
 * A statement already numbered `$1…` passes through; one that mixes both styles is refused,
 * since the numbering could not mean what its author intended.
 */

export interface TranslatedStatement {
  /** The text to send to PostgreSQL. */
  text: string;
  /** How many `?` were rewritten. */
  placeholders: number;
  /** The text already used `$n` parameters. */
  positional: boolean;
}

const QUOTE = 39; // '
const DOUBLE_QUOTE = 34; // "
const DOLLAR = 36; // $
const QUESTION = 63; // ?
const DASH = 45; // -
const SLASH = 47; // /
const STAR = 42; // *
const BACKSLASH = 92; // \
const DOLLAR_TAG = /\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/y;

/** Rewrites `?` to `$n` outside literals, identifiers and comments. Pure; the driver caches results. */
export function translatePlaceholders(sql: string): TranslatedStatement {
  let text = "";
  let copiedUpTo = 0;
  let placeholders = 0;
  let positional = false;
  const length = sql.length;
  let index = 0;
  while (index < length) {
    const code = sql.charCodeAt(index);
    switch (code) {
      case QUOTE:
        index = endOfString(sql, index, isEscapeString(sql, index));
        continue;
      case DOUBLE_QUOTE:
        index = endOfQuoted(sql, index + 1, DOUBLE_QUOTE);
        continue;
      case DASH:
        if (sql.charCodeAt(index + 1) === DASH) {
          const end = sql.indexOf("\n", index + 2);
          index = end === -1 ? length : end + 1;
          continue;
        }
        break;
      case SLASH:
        if (sql.charCodeAt(index + 1) === STAR) {
          index = endOfBlockComment(sql, index + 2);
          continue;
        }
        break;
      case DOLLAR: {
        if (index > 0 && isIdentifierPart(sql.charCodeAt(index - 1))) break;
        const next = sql.charCodeAt(index + 1);
        if (next >= 48 && next <= 57) {
          positional = true;
          break;
        }
        DOLLAR_TAG.lastIndex = index;
        const tag = DOLLAR_TAG.exec(sql);
        if (tag) {
          const end = sql.indexOf(tag[0], index + tag[0].length);
          index = end === -1 ? length : end + tag[0].length;
          continue;
        }
        break;
      }
      case QUESTION:
        if (sql.charCodeAt(index + 1) === QUESTION) {
          text += sql.slice(copiedUpTo, index + 1);
          index += 2;
          copiedUpTo = index;
          continue;
        }
        text += `${sql.slice(copiedUpTo, index)}$${++placeholders}`;
        copiedUpTo = index + 1;
        break;
      default:
        break;
    }
    index++;
  }
  if (copiedUpTo === 0) return { text: sql, placeholders, positional };
  return { text: text + sql.slice(copiedUpTo), placeholders, positional };
}

/** `E'…'` (and `e'…'`) strings take backslash escapes; plain ones only double their quotes. */
function isEscapeString(sql: string, quoteIndex: number): boolean {
  const before = sql.charCodeAt(quoteIndex - 1);
  if (before !== 69 && before !== 101) return false;
  return quoteIndex < 2 || !isIdentifierPart(sql.charCodeAt(quoteIndex - 2));
}

function endOfString(sql: string, quoteIndex: number, backslashEscapes: boolean): number {
  let index = quoteIndex + 1;
  while (index < sql.length) {
    const code = sql.charCodeAt(index);
    if (backslashEscapes && code === BACKSLASH) {
      index += 2;
      continue;
    }
    if (code === QUOTE) {
      // '' inside a literal is an escaped quote: the literal goes on.
      if (sql.charCodeAt(index + 1) === QUOTE) {
        index += 2;
        continue;
      }
      return index + 1;
    }
    index++;
  }
  return sql.length;
}

function endOfQuoted(sql: string, from: number, quote: number): number {
  let index = from;
  while (index < sql.length) {
    if (sql.charCodeAt(index) === quote) {
      if (sql.charCodeAt(index + 1) === quote) {
        index += 2;
        continue;
      }
      return index + 1;
    }
    index++;
  }
  return sql.length;
}

/** PostgreSQL's block comments nest. */
function endOfBlockComment(sql: string, from: number): number {
  let depth = 1;
  let index = from;
  while (index < sql.length) {
    const code = sql.charCodeAt(index);
    if (code === SLASH && sql.charCodeAt(index + 1) === STAR) {
      depth++;
      index += 2;
    } else if (code === STAR && sql.charCodeAt(index + 1) === SLASH) {
      depth--;
      index += 2;
      if (depth === 0) return index;
    } else {
      index++;
    }
  }
  return sql.length;
}

function isIdentifierPart(code: number): boolean {
  return (
    (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95 || code === DOLLAR || code >= 128
  );
}
