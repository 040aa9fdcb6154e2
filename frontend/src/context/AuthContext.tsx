// The logged-in user. The session cookie is the truth; the copy in localStorage only
// decides what the shell shows before /api/user/self answers.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";

import { api, setUnauthorizedHandler } from "../api/client";
import { ROLE_ADMIN, ROLE_ROOT, type User } from "../api/types";
import { loadJson, saveJson } from "../lib/storage";

interface AuthValue {
  user: User | null;
  isAdmin: boolean;
  isRoot: boolean;
  /** Store the user a login/OAuth reply returned. */
  signIn: (user: User) => void;
  signOut: () => Promise<void>;
  /** Re-read /api/user/self (after a top-up, a profile edit, ...). */
  refresh: () => Promise<User | null>;
}

const AuthContext = createContext<AuthValue | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<User | null>(() => loadJson<User>("user"));

  const store = useCallback((next: User | null) => {
    setUser(next);
    saveJson("user", next);
  }, []);

  const refresh = useCallback(async () => {
    try {
      const self = await api.get<User>("/api/user/self");
      store(self);
      return self;
    } catch {
      return null;
    }
  }, [store]);

  useEffect(() => {
    setUnauthorizedHandler(() => store(null));
    return () => setUnauthorizedHandler(null);
  }, [store]);

  useEffect(() => {
    if (user) void refresh();
    // Only on first load: later changes come from signIn/refresh.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const signOut = useCallback(async () => {
    try {
      await api.get("/api/user/logout");
    } finally {
      store(null);
    }
  }, [store]);

  const value = useMemo<AuthValue>(
    () => ({
      user,
      isAdmin: (user?.role ?? 0) >= ROLE_ADMIN,
      isRoot: (user?.role ?? 0) >= ROLE_ROOT,
      signIn: store,
      signOut,
      refresh,
    }),
    [user, store, signOut, refresh],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthValue {
  const value = useContext(AuthContext);
  if (!value) throw new Error("useAuth outside AuthProvider");
  return value;
}
