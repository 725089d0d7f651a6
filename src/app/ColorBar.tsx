import { useEffect, useRef } from 'react';
import { colorbarPixels } from '../render/colorbar';
import type { ColormapId } from '../render/colormap';

/**
 * The colormap with the value scale of the map being shown, or, for maps that each have their
 * own scale (small multiples), `labels` for its two ends and middle instead of numbers.
 */
export function ColorBar({ colormap, min = 0, max = 1, labels, testId }: {
  colormap: ColormapId; min?: number; max?: number; labels?: readonly [string, string, string]; testId?: string;
}) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const canvas = ref.current;
    const ctx = canvas?.getContext('2d');
    if (!canvas || !ctx) return;
    const image = ctx.createImageData(canvas.width, canvas.height);
    colorbarPixels(image, colormap);
    ctx.putImageData(image, 0, 0);
  }, [colormap]);
  const [low, mid, high] = labels ?? [min.toPrecision(3), ((min + max) / 2).toPrecision(3), max.toPrecision(3)];
  return (
    <figure className="colorbar" data-testid={testId} aria-label={`Colour scale (${colormap}) from ${low} to ${high}`}>
      <canvas ref={ref} width={256} height={12} aria-hidden="true" />
      <figcaption>
        <span>{low}</span><span>{mid}</span><span>{high}</span>
      </figcaption>
    </figure>
  );
}
