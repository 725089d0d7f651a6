/**
 * Heads ranked by gradient importance (sum of |∂score/∂A ⊙ A| per head) for the focused image
 * and the selected prompt; a click shows that head's raw attention.
 */
import { useLens, useResultsVersion } from '../state/store';
import { relevanceFor } from './relevance';

const SHOWN = 6;

export function HeadRanking({ imageId, promptText, heads }: { imageId: string; promptText: string; heads: number }) {
  const view = useLens((s) => s.view);
  const setView = useLens((s) => s.setView);
  useResultsVersion(imageId);
  const entry = relevanceFor({ imageId, promptText, startLayerImage: view.relevanceStart, startLayerText: view.relevanceStart });
  if (entry?.status !== 'done') return null;
  const importance = entry.result.headImportance;
  const ranked = Array.from(importance, (value, i) => ({ value, layer: Math.floor(i / heads), head: i % heads }))
    .filter((r) => r.value > 0)
    .sort((a, b) => b.value - a.value)
    .slice(0, SHOWN);
  if (ranked.length === 0) return null;
  const top = ranked[0]?.value ?? 1;
  return (
    <div className="head-ranking" data-testid="head-ranking">
      <h3>Heads that matter most for “{promptText}”</h3>
      <ol>
        {ranked.map((r) => (
          <li key={`${r.layer}-${r.head}`}>
            <button type="button" aria-label={`Show raw attention of layer ${r.layer + 1}, head ${r.head + 1}`}
              onClick={() => setView({ method: 'attention', layer: r.layer, heads: Array.from({ length: heads }, (_, h) => h === r.head) })}>
              layer {r.layer + 1}, head {r.head + 1}
            </button>
            <span className="bar" style={{ width: `${Math.round((r.value / top) * 80)}px` }} />
          </li>
        ))}
      </ol>
    </div>
  );
}
