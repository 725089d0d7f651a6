/**
 * What the browser keeps for us: the models in Cache Storage and the site's storage estimate.
 * A small store shared by the picker (“stored” marks, room for a download) and the storage manager.
 */
import { create } from 'zustand';
import type { ModelVariant } from '../protocol';
import { deleteAllCachedModels, deleteCachedModel, listCachedModels, type CachedModel } from '../model/modelCache';

export interface StorageInfo {
  models: CachedModel[];
  /** Bytes this site uses and may use (navigator.storage.estimate), null when unknown. */
  usage: number | null;
  quota: number | null;
  /** Last problem reading or deleting, for the storage manager. */
  error: string | null;
  refresh: () => Promise<void>;
  remove: (key: string) => Promise<void>;
  removeAll: () => Promise<void>;
}

export const useStorageInfo = create<StorageInfo>()((set, get) => ({
  models: [],
  usage: null,
  quota: null,
  error: null,
  refresh: async () => {
    try {
      const [models, est] = await Promise.all([listCachedModels(), navigator.storage?.estimate?.().catch(() => null)]);
      set({ models, usage: est?.usage ?? null, quota: est?.quota ?? null, error: null });
    } catch (e) {
      set({ error: `Could not read the stored models: ${e instanceof Error ? e.message : String(e)}` });
    }
  },
  remove: async (key) => {
    try {
      await deleteCachedModel(key);
    } catch (e) {
      set({ error: `Could not delete: ${e instanceof Error ? e.message : String(e)}` });
    }
    await get().refresh();
  },
  removeAll: async () => {
    try {
      await deleteAllCachedModels();
    } catch (e) {
      set({ error: `Could not delete: ${e instanceof Error ? e.message : String(e)}` });
    }
    await get().refresh();
  },
}));

/** Variants of `repo` (on `host`, at `revision`) that are stored completely. */
export function storedVariants(models: readonly CachedModel[], host: string, repo: string, revision: string): ModelVariant[] {
  return models.find((m) => m.host === host && m.repo === repo && m.revision === revision)?.variants ?? [];
}
