/**
 * @module registry/suggest — "did you mean" for misspelt ids, kinds and field names, by edit distance.
 */

/** Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours. */
export function editDistance(from: string, to: string): number {
  const rows = from.length + 1;
  const columns = to.length + 1;
  const table: number[][] = Array.from({ length: rows }, (_, row) => {
    const line = new Array<number>(columns).fill(0);
    line[0] = row;
    return line;
  });
  for (let column = 0; column < columns; column++) table[0][column] = column;
  for (let row = 1; row < rows; row++) {
    for (let column = 1; column < columns; column++) {
      const cost = from[row - 1] === to[column - 1] ? 0 : 1;
      let best = Math.min(table[row - 1][column] + 1, table[row][column - 1] + 1, table[row - 1][column - 1] + cost);
      if (row > 1 && column > 1 && from[row - 1] === to[column - 2] && from[row - 2] === to[column - 1]) {
        best = Math.min(best, table[row - 2][column - 2] + 1);
      }
      table[row][column] = best;
    }
  }
  return table[rows - 1][columns - 1];
}

/**
 * Candidates close to `input`, closest first (ties alphabetical): within an edit distance of about a
 * third of the input's length, or containing it (for inputs of three characters or more), ignoring case.
 */
export function closestMatches(input: string, candidates: Iterable<string>, limit = 3): string[] {
  const needle = input.toLowerCase();
  const allowed = Math.max(1, Math.floor(needle.length / 3));
  const scored: { candidate: string; score: number }[] = [];
  for (const candidate of new Set(candidates)) {
    if (candidate === input) continue;
    const haystack = candidate.toLowerCase();
    const distance = editDistance(needle, haystack);
    if (distance <= allowed) scored.push({ candidate, score: distance });
    else if (needle.length >= 3 && haystack.includes(needle)) scored.push({ candidate, score: allowed + 1 });
  }
  scored.sort((left, right) => left.score - right.score || (left.candidate < right.candidate ? -1 : 1));
  return scored.slice(0, limit).map((entry) => entry.candidate);
}

/** `did you mean "a"?` / `did you mean "a" or "b"?`, or undefined when nothing is close. */
export function didYouMean(input: string, candidates: Iterable<string>, quote = true): string | undefined {
  const matches = closestMatches(input, candidates).map((match) => (quote ? `"${match}"` : match));
  if (matches.length === 0) return undefined;
  const listed = matches.length === 1 ? matches[0] : `${matches.slice(0, -1).join(", ")} or ${matches[matches.length - 1]}`;
  return `did you mean ${listed}?`;
}
