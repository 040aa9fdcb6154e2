// The root's view of /api/option/: every option as a string, saved one key at a time
// with PUT /api/option/ {key, value}. After a save the shell's /api/status is re-read,
// since many options (name, logo, footer, login buttons, currency) show there.
import { useCallback, useEffect, useState } from "react";

import { api } from "../../api/client";
import { useStatus } from "../../context/StatusContext";
import { notifyError } from "../../lib/notify";

export type OptionMap = Record<string, string>;

export interface OptionsApi {
  options: OptionMap | null;
  /** Save one option; throws ApiError (the server's message) when refused. */
  save: (key: string, value: string) => Promise<void>;
}

export function useOptions(enabled: boolean): OptionsApi {
  const { reload } = useStatus();
  const [options, setOptions] = useState<OptionMap | null>(null);

  useEffect(() => {
    if (!enabled) return;
    const abort = new AbortController();
    api
      .get<{ key: string; value: string }[]>("/api/option/", undefined, abort.signal)
      .then((rows) => setOptions(Object.fromEntries((rows ?? []).map((row) => [row.key, row.value]))))
      .catch(notifyError);
    return () => abort.abort();
  }, [enabled]);

  const save = useCallback(
    async (key: string, value: string) => {
      await api.put("/api/option/", { key, value });
      setOptions((current) => ({ ...(current ?? {}), [key]: value }));
      await reload();
    },
    [reload],
  );

  return { options, save };
}
