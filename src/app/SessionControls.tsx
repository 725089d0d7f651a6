/**
 * The session's controls in the top bar: Clear session, and what the session has to say (the
 * image a link shows that is not on this page; storage that is unavailable or full).
 */
import { clearSession, useSessionNotes } from './session';

export function SessionControls() {
  const missingImage = useSessionNotes((s) => s.missingImage);
  const storage = useSessionNotes((s) => s.storage);
  const stored = useSessionNotes((s) => s.stored);
  return (
    <span className="session" data-testid="session" data-stored={stored ?? ''}>
      <button type="button" data-testid="clear-session" title="Remove every image and prompt, here and in this browser's storage"
        onClick={() => void clearSession()}>Clear session</button>
      {missingImage !== null && (
        <span className="note" role="status" data-testid="link-images-note">
          This link shows {missingImage}: drop that file here to see it
        </span>
      )}
      {storage !== null && <span className="note" role="status" data-testid="session-note">{storage}</span>}
    </span>
  );
}
