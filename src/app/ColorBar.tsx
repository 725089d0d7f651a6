import { useEffect, useRef } from 'react';
import { colorbarPixels } from '../render/colorbar';
import type { ColormapId } from '../render/colormap';

/** The colormap with the value scale of the map being shown. */
export function ColorBar({ colormap, min, max }: { colormap: ColormapId; min: number; max: number }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const canvas = ref.current;
    const ctx = canvas?.getContext('2d');
    if (!canvas || !ctx) return;
    const image = ctx.createImageData(canvas.width, canvas.height);
    colorbarPixels(image, colormap);
    ctx.putImageData(image, 0, 0);
  }, [colormap]);
  const mid = (min + max) / 2;
  return (
    <figure className="colorbar" aria-label={`Colour scale from ${min.toPrecision(3)} to ${max.toPrecision(3)}`}>
      <canvas ref={ref} width={256} height={12} />
      <figcaption>
        <span>{min.toPrecision(3)}</span><span>{mid.toPrecision(3)}</span><span>{max.toPrecision(3)}</span>
      </figcaption>
    </figure>
  );
}
