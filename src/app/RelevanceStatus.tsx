/**
 * Progress of the gradient relevance computations a map waits for (the worker's last step, with
 * a bar), a Cancel button, and — once cancelled — a way to run them again.
 */
import { useSyncExternalStore } from 'react';
import {
  cancelRelevance,
  peekRelevance,
  relevanceProgressVersion,
  rerunRelevance,
  subscribeRelevance,
  type RelevanceKey,
  type RelevanceStage,
} from './relevance';

/** What a stage means to a person; the worker reports the step it has just finished. */
const STAGE_LABELS: Record<RelevanceStage, string> = {
  queued: 'waiting for the model',
  prepare: 'preparing (the first time builds the gradient graphs)',
  'text-forward': 'text encoder run',
  vision: 'image gradients done',
  text: 'prompt gradients done',
  done: 'finishing',
};

export function RelevanceStatus({ waiting, cancelled }: { waiting: readonly RelevanceKey[]; cancelled: readonly RelevanceKey[] }) {
  // Re-render on every step of any computation; the entries are read fresh below.
  useSyncExternalStore(subscribeRelevance, relevanceProgressVersion);
  const running = waiting.flatMap((key) => {
    const e = peekRelevance(key);
    return e?.status === 'running' ? [{ key, entry: e }] : [];
  });
  if (running.length === 0 && cancelled.length === 0) return null;
  return (
    <div className="relevance-status">
      {running.map(({ key, entry }) => (
        <p key={key.promptText} className="status" role="status" data-testid="relevance-progress" data-stage={entry.stage}
          data-fraction={entry.stage === 'queued' ? '' : (entry.step / entry.steps).toFixed(2)}>
          Relevance for “{key.promptText}”: {STAGE_LABELS[entry.stage]}
          {entry.stage !== 'queued' && <> <progress max={entry.steps} value={entry.step} /> {entry.step}/{entry.steps}</>}
        </p>
      ))}
      {running.length > 0 && (
        <button type="button" data-testid="relevance-cancel" onClick={() => running.forEach(({ key }) => cancelRelevance(key))}>
          Cancel
        </button>
      )}
      {cancelled.length > 0 && (
        <p className="status" data-testid="relevance-cancelled">
          Cancelled.{' '}
          <button type="button" data-testid="relevance-rerun" onClick={() => cancelled.forEach((key) => rerunRelevance(key))}>
            Run again
          </button>
        </p>
      )}
    </div>
  );
}
