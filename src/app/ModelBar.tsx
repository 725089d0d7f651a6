import { useLens } from '../state/store';
import type { ModelVariant } from '../protocol';
import { bundledSource, loadModel } from './pipeline';

const VARIANTS: { id: ModelVariant; label: string }[] = [
  { id: 'fp32', label: 'fp32' },
  { id: 'fp16', label: 'fp16' },
  { id: 'q8', label: 'int8 (quantized)' },
];

function formatBytes(n: number): string {
  return n > 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${(n / 1e3).toFixed(0)} kB`;
}

export function ModelBar() {
  const model = useLens((s) => s.model);
  const progress = model.progress;
  return (
    <header className="model-bar">
      <h1>CLIP Lens</h1>
      <label>
        Weights{' '}
        <select
          aria-label="Model weights variant"
          value={model.variant}
          onChange={(e) => void loadModel(bundledSource(e.target.value as ModelVariant))}
        >
          {VARIANTS.map((v) => <option key={v.id} value={v.id}>{v.label}</option>)}
        </select>
      </label>
      <span className="model-name">{model.id || 'no model'}</span>
      <span className={`model-status status-${model.status}`} data-testid="model-status" data-backend={model.backend ?? ''}>
        {model.status === 'ready' && `ready · ${model.backend === 'webgpu' ? 'WebGPU' : `WASM, ${model.wasmThreads} thread${model.wasmThreads > 1 ? 's' : ''}`}`}
        {model.status === 'loading' && 'loading…'}
        {model.status === 'error' && 'failed'}
      </span>
      {model.status === 'loading' && progress && (
        <span className="progress" role="progressbar" aria-label={`Loading ${progress.file}`}
          aria-valuemin={0} aria-valuemax={progress.total ?? undefined} aria-valuenow={progress.loaded}>
          <progress value={progress.loaded} max={progress.total ?? undefined} />
          {progress.file} {formatBytes(progress.loaded)}{progress.total ? ` / ${formatBytes(progress.total)}` : ''}
        </span>
      )}
      {model.status === 'error' && (
        <span className="error" role="alert" data-testid="model-error">
          {model.error}{' '}
          <button type="button" onClick={() => void loadModel(bundledSource(model.variant))}>Retry</button>
        </span>
      )}
    </header>
  );
}
