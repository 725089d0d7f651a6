/**
 * The contract every explanation method fulfils, so the UI can list methods, draw their option
 * controls and call them without knowing any of them (see README.md in this folder).
 */
import type { AttentionStack, Grid, HeadSelection, PatchMap } from './types';

/** Tensors a method may need; the UI asks the worker for whatever is missing. */
export type Need = 'vision-attention' | 'text-attention' | 'gradients';

/**
 * ∂score/∂A for one (image, prompt) pair, score = logit of the pair: same layout as the
 * `AttentionStack` it differentiates, `(layers, heads, seq, seq)`, but rows do not sum to 1.
 */
export interface GradientStack {
  readonly layers: number;
  readonly heads: number;
  readonly seq: number;
  readonly data: Float32Array;
}

/**
 * Everything a method may read for one image (and, for pair methods, one prompt).
 * Absent fields have not been computed (yet); a method that needs one returns null.
 * A method that needs new data (e.g. dense patch embeddings from the worker) adds a `Need` and
 * an optional field here; existing methods are unaffected.
 */
export interface ExplainInput {
  /** The vision encoder's patch grid; PatchMaps come out with this shape. */
  readonly grid: Grid;
  /** Vision attention `(layers, heads, 1 + gw·gh, 1 + gw·gh)`. */
  readonly vision?: AttentionStack;
  /** Text attention of the selected prompt `(layers, heads, tokens, tokens)`. */
  readonly text?: AttentionStack;
  /** Gradients of the selected (image, prompt) logit w.r.t. each attention. */
  readonly gradients?: { readonly vision: GradientStack; readonly text: GradientStack };
  /**
   * Patch index (row-major) whose view to show instead of the image's CLS token — the
   * "click a patch" view. Methods with `supportsQuery: false` ignore it.
   */
  readonly queryPatch?: number;
}

interface OptionBase {
  /** Short label for the control. */
  readonly label: string;
  /** One sentence for a tooltip. */
  readonly help?: string;
}

/** One of a fixed list of string values (a select or segmented control). */
export interface ChoiceOption<V extends string = string> extends OptionBase {
  readonly kind: 'choice';
  readonly choices: readonly { readonly value: V; readonly label: string }[];
  readonly default: V;
}

/** A number in `[min, max]` (a slider). */
export interface NumberOption extends OptionBase {
  readonly kind: 'number';
  readonly min: number;
  readonly max: number;
  readonly step: number;
  readonly default: number;
}

/**
 * A layer index of one encoder. The valid range depends on the model, so the UI builds the
 * slider from the loaded model's layer count; negative values count from the end (-1 = last),
 * which lets a default mean "last layer" for every model.
 */
export interface LayerOption extends OptionBase {
  readonly kind: 'layer';
  readonly encoder: 'vision' | 'text';
  readonly default: number;
}

/** Which heads are on; `'all'` (the default) or one boolean per head of the encoder. */
export interface HeadsOption extends OptionBase {
  readonly kind: 'heads';
  readonly encoder: 'vision' | 'text';
}

export type OptionSpec = ChoiceOption | NumberOption | LayerOption | HeadsOption;

/** A method's options, by key. Key order is the order the UI shows them. */
export type OptionsSchema = Readonly<Record<string, OptionSpec>>;

/** The value type of one option. */
export type OptionValueOf<S extends OptionSpec> = S extends ChoiceOption<infer V>
  ? V
  : S extends HeadsOption
    ? HeadSelection | 'all'
    : number;

/** Resolved options of a schema: every key present, defaults filled in, values checked. */
export type OptionsOf<S extends OptionsSchema> = { readonly [K in keyof S]: OptionValueOf<S[K]> };

/** Options as a UI store keeps them: any subset, unchecked. */
export type RawOptions = Readonly<Record<string, unknown>>;

/**
 * A method as written by its author: `compute` receives typed, validated options.
 *
 * `compute` must be pure and synchronous (main thread, runs on every slider move): work that
 * needs the model (gradients, dense features) happens in the worker and arrives in
 * `ExplainInput`. Return null when a tensor listed in `needs` is absent; throw (with a message
 * that says what to fix) when present tensors are inconsistent.
 */
export interface MethodDefinition<S extends OptionsSchema> {
  /** Stable id, kebab-case; used in URLs and stores. */
  readonly id: string;
  readonly label: string;
  /** One or two sentences for a person choosing a method. */
  readonly description: string;
  /** Paper or reference implementation followed. */
  readonly citation: string;
  /** What the image map needs. */
  readonly needs: readonly Need[];
  readonly options: S;
  /** Whether `input.queryPatch` changes the image map (attention rows do; gradients don't). */
  readonly supportsQuery: boolean;
  /** The image map, `grid.width × grid.height`, in the method's own units; null if a need is missing. */
  compute(input: ExplainInput, options: OptionsOf<S>): PatchMap | null;
  /**
   * Optional per-token map of the prompt: `(tokens,)` over ALL tokens of the text stack, start
   * and end-of-text included (the UI decides which to show); null if a need is missing.
   */
  readonly tokens?: {
    readonly needs: readonly Need[];
    compute(input: ExplainInput, options: OptionsOf<S>): Float32Array | null;
  };
}

/** A method as the UI sees it: options come in raw (from a store) and are checked on the way in. */
export interface ExplainMethod {
  readonly id: string;
  readonly label: string;
  readonly description: string;
  readonly citation: string;
  readonly needs: readonly Need[];
  readonly options: OptionsSchema;
  readonly supportsQuery: boolean;
  /** Image map; `options` may be partial (defaults fill the rest). Throws on invalid options. */
  compute(input: ExplainInput, options?: RawOptions): PatchMap | null;
  readonly tokens?: {
    readonly needs: readonly Need[];
    compute(input: ExplainInput, options?: RawOptions): Float32Array | null;
  };
}

/** Default value of one option. */
export function defaultOf(spec: OptionSpec): OptionValueOf<OptionSpec> {
  return spec.kind === 'heads' ? 'all' : spec.default;
}

function checkOption(methodId: string, key: string, spec: OptionSpec, value: unknown): void {
  const where = `option "${key}" of method "${methodId}"`;
  switch (spec.kind) {
    case 'choice':
      if (!spec.choices.some((c) => c.value === value)) {
        throw new Error(`${where} is ${JSON.stringify(value)}; use one of ${spec.choices.map((c) => `'${c.value}'`).join(', ')}`);
      }
      return;
    case 'number':
      if (typeof value !== 'number' || !(value >= spec.min && value <= spec.max)) {
        throw new Error(`${where} is ${JSON.stringify(value)}; use a number in [${spec.min}, ${spec.max}]`);
      }
      return;
    case 'layer':
      if (typeof value !== 'number' || !Number.isInteger(value)) {
        throw new Error(`${where} is ${JSON.stringify(value)}; use an integer layer index (negative counts from the end)`);
      }
      return;
    case 'heads':
      if (value !== 'all' && !(Array.isArray(value) && value.every((v) => typeof v === 'boolean'))) {
        throw new Error(`${where} must be 'all' or one boolean per head`);
      }
      return;
  }
}

/**
 * Fills defaults and checks `raw` against `schema`. Unknown keys are an error (usually a typo
 * or an option of another method). Ranges that depend on the model (layer index, number of
 * heads) are checked by the method against the tensors.
 */
export function resolveOptions<S extends OptionsSchema>(methodId: string, schema: S, raw: RawOptions = {}): OptionsOf<S> {
  for (const key of Object.keys(raw)) {
    if (!Object.hasOwn(schema, key)) {
      const known = Object.keys(schema);
      throw new Error(`method "${methodId}" has no option "${key}"; its options are: ${known.join(', ') || 'none'}`);
    }
  }
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(schema)) {
    const value = raw[key] === undefined ? defaultOf(spec) : raw[key];
    checkOption(methodId, key, spec, value);
    out[key] = value;
  }
  // Every key of S is present and its value checked against its spec just above.
  return out as OptionsOf<S>;
}

/** Turns a typed definition into a registry entry that checks raw options on every call. */
export function defineMethod<const S extends OptionsSchema>(def: MethodDefinition<S>): ExplainMethod {
  const { tokens } = def;
  const method: ExplainMethod = {
    id: def.id,
    label: def.label,
    description: def.description,
    citation: def.citation,
    needs: def.needs,
    options: def.options,
    supportsQuery: def.supportsQuery,
    compute: (input, raw) => def.compute(input, resolveOptions(def.id, def.options, raw)),
  };
  if (!tokens) return method;
  return {
    ...method,
    tokens: {
      needs: tokens.needs,
      compute: (input, raw) => tokens.compute(input, resolveOptions(def.id, def.options, raw)),
    },
  };
}
