/**
 * The keyboard help: `?` (or its button) opens a small modal dialog listing the keys; Escape
 * or Close shuts it. A native <dialog>: it traps focus and returns it where it was.
 */
import { useCallback, useEffect, useRef } from 'react';

const KEYS: readonly { keys: string[]; what: string }[] = [
  { keys: ['←', '→'], what: 'previous / next layer' },
  { keys: ['↑', '↓'], what: 'previous / next head, shown alone' },
  { keys: ['Tab', 'Shift+Tab'], what: 'move between controls, images and grid cells' },
  { keys: ['Enter', 'Space'], what: 'press the focused button (a grid cell shows that layer and head)' },
  { keys: ['?'], what: 'open this help' },
  { keys: ['Esc'], what: 'close this help' },
];

/** Keys typed into a form field are the field's own, never shortcuts. */
function typing(target: EventTarget | null): boolean {
  const t = target as HTMLElement | null;
  return !!t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable);
}

export function KeyboardHelp() {
  const ref = useRef<HTMLDialogElement>(null);
  const open = useCallback(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
  }, []);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== '?' || e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
      e.preventDefault();
      open();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [open]);
  return (
    <>
      <button type="button" className="help-button" aria-haspopup="dialog" data-testid="keyboard-help-open" onClick={open}>
        Keyboard shortcuts <kbd>?</kbd>
      </button>
      <dialog ref={ref} className="keyboard-help" data-testid="keyboard-help" aria-labelledby="keyboard-help-title">
        <h2 id="keyboard-help-title">Keyboard</h2>
        <dl>
          {KEYS.map((k) => (
            <div key={k.what}>
              <dt>{k.keys.map((key, i) => <span key={key}>{i > 0 && ' '}<kbd>{key}</kbd></span>)}</dt>
              <dd>{k.what}</dd>
            </div>
          ))}
        </dl>
        <form method="dialog"><button type="submit">Close</button></form>
      </dialog>
    </>
  );
}
