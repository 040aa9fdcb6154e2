// One page of a list endpoint. The /api list routes return a bare array (no total,
// like the reference), so "there is a next page" means "this page came back full".
import { useCallback, useEffect, useRef, useState } from "react";

import { notifyError } from "./notify";

export const PAGE_SIZE = 10;

export interface Paged<T> {
  items: T[];
  page: number;
  setPage: (page: number) => void;
  loading: boolean;
  hasNext: boolean;
  reload: () => Promise<void>;
  /** Replace the loaded items locally (after an inline edit) without a round trip. */
  setItems: (update: (items: T[]) => T[]) => void;
}

export function usePaged<T>(
  fetchPage: (page: number, size: number, signal: AbortSignal) => Promise<T[]>,
  deps: unknown[] = [],
  size = PAGE_SIZE,
): Paged<T> {
  const [items, setItemsState] = useState<T[]>([]);
  const [page, setPage] = useState(0);
  const [loading, setLoading] = useState(false);
  const controller = useRef<AbortController | null>(null);

  const load = useCallback(async () => {
    controller.current?.abort();
    const current = new AbortController();
    controller.current = current;
    setLoading(true);
    try {
      const rows = await fetchPage(page, size, current.signal);
      if (!current.signal.aborted) setItemsState(rows ?? []);
    } catch (error) {
      if (!current.signal.aborted) notifyError(error);
    } finally {
      if (!current.signal.aborted) setLoading(false);
    }
    // fetchPage is rebuilt each render; `deps` says when it really changed.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [page, size, ...deps]);

  useEffect(() => {
    void load();
    return () => controller.current?.abort();
  }, [load]);

  useEffect(() => {
    setPage(0);
    // A new filter starts again from the first page.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);

  return {
    items,
    page,
    setPage,
    loading,
    hasNext: items.length >= size,
    reload: load,
    setItems: (update) => setItemsState(update),
  };
}
