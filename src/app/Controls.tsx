/**
 * View controls: method, layer, heads (one / solo / all / several fused), fusion, the prompt
 * difference's B prompt and base map, colormap, opacity. Every change repaints from cached
 * tensors. Arrow keys: ←/→ layer, ↑/↓ solo head.
 */
import { useDeferredValue, useEffect } from 'react';
import { COLORMAP_IDS, isColormapId } from '../render/colormap';
import { resolvedHeads, resolvedLayer, useLens, type Fusion } from '../state/store';
import { DIFFERENCE_BASES, IMAGE_METHODS, isSignedMethod, promptA, promptB } from './maps';

const FUSIONS: Fusion[] = ['mean', 'max', 'min'];

export function Controls() {
  const view = useLens((s) => s.view);
  const setView = useLens((s) => s.setView);
  const vision = useLens((s) => s.model.vision);
  // Deferred: a paste of hundreds of prompts updates the list first, then this, interruptibly.
  const prompts = useDeferredValue(useLens((s) => s.prompts));

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement | null;
      if (!vision || (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT'))) return;
      const { view: v, setView: set } = useLens.getState();
      const layer = resolvedLayer(v, vision.layers);
      if (e.key === 'ArrowLeft' || e.key === 'ArrowRight') {
        e.preventDefault();
        const next = Math.max(0, Math.min(vision.layers - 1, layer + (e.key === 'ArrowLeft' ? -1 : 1)));
        set({ layer: next });
      } else if (e.key === 'ArrowUp' || e.key === 'ArrowDown') {
        e.preventDefault();
        const heads = resolvedHeads(v, vision.heads);
        const solo = heads.filter(Boolean).length === 1 ? heads.indexOf(true) : -1;
        const step = e.key === 'ArrowDown' ? 1 : -1;
        const next = solo < 0 ? (step > 0 ? 0 : vision.heads - 1) : (solo + step + vision.heads) % vision.heads;
        set({ heads: Array.from({ length: vision.heads }, (_, h) => h === next) });
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [vision]);

  if (!vision) return <section className="controls" aria-label="View controls"><p>Waiting for the model…</p></section>;
  const layer = resolvedLayer(view, vision.layers);
  const heads = resolvedHeads(view, vision.heads);
  const allOn = heads.every(Boolean);
  const difference = view.method === 'difference';
  const usesRelevance = view.method === 'relevance' || (difference && view.differenceBase === 'relevance');
  const usesContributions = view.method === 'contributions' || (difference && view.differenceBase === 'contributions');
  const layerMatters = view.method === 'attention' || (usesContributions && view.contributionLayers === 'selected');
  // Signed maps have their own (diverging) colormap, so leaving the difference restores the other.
  const signed = isSignedMethod(view.method);
  const colormap = signed ? view.divergingColormap : view.colormap;
  const a = promptA(view, prompts);
  const b = promptB(view, prompts);

  const toggleHead = (h: number, solo: boolean) => {
    const next = solo ? heads.map((_, i) => i === h) : heads.map((on, i) => (i === h ? !on : on));
    setView({ heads: next.some(Boolean) ? next : heads.map(() => true) });
  };

  return (
    <section className="controls" aria-label="View controls">
      <h2>View</h2>
      <label>
        Method{' '}
        <select aria-label="Explanation method" data-testid="method" value={view.method} onChange={(e) => setView({ method: e.target.value })}>
          {IMAGE_METHODS.map((m) => <option key={m.id} value={m.id}>{m.label}</option>)}
        </select>
      </label>
      <label className={layerMatters ? '' : 'disabled'}>
        Layer <output data-testid="layer-value">{layer + 1}</output> / {vision.layers}
        <input
          type="range" min={0} max={vision.layers - 1} value={layer} disabled={!layerMatters}
          aria-label="Layer" data-testid="layer"
          onChange={(e) => setView({ layer: Number(e.target.value) })}
        />
      </label>
      <fieldset className="heads">
        <legend>Heads (click: toggle, shift-click: solo)</legend>
        {heads.map((on, h) => (
          <button
            key={h} type="button" aria-pressed={on} data-testid={`head-${h}`}
            aria-label={`Head ${h + 1} ${on ? 'on' : 'off'}`}
            className={on ? 'on' : ''}
            onClick={(e) => toggleHead(h, e.shiftKey)}
          >{h + 1}</button>
        ))}
        <button type="button" disabled={allOn} onClick={() => setView({ heads: [] })} data-testid="all-heads">All</button>
      </fieldset>
      <label>
        Fuse heads by{' '}
        <select aria-label="Head fusion" value={view.fusion} onChange={(e) => setView({ fusion: e.target.value as Fusion })}>
          {FUSIONS.map((f) => <option key={f} value={f}>{f}</option>)}
        </select>
      </label>
      {difference && (
        <fieldset className="difference" data-testid="difference-options">
          <legend>Prompt difference: A − B</legend>
          <p className="hint">A: {a ? `“${a.text}”` : 'choose a prompt (the round button beside it)'}</p>
          <label>
            B{' '}
            <select aria-label="Prompt B" data-testid="prompt-b" value={b?.id ?? ''}
              onChange={(e) => setView({ promptBId: e.target.value || null })}>
              {!b && <option value="">(add a second prompt)</option>}
              {prompts.filter((p) => p.text.trim() !== '').map((p) => <option key={p.id} value={p.id}>{p.text}</option>)}
            </select>
          </label>
          <button type="button" data-testid="swap-prompts" disabled={!a || !b}
            onClick={() => { if (a && b) setView({ promptId: b.id, promptBId: a.id }); }}>
            Swap A and B
          </button>
          <label>
            Of{' '}
            <select aria-label="Difference of" data-testid="difference-base" value={view.differenceBase}
              onChange={(e) => {
                const base = DIFFERENCE_BASES.find((m) => m.id === e.target.value);
                if (base) setView({ differenceBase: base.id });
              }}>
              {DIFFERENCE_BASES.map((m) => <option key={m.id} value={m.id}>{m.label}</option>)}
            </select>
          </label>
        </fieldset>
      )}
      {usesRelevance && (
        <label>
          Accumulate relevance over{' '}
          <select aria-label="Relevance layers" data-testid="relevance-start" value={view.relevanceStart}
            onChange={(e) => setView({ relevanceStart: Number(e.target.value) })}>
            <option value={-1}>the last layer (reference notebook)</option>
            <option value={0}>all layers</option>
          </select>
        </label>
      )}
      {usesContributions && (
        <label>
          Contributions of{' '}
          <select aria-label="Contribution layers" data-testid="contribution-layers" value={view.contributionLayers}
            onChange={(e) => setView({ contributionLayers: e.target.value === 'selected' ? 'selected' : 'all' })}>
            <option value="all">every layer (sum)</option>
            <option value="selected">the selected layer</option>
          </select>
        </label>
      )}
      {view.method === 'rollout' && (
        <label>
          Discard lowest <output>{Math.round(view.rolloutDiscard * 100)}%</output>
          <input type="range" min={0} max={0.95} step={0.05} value={view.rolloutDiscard} aria-label="Rollout discard ratio"
            onChange={(e) => setView({ rolloutDiscard: Number(e.target.value) })} />
        </label>
      )}
      <label>
        {signed ? 'Colormap (signed maps)' : 'Colormap'}{' '}
        <select aria-label="Colormap" data-testid="colormap" value={colormap}
          onChange={(e) => { if (isColormapId(e.target.value)) setView(signed ? { divergingColormap: e.target.value } : { colormap: e.target.value }); }}>
          {COLORMAP_IDS.map((c) => <option key={c} value={c}>{c}</option>)}
        </select>
      </label>
      <label>
        Opacity <output>{Math.round(view.opacity * 100)}%</output>
        <input type="range" min={0} max={1} step={0.05} value={view.opacity} aria-label="Heatmap opacity" data-testid="opacity"
          onChange={(e) => setView({ opacity: Number(e.target.value) })} />
      </label>
      {view.queryPatch !== null && (
        <p className="note">
          Showing where patch {view.queryPatch + 1} attends.{' '}
          <button type="button" onClick={() => setView({ queryPatch: null })}>Back to the CLS token</button>
        </p>
      )}
    </section>
  );
}
