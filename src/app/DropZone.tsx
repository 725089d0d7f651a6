/**
 * Every way in for images: drag and drop (files and folders), a file picker, a folder picker
 * and pasting from the clipboard.
 */
import { useEffect, useRef, useState } from 'react';
import { addFiles } from './pipeline';

/** Reads every file below a dropped directory entry (the entries API reads in batches). */
async function filesOf(entry: FileSystemEntry): Promise<File[]> {
  if (entry.isFile) {
    return new Promise((resolve) => (entry as FileSystemFileEntry).file((f) => resolve([f]), () => resolve([])));
  }
  if (!entry.isDirectory) return [];
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  const out: File[] = [];
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve) => reader.readEntries(resolve, () => resolve([])));
    if (batch.length === 0) break;
    for (const child of batch) out.push(...(await filesOf(child)));
  }
  return out;
}

async function filesFromTransfer(dt: DataTransfer): Promise<File[]> {
  const entries = Array.from(dt.items)
    .map((item) => (item.kind === 'file' ? item.webkitGetAsEntry?.() : null))
    .filter((e): e is FileSystemEntry => !!e);
  if (entries.length === 0) return Array.from(dt.files);
  const nested = await Promise.all(entries.map(filesOf));
  return nested.flat().sort((a, b) => a.name.localeCompare(b.name));
}

export function DropZone() {
  const [over, setOver] = useState(false);
  const fileInput = useRef<HTMLInputElement>(null);
  const folderInput = useRef<HTMLInputElement>(null);

  useEffect(() => {
    const onPaste = (e: ClipboardEvent) => {
      const files = Array.from(e.clipboardData?.files ?? []);
      if (files.length > 0) {
        e.preventDefault();
        addFiles(files.map((f, i) => ({ name: f.name || `pasted-${i + 1}.png`, blob: f })));
      }
    };
    window.addEventListener('paste', onPaste);
    return () => window.removeEventListener('paste', onPaste);
  }, []);

  useEffect(() => {
    folderInput.current?.setAttribute('webkitdirectory', '');
  }, []);

  return (
    <section
      className={`drop-zone${over ? ' over' : ''}`}
      data-testid="drop-zone"
      aria-label="Drop images here"
      onDragOver={(e) => { e.preventDefault(); setOver(true); }}
      onDragLeave={() => setOver(false)}
      onDrop={(e) => {
        e.preventDefault();
        setOver(false);
        void filesFromTransfer(e.dataTransfer).then(addFiles);
      }}
    >
      <p>Drop images or folders here, paste from the clipboard, or</p>
      <button type="button" onClick={() => fileInput.current?.click()}>Choose images…</button>
      <button type="button" onClick={() => folderInput.current?.click()}>Choose a folder…</button>
      <input ref={fileInput} type="file" multiple accept="image/*" hidden data-testid="file-input"
        onChange={(e) => { addFiles(Array.from(e.target.files ?? [])); e.target.value = ''; }} />
      <input ref={folderInput} type="file" multiple hidden data-testid="folder-input"
        onChange={(e) => { addFiles(Array.from(e.target.files ?? [])); e.target.value = ''; }} />
    </section>
  );
}
