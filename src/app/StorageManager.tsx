/**
 * “Stored models”: what the browser keeps in Cache Storage, how much room it takes, and buttons
 * to delete one model or all of them. The model in use stays loaded after its files are deleted.
 */
import { useEffect, useState } from 'react';
import { formatBytes } from '../model/catalog';
import { PUBLIC_HUB_HOST } from '../model/hub';
import { useLens } from '../state/store';
import { useStorageInfo } from './storageInfo';

export function StorageManager() {
  const { models, usage, quota, error, refresh, remove, removeAll } = useStorageInfo();
  const status = useLens((s) => s.model.status);
  const modelId = useLens((s) => s.model.id);
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);

  // A finished load may have stored files: keep the list (and the picker's “stored” marks) current.
  useEffect(() => {
    if (status === 'ready') void refresh();
  }, [status, modelId, refresh]);

  const total = models.reduce((n, m) => n + m.bytes, 0);
  const run = (job: Promise<void>) => {
    setBusy(true);
    void job.finally(() => setBusy(false));
  };

  return (
    <details className="storage" data-testid="storage-manager" open={open}
      onToggle={(e) => { setOpen(e.currentTarget.open); if (e.currentTarget.open) void refresh(); }}>
      <summary data-testid="storage-toggle">Stored models{models.length > 0 ? ` (${formatBytes(total)})` : ''}</summary>
      <div className="storage-panel">
        {models.length === 0 ? (
          <p className="hint" data-testid="storage-empty">No models are stored. Models from the Hub are kept here after their first download.</p>
        ) : (
          <ul data-testid="storage-list">
            {models.map((m) => (
              <li key={m.key} data-testid={`stored-${m.repo}`} data-bytes={m.bytes}>
                <span className="what">
                  <span className="repo">{m.repo}{m.revision !== 'main' ? `@${m.revision}` : ''}</span>
                  {m.host !== PUBLIC_HUB_HOST && <span className="host">{m.host}</span>}
                </span>
                <span className="detail" title="Weights stored completely (these load without the network)">
                  {m.variants.length > 0 ? m.variants.join(', ') : 'no complete weights'}
                </span>
                <span className="size">{formatBytes(m.bytes)}</span>
                <button type="button" disabled={busy} aria-label={`Delete ${m.repo}`} onClick={() => run(remove(m.key))}>Delete</button>
              </li>
            ))}
          </ul>
        )}
        {models.length > 0 && (
          <button type="button" data-testid="storage-delete-all" disabled={busy} onClick={() => run(removeAll())}>Delete all</button>
        )}
        {usage !== null && quota !== null && (
          <p className="hint" data-testid="storage-estimate">
            This site uses {formatBytes(usage)} of the {formatBytes(quota)} the browser allows it.
          </p>
        )}
        {models.some((m) => m.repo === modelId) && <p className="hint">Deleting the model in use keeps it loaded until you switch or reload.</p>}
        {error && <p className="error" role="alert">{error}</p>}
      </div>
    </details>
  );
}
