import { useEffect } from 'react';
import { Controls } from './Controls';
import { DropZone } from './DropZone';
import { FocusView } from './FocusView';
import { Gallery } from './Gallery';
import { ImageGrid } from './ImageGrid';
import { KeyboardHelp } from './KeyboardHelp';
import { ModelBar } from './ModelBar';
import { PromptList } from './PromptList';
import { startModel } from './modelChoice';
import './app.css';

/**
 * The workspace: the model bar on top; prompts and view controls in a side panel; the focused
 * image large in the middle; the image list beside it (below it on medium screens). Narrow
 * windows stack the panels in this order (see app.css).
 */
export function App() {
  useEffect(() => {
    // The model in the address, the remembered one, or the default (see modelChoice.ts).
    void startModel();
  }, []);
  return (
    <div className="app">
      <ModelBar />
      <aside className="side" aria-label="Prompts and view controls">
        <PromptList />
        <Controls />
        <KeyboardHelp />
      </aside>
      <main className="focus-area">
        <FocusView />
      </main>
      <aside className="library" aria-label="Image list">
        <DropZone />
        <ImageGrid />
        <Gallery />
      </aside>
    </div>
  );
}
