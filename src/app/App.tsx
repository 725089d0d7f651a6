import { useEffect } from 'react';
import { Controls } from './Controls';
import { DropZone } from './DropZone';
import { FocusView } from './FocusView';
import { Gallery } from './Gallery';
import { ImageGrid } from './ImageGrid';
import { ModelBar } from './ModelBar';
import { PromptList } from './PromptList';
import { startModel } from './modelChoice';
import './app.css';

export function App() {
  useEffect(() => {
    // The model in the address, the remembered one, or the default (see modelChoice.ts).
    void startModel();
  }, []);
  return (
    <div className="app">
      <ModelBar />
      <aside className="side">
        <PromptList />
        <Controls />
      </aside>
      <main>
        <DropZone />
        <ImageGrid />
        <Gallery />
      </main>
      <aside className="detail">
        <FocusView />
      </aside>
    </div>
  );
}
