/**
 * The top bar: the model picker, the model's status, download progress (with Cancel), errors
 * (with Retry) and notes, and the stored-models manager.
 */
import { formatBytes } from '../model/catalog';
import { choiceLabel } from '../model/hub';
import { MODEL_MEMORY_SHARE } from '../model/memoryBudget';
import { useLens, type SizeOffer } from '../state/store';
import { cancelLoad, loadChoice, pinVariant, retryModel } from './modelChoice';
import { ModelPicker } from './ModelPicker';
import { StorageManager } from './StorageManager';
import { SessionControls } from './SessionControls';

export function ModelBar() {
  const model = useLens((s) => s.model);
  const setModel = useLens((s) => s.setModel);
  const progress = model.progress;
  const downloading = model.status === 'loading' && progress !== null && progress.loaded < (progress.total ?? Infinity);
  return (
    <header className="model-bar">
      <h1>CLIP Lens</h1>
      <ModelPicker />
      <span className="model-name" data-testid="model-name">{model.id || 'no model'}</span>
      <span className={`model-status status-${model.status}`} data-testid="model-status" data-backend={model.backend ?? ''}>
        {model.status === 'ready' && `ready · ${model.backend === 'webgpu' ? 'WebGPU' : `WASM, ${model.wasmThreads} thread${model.wasmThreads > 1 ? 's' : ''}`}`}
        {model.status === 'loading' && (downloading ? 'downloading…' : 'loading…')}
        {model.status === 'error' && 'failed'}
      </span>
      {model.status === 'loading' && progress && (
        <span className="progress" role="progressbar" data-testid="model-progress" aria-label={`Loading ${progress.file}`}
          aria-valuemin={0} aria-valuemax={progress.total ?? undefined} aria-valuenow={progress.loaded}
          data-loaded={progress.loaded} data-total={progress.total ?? ''}>
          <progress value={progress.loaded} max={progress.total ?? undefined} />
          {progress.file} · {formatBytes(progress.loaded)}{progress.total ? ` of ${formatBytes(progress.total)}` : ''}
          {progress.rate !== null && downloading && <span className="rate"> · {formatBytes(progress.rate)}/s</span>}
        </span>
      )}
      {model.status === 'loading' && (
        <button type="button" data-testid="model-cancel" onClick={() => void cancelLoad()}>Cancel</button>
      )}
      {model.error && (
        <span className="error" role="alert" data-testid="model-error">
          {model.error}{' '}
          <button type="button" data-testid="model-retry" onClick={() => void retryModel()}>Retry</button>
          {model.status === 'ready' && (
            <button type="button" aria-label="Dismiss" onClick={() => setModel({ error: null, failed: null })}>×</button>
          )}
        </span>
      )}
      {model.note && !model.error && (
        <span className="note" data-testid="model-note">
          {model.note}
          {model.failed && model.status === 'ready' && (
            <> <button type="button" data-testid="model-retry" onClick={() => void retryModel()}>Retry</button></>
          )}
        </span>
      )}
      {model.sizeOffer && <SizeOfferNote offer={model.sizeOffer} onDismiss={() => setModel({ sizeOffer: null })} />}
      <StorageManager />
      <SessionControls />
    </header>
  );
}

/** A download held back because the model is too big for this device: load a smaller variant, or go on. */
function SizeOfferNote({ offer, onDismiss }: { offer: SizeOffer; onDismiss: () => void }) {
  const memory = offer.deviceMemoryGB !== null
    ? `this device has about ${offer.deviceMemoryGB} GB of memory`
    : 'the browser does not say how much memory this device has, so 4 GB is assumed';
  const share = MODEL_MEMORY_SHARE === 0.25 ? 'a quarter' : `${Math.round(MODEL_MEMORY_SHARE * 100)} %`;
  const { smaller } = offer;
  return (
    <span className="note size-offer" role="alert" data-testid="size-offer" data-bytes={offer.bytes} data-budget={offer.budget}>
      Not downloaded: {choiceLabel(offer.choice)} ({offer.choice.variant}) is {formatBytes(offer.bytes)}, too big for this device
      ({memory}; a model may take {share} of it, {formatBytes(offer.budget)}, since loading holds several copies of its weights).
      {smaller ? ` The ${smaller.choice.variant} weights (${formatBytes(smaller.bytes)}) fit.` : ' No variant of it fits: pick a smaller model.'}{' '}
      {smaller && (
        <button type="button" data-testid="size-offer-smaller" onClick={() => {
          pinVariant(smaller.choice.variant);
          void loadChoice(smaller.choice);
        }}>Load {smaller.choice.variant} ({formatBytes(smaller.bytes)})</button>
      )}
      <button type="button" data-testid="size-offer-anyway" onClick={() => void loadChoice(offer.choice, { anyway: true })}>Download anyway</button>
      <button type="button" aria-label="Dismiss" onClick={onDismiss}>×</button>
    </span>
  );
}
