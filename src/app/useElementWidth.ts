/** The content-box width of an element, in CSS pixels, kept up to date by a ResizeObserver. */
import { useCallback, useRef, useState } from 'react';

/**
 * Returns a callback ref to attach and the element's width (null until it is measured). Widths
 * are rounded to whole pixels so sub-pixel reflows do not re-render.
 */
export function useElementWidth<T extends HTMLElement>(): [(node: T | null) => void, number | null] {
  const [width, setWidth] = useState<number | null>(null);
  const observer = useRef<ResizeObserver | null>(null);
  const ref = useCallback((node: T | null) => {
    observer.current?.disconnect();
    observer.current = null;
    if (!node) return;
    const measure = (w: number) => setWidth((before) => (before === Math.round(w) ? before : Math.round(w)));
    measure(node.getBoundingClientRect().width);
    observer.current = new ResizeObserver((entries) => {
      const entry = entries[entries.length - 1];
      if (entry) measure(entry.contentRect.width);
    });
    observer.current.observe(node);
  }, []);
  return [ref, width];
}
