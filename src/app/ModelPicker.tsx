/**
 * The model picker: OpenAI CLIP from the Hub (with the size of each weights variant), the small
 * bundled model, any Hub repo typed in, or a model folder from disk (picked or dropped here).
 */
import { useEffect, useRef, useState, type DragEvent } from 'react';
import type { ModelVariant } from '../protocol';
import { catalogModel, formatApproxBytes, formatBytes, HUB_MODELS } from '../model/catalog';
import { CLASSIC_VARIANTS, type PickedFile } from '../model/folder';
import { choiceLabel, DEFAULT_REVISION, parseRepoInput, sameChoice, type ModelChoice } from '../model/hub';
import type { RepoVariant } from '../model/variants';
import { useLens } from '../state/store';
import { choiceVariants, isCustomHub, loadChoice, loadHubRepo, loadModelFolder, pinVariant } from './modelChoice';
import { storedVariants, useStorageInfo } from './storageInfo';
import './modelPicker.css';

/** What the Weights menu calls each variant (transformers.js's dtype names, with what they hold). */
const VARIANT_LABEL: Record<ModelVariant, string> = {
  fp32: 'fp32',
  fp16: 'fp16',
  q8: 'q8 (8-bit, quantized)',
  int8: 'int8 (8-bit, signed)',
  uint8: 'uint8 (8-bit, unsigned)',
  q4: 'q4 (4-bit blocks)',
  q4f16: 'q4f16 (4-bit, fp16)',
  bnb4: 'bnb4 (4-bit NF4)',
};

/** A size label: exact when the server said, `≈` when it is a catalog figure. */
function sizeLabel(v: RepoVariant): string {
  if (v.bytes === null) return '';
  return v.approximate ? formatApproxBytes(v.bytes) : formatBytes(v.bytes);
}

/**
 * The variants `choice` has (null while unknown). Asked again when the choice changes; a stale
 * answer (for a choice since replaced) is dropped.
 */
function useChoiceVariants(choice: ModelChoice | null): RepoVariant[] | null {
  const [state, setState] = useState<{ choice: ModelChoice; variants: RepoVariant[] | null } | null>(null);
  useEffect(() => {
    if (!choice) return;
    let live = true;
    void choiceVariants(choice).then((variants) => {
      if (live) setState({ choice, variants });
    });
    return () => {
      live = false;
    };
  }, [choice]);
  return state && choice && sameChoice({ ...state.choice, variant: choice.variant }, choice) ? state.variants : null;
}

/** Select values: `hub:owner/name`, `bundled`, `folder:name`, and the two modes that need input. */
type Mode = 'custom' | 'folder';

function valueOf(choice: ModelChoice | null): string {
  if (!choice) return '';
  if (choice.kind === 'bundled') return 'bundled';
  if (choice.kind === 'folder') return `folder:${choice.name}`;
  return `hub:${choice.repo}@${choice.revision}`;
}

/** Reads every file below a dropped entry, with its path (`/clip/onnx/vision_model.onnx`). */
async function entryFiles(entry: FileSystemEntry): Promise<PickedFile[]> {
  if (entry.isFile) {
    return new Promise((resolve) => (entry as FileSystemFileEntry).file(
      (f) => resolve([{ path: entry.fullPath, blob: f }]), () => resolve([])));
  }
  if (!entry.isDirectory) return [];
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  const out: PickedFile[] = [];
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve) => reader.readEntries(resolve, () => resolve([])));
    if (batch.length === 0) break; // the entries API hands out directories in batches
    for (const child of batch) out.push(...(await entryFiles(child)));
  }
  return out;
}

async function droppedFiles(dt: DataTransfer): Promise<PickedFile[]> {
  const entries = Array.from(dt.items)
    .map((item) => (item.kind === 'file' ? item.webkitGetAsEntry?.() : null))
    .filter((e): e is FileSystemEntry => !!e);
  if (entries.length > 0) return (await Promise.all(entries.map(entryFiles))).flat();
  return Array.from(dt.files, (f) => ({ path: f.webkitRelativePath || f.name, blob: f }));
}

export function ModelPicker() {
  const choice = useLens((s) => s.model.choice);
  const variant = useLens((s) => s.model.variant);
  const hubHost = useLens((s) => s.model.hubHost);
  const stored = useStorageInfo((s) => s.models);
  const [mode, setMode] = useState<Mode | null>(null);
  const [repoText, setRepoText] = useState('');
  const [repoError, setRepoError] = useState<string | null>(null);
  const [over, setOver] = useState(false);
  const folderInput = useRef<HTMLInputElement>(null);

  useEffect(() => {
    // React has no prop for it; the attribute makes the file chooser pick a folder.
    folderInput.current?.setAttribute('webkitdirectory', '');
  }, []);

  const pickFolder = async (files: PickedFile[]) => {
    setMode(null);
    await loadModelFolder(files);
  };

  const onModelChange = (value: string) => {
    setRepoError(null);
    if (value === 'custom' || value === 'folder') {
      setMode(value);
      if (value === 'folder') folderInput.current?.click();
      return;
    }
    setMode(null);
    if (value === 'bundled') void loadChoice({ kind: 'bundled', variant });
    else if (value.startsWith('hub:')) {
      const parsed = parseRepoInput(value.slice(4));
      if (!('error' in parsed)) void loadHubRepo(parsed.repo, parsed.revision);
    }
  };

  const onVariantChange = (v: ModelVariant) => {
    pinVariant(v);
    if (choice) void loadChoice({ ...choice, variant: v });
    else void loadChoice({ kind: 'bundled', variant: v });
  };

  const loadRepo = () => {
    const parsed = parseRepoInput(repoText);
    if ('error' in parsed) {
      setRepoError(parsed.error);
      return;
    }
    setRepoError(null);
    setMode(null);
    void loadHubRepo(parsed.repo, parsed.revision);
  };

  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setOver(false);
    void droppedFiles(e.dataTransfer).then(pickFolder);
  };

  const hubRepo = choice?.kind === 'hub' ? choice : null;
  const storedHere = hubRepo ? storedVariants(stored, hubHost, hubRepo.repo, hubRepo.revision) : [];
  const listed = useChoiceVariants(choice);
  // While unknown: the usual three, and whatever is loaded or loading.
  const offered: RepoVariant[] = listed ?? CLASSIC_VARIANTS.map((v) => ({ variant: v, bytes: null }));
  const options = offered.some((o) => o.variant === variant) ? offered : [...offered, { variant, bytes: null }];
  const current = options.find((o) => o.variant === variant);
  const extraOption = choice && (choice.kind === 'folder' || (choice.kind === 'hub' && (!catalogModel(choice.repo) || choice.revision !== DEFAULT_REVISION)));

  return (
    <div
      className={`model-picker${over ? ' over' : ''}`}
      data-testid="model-picker-drop"
      onDragOver={(e) => { e.preventDefault(); setOver(true); }}
      onDragLeave={() => setOver(false)}
      onDrop={onDrop}
    >
      <label>
        Model{' '}
        <select data-testid="model-picker" aria-label="Model" value={mode ?? valueOf(choice)} onChange={(e) => onModelChange(e.target.value)}>
          {!choice && <option value="">—</option>}
          <optgroup label="OpenAI CLIP (Hugging Face Hub)">
            {HUB_MODELS.map((m) => <option key={m.repo} value={`hub:${m.repo}@${DEFAULT_REVISION}`}>{m.label}</option>)}
          </optgroup>
          <optgroup label="Other">
            <option value="bundled">Small bundled model (shapes)</option>
            {extraOption && <option value={valueOf(choice)}>{choiceLabel(choice)}</option>}
            <option value="custom">Other Hub repo…</option>
            <option value="folder">Model folder from disk…</option>
          </optgroup>
        </select>
      </label>
      <label>
        Weights{' '}
        <select data-testid="model-variant" aria-label="Model weights variant" value={variant}
          onChange={(e) => onVariantChange(e.target.value as ModelVariant)}>
          {options.map((o) => {
            const tags = [sizeLabel(o), storedHere.includes(o.variant) ? 'stored' : ''].filter(Boolean);
            return (
              <option key={o.variant} value={o.variant}>
                {VARIANT_LABEL[o.variant]}{tags.length ? ` · ${tags.join(' · ')}` : ''}
              </option>
            );
          })}
        </select>
      </label>
      {mode === 'custom' && (
        <form className="repo-form" onSubmit={(e) => { e.preventDefault(); loadRepo(); }}>
          <input type="text" data-testid="hub-repo-input" aria-label="Hugging Face repo id" placeholder="owner/name, e.g. Xenova/clip-vit-base-patch32"
            value={repoText} onChange={(e) => setRepoText(e.target.value)} autoFocus />
          <button type="submit" data-testid="hub-repo-load">Load</button>
          <button type="button" onClick={() => { setMode(null); setRepoError(null); }}>Cancel</button>
          {repoError && <span className="error" role="alert" data-testid="hub-repo-error">{repoError}</span>}
        </form>
      )}
      {mode === 'folder' && (
        <span className="folder-hint">
          <button type="button" data-testid="model-folder-button" onClick={() => folderInput.current?.click()}>Choose a model folder…</button>
          {' '}or drop one here (the folder with config.json and onnx/).
          <button type="button" onClick={() => setMode(null)}>Cancel</button>
        </span>
      )}
      <input ref={folderInput} type="file" multiple hidden data-testid="model-folder-input"
        onChange={(e) => {
          const files = Array.from(e.target.files ?? [], (f) => ({ path: f.webkitRelativePath || f.name, blob: f }));
          e.target.value = '';
          if (files.length > 0) void pickFolder(files);
        }} />
      {hubRepo && current && <FetchSize variant={current} stored={storedHere.includes(variant)} />}
      <SizeHint size={hubRepo && current ? current.bytes : null} stored={storedHere.includes(variant)} />
      {isCustomHub() && <span className="hub-host" title="Set with ?hub= in the address">Hub: {hubHost}</span>}
    </div>
  );
}

/** What loading the chosen weights downloads: their size, or that they are stored already. */
function FetchSize({ variant, stored }: { variant: RepoVariant; stored: boolean }) {
  const text = stored ? 'stored in this browser: no download' : variant.bytes !== null ? `downloads ${sizeLabel(variant)}` : null;
  if (!text) return null;
  return <span className="fetch-size" data-testid="fetch-size" data-bytes={variant.bytes ?? ''}>{text}</span>;
}

/** Warns before a download that will not fit the room the browser gives this site. */
function SizeHint({ size, stored }: { size: number | null; stored: boolean }) {
  const usage = useStorageInfo((s) => s.usage);
  const quota = useStorageInfo((s) => s.quota);
  if (stored || size === null || usage === null || quota === null || quota - usage >= size) return null;
  return (
    <span className="note" data-testid="size-hint">
      This download ({formatApproxBytes(size)}) is more than the {formatBytes(Math.max(0, quota - usage))} of storage left to this
      site: it will work, but will not be kept. Free space under “Stored models”.
    </span>
  );
}
