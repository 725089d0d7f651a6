/**
 * The model picker: OpenAI CLIP from the Hub (with the size of each weights variant), the small
 * bundled model, any Hub repo typed in, or a model folder from disk (picked or dropped here).
 */
import { useEffect, useRef, useState, type DragEvent } from 'react';
import type { ModelVariant } from '../protocol';
import { approxDownloadBytes, catalogModel, formatApproxBytes, formatBytes, HUB_MODELS } from '../model/catalog';
import { VARIANTS, type PickedFile } from '../model/folder';
import { choiceLabel, DEFAULT_REVISION, parseRepoInput, type ModelChoice } from '../model/hub';
import { useLens } from '../state/store';
import { folderVariants, isCustomHub, loadChoice, loadModelFolder } from './modelChoice';
import { storedVariants, useStorageInfo } from './storageInfo';
import './modelPicker.css';

const VARIANT_LABEL: Record<ModelVariant, string> = { fp32: 'fp32', fp16: 'fp16', q8: 'int8 (quantized)' };

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
      if (!('error' in parsed)) void loadChoice({ kind: 'hub', ...parsed, variant });
    }
  };

  const onVariantChange = (v: ModelVariant) => {
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
    void loadChoice({ kind: 'hub', ...parsed, variant });
  };

  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setOver(false);
    void droppedFiles(e.dataTransfer).then(pickFolder);
  };

  const hubRepo = choice?.kind === 'hub' ? choice : null;
  const storedHere = hubRepo ? storedVariants(stored, hubHost, hubRepo.repo, hubRepo.revision) : [];
  const available = choice?.kind === 'folder' ? folderVariants() : VARIANTS;
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
          {VARIANTS.map((v) => {
            const size = hubRepo ? approxDownloadBytes(hubRepo.repo, v) : null;
            const tags = [size !== null ? formatApproxBytes(size) : '', storedHere.includes(v) ? 'stored' : ''].filter(Boolean);
            return (
              <option key={v} value={v} disabled={!available.includes(v)}>
                {VARIANT_LABEL[v]}{tags.length ? ` · ${tags.join(' · ')}` : ''}
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
      <SizeHint repo={hubRepo?.repo ?? null} variant={variant} stored={storedHere.includes(variant)} />
      {isCustomHub() && <span className="hub-host" title="Set with ?hub= in the address">Hub: {hubHost}</span>}
    </div>
  );
}

/** Warns before a download that will not fit the room the browser gives this site. */
function SizeHint({ repo, variant, stored }: { repo: string | null; variant: ModelVariant; stored: boolean }) {
  const usage = useStorageInfo((s) => s.usage);
  const quota = useStorageInfo((s) => s.quota);
  const size = repo ? approxDownloadBytes(repo, variant) : null;
  if (stored || size === null || usage === null || quota === null || quota - usage >= size) return null;
  return (
    <span className="note" data-testid="size-hint">
      This download ({formatApproxBytes(size)}) is more than the {formatBytes(Math.max(0, quota - usage))} of storage left to this
      site: it will work, but will not be kept. Free space under “Stored models”.
    </span>
  );
}
