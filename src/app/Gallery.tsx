/** Sample images that ship with the app: synthetic scenes the bundled model knows, and photos. */
import { useEffect, useState } from 'react';
import { addFiles } from './pipeline';

interface Sample {
  file: string;
  caption: string;
}

export function Gallery() {
  const [samples, setSamples] = useState<Sample[]>([]);
  useEffect(() => {
    fetch(new URL('samples/index.json', document.baseURI))
      .then((r) => r.json() as Promise<Sample[]>)
      .then(setSamples, () => setSamples([]));
  }, []);
  const add = async (s: Sample) => {
    const res = await fetch(new URL(`samples/${s.file}`, document.baseURI));
    addFiles([{ name: s.file, blob: await res.blob() }]);
  };
  if (samples.length === 0) return null;
  return (
    <section className="gallery" aria-label="Sample images">
      <h2>Samples</h2>
      <ul>
        {samples.map((s) => (
          <li key={s.file}>
            <button type="button" title={s.caption} aria-label={`Add sample: ${s.caption}`} onClick={() => void add(s)}>
              <img src={`samples/${s.file}`} alt={s.caption} loading="lazy" />
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}
