/**
 * A canvas over an image that paints one PatchMap. Thin wrapper: the pixels come from the pure
 * renderer; repaints are batched to animation frames and skipped when they would draw the same
 * pixels again.
 */
import { memo, useEffect, useRef } from 'react';
import type { PatchMap } from '../explain/types';
import type { CropBox } from '../protocol';
import { paintOverlay, samePicture, type OverlayPicture, type OverlayStyle } from './paint';

export interface HeatmapCanvasProps {
  map: PatchMap | null;
  /** Displayed size of the image, CSS pixels. */
  width: number;
  height: number;
  /** The model's crop in the image's own pixel coordinates, and that image's size. */
  cropBox: CropBox;
  imageWidth: number;
  imageHeight: number;
  style: OverlayStyle;
  testId?: string;
  onHover?: (patch: number | null, value: number | null) => void;
  onPick?: (patch: number | null) => void;
}

export const HeatmapCanvas = memo(function HeatmapCanvas(props: HeatmapCanvasProps) {
  const ref = useRef<HTMLCanvasElement>(null);
  const painted = useRef<OverlayPicture | null>(null);
  const pixels = useRef<ImageData | null>(null);
  const { map, width, height, cropBox, imageWidth, imageHeight, style } = props;
  const sx = width / imageWidth;
  const sy = height / imageHeight;
  const box = { x: cropBox.x * sx, y: cropBox.y * sy, width: cropBox.width * sx, height: cropBox.height * sy };

  useEffect(() => {
    const canvas = ref.current;
    if (!canvas) return;
    const picture: OverlayPicture = { map, box, style, width: canvas.width, height: canvas.height };
    if (painted.current && samePicture(painted.current, picture)) return;
    const frame = requestAnimationFrame(() => {
      pixels.current = paintOverlay(canvas, map, box, style, pixels.current);
      painted.current = picture;
    });
    return () => cancelAnimationFrame(frame);
    // box is derived from the listed values
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [map, width, height, cropBox, imageWidth, imageHeight, style]);

  const patchFromEvent = (e: React.MouseEvent<HTMLCanvasElement>): number | null => {
    if (!map) return null;
    const r = e.currentTarget.getBoundingClientRect();
    const x = e.clientX - r.left - box.x;
    const y = e.clientY - r.top - box.y;
    if (x < 0 || y < 0 || x >= box.width || y >= box.height) return null;
    const col = Math.min(map.width - 1, Math.floor((x / box.width) * map.width));
    const row = Math.min(map.height - 1, Math.floor((y / box.height) * map.height));
    return row * map.width + col;
  };

  return (
    <canvas
      ref={ref}
      className="heatmap"
      data-testid={props.testId}
      width={Math.round(width)}
      height={Math.round(height)}
      style={{ width, height }}
      onMouseMove={props.onHover && ((e) => {
        const p = patchFromEvent(e);
        props.onHover?.(p, p === null || !map ? null : (map.values[p] ?? null));
      })}
      onMouseLeave={props.onHover && (() => props.onHover?.(null, null))}
      onClick={props.onPick && ((e) => props.onPick?.(patchFromEvent(e)))}
    />
  );
});
