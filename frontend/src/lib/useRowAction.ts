// A list row's action (enable, disable, delete, ...): the row's buttons show progress
// while it runs, and a failure becomes an error toast.
import { useCallback, useState } from "react";

import { notifyError } from "./notify";

export function useRowAction(): { busy: number | null; run: (id: number, action: () => Promise<void>) => Promise<void> } {
  const [busy, setBusy] = useState<number | null>(null);
  const run = useCallback(async (id: number, action: () => Promise<void>) => {
    setBusy(id);
    try {
      await action();
    } catch (error) {
      notifyError(error);
    } finally {
      setBusy(null);
    }
  }, []);
  return { busy, run };
}
