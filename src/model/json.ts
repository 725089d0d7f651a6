/**
 * Reading the JSON files of a model folder (config.json, preprocessor_config.json,
 * tokenizer.json): the two checks every parser of them needs, so their messages read alike.
 */

/** A JSON object (not null, not a list). */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A value as a message shows it: `null`, `a list`, `an object`, `string "12"`, `number 0`. */
export function describeJson(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${JSON.stringify(v)}`;
}
