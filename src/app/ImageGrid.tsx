import { useLens } from '../state/store';
import { ImageCard } from './ImageCard';

/** All images, with the queue's progress. */
export function ImageGrid() {
  const images = useLens((s) => s.images);
  const done = images.filter((im) => im.status === 'done' || im.status === 'error').length;
  if (images.length === 0) return null;
  return (
    <section className="images" aria-label="Images">
      <p className="queue" data-testid="queue" role="status" aria-live="polite" data-done={done} data-total={images.length}>
        {done} of {images.length} image{images.length > 1 ? 's' : ''} analysed
        {done < images.length && <progress value={done} max={images.length} />}
      </p>
      <p className="hint legend" data-testid="cards-legend">
        Each card's map: the view's method, on that image's own scale (its lowest value at the colormap's low end, its highest at the high end; a prompt difference: 0 in the middle).
      </p>
      <div className="cards">
        {images.map((im, i) => <ImageCard key={im.id} entry={im} index={i} />)}
      </div>
    </section>
  );
}
