// /api/status, fetched once per page load and cached in localStorage so the shell
// (name, logo, footer, login buttons) renders at once on the next visit.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";

import { api } from "../api/client";
import type { Status } from "../api/types";
import { DEFAULT_QUOTA_DISPLAY, type QuotaDisplay } from "../lib/quota";
import { loadJson, saveJson } from "../lib/storage";

interface StatusValue {
  status: Status | null;
  quotaDisplay: QuotaDisplay;
  reload: () => Promise<void>;
}

const StatusContext = createContext<StatusValue | null>(null);

export function StatusProvider({ children }: { children: ReactNode }) {
  const [status, setStatus] = useState<Status | null>(() => loadJson<Status>("status"));

  const reload = useCallback(async () => {
    try {
      const fresh = await api.get<Status>("/api/status");
      setStatus(fresh);
      saveJson("status", fresh);
    } catch {
      /* keep the cached copy; pages show their own errors */
    }
  }, []);

  useEffect(() => {
    void reload();
  }, [reload]);

  useEffect(() => {
    document.title = status?.system_name || "One API";
  }, [status?.system_name]);

  const value = useMemo<StatusValue>(
    () => ({
      status,
      quotaDisplay: status
        ? { quota_per_unit: status.quota_per_unit, display_in_currency: status.display_in_currency }
        : DEFAULT_QUOTA_DISPLAY,
      reload,
    }),
    [status, reload],
  );
  return <StatusContext.Provider value={value}>{children}</StatusContext.Provider>;
}

export function useStatus(): StatusValue {
  const value = useContext(StatusContext);
  if (!value) throw new Error("useStatus outside StatusProvider");
  return value;
}
