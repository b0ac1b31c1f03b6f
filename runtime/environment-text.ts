/**
 * @module environment-text — `${env:NAME}` and `${env:NAME|default}` in text: the variable, or
 * `default` when it is unset or empty; `$${` is a literal `${`. One reading for the registry's
 * fields and the drivers that resolve their own at connect time.
 */
export type Environment = Readonly<Record<string, string | undefined>>;

export const ENV_PLACEHOLDER = /\$\$\{|\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?:\|([^}]*))?\}/g;

/**
 * The text with each placeholder replaced by the value passed through `encode` (a URL's parts are
 * percent-encoded); an unset variable without default is replaced by what `onMissing` returns (or throws).
 */
export function expandEnvironment(text: string, environment: Environment, onMissing: (name: string) => string, encode: (value: string) => string = (value) => value): string {
  return text.replace(ENV_PLACEHOLDER, (_match, name: string | undefined, fallback: string | undefined) => {
    if (name === undefined) return "${";
    const value = environment[name];
    if (value !== undefined && value !== "") return encode(value);
    if (fallback !== undefined) return encode(fallback);
    if (value !== undefined) return encode(value);
    return onMissing(name);
  });
}
