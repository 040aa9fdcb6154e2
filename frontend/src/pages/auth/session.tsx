// After a sign-in. The server does not flag root's default password in the login reply (like the
// reference, it only logs it), so the UI notices it when root signs in with 123456 and
// remembers it until the password is changed in Personal settings.
import { Anchor, Stack, Text } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import type { NavigateFunction } from "react-router";

import i18n from "../../i18n";
import { loadJson, saveJson } from "../../lib/storage";

export const DEFAULT_ROOT_PASSWORD = "123456";
const KEY = "defaultPasswordWarning";

export function isDefaultRootLogin(username: string, password: string): boolean {
  return username === "root" && password === DEFAULT_ROOT_PASSWORD;
}

export function rememberDefaultPassword(on: boolean): void {
  saveJson(KEY, on ? true : null);
}

export function hasDefaultPassword(): boolean {
  return loadJson<boolean>(KEY) === true;
}

/** Where to go after signing in: the page a guard sent us from, else home. */
export function targetOf(state: unknown): string {
  const from = (state as { from?: unknown } | null)?.from;
  return typeof from === "string" && from.startsWith("/") && !from.startsWith("/login") ? from : "/";
}

export function warnDefaultPassword(navigate: NavigateFunction): void {
  const id = "default-password";
  notifications.show({
    id,
    color: "orange",
    autoClose: false,
    title: i18n.t("auth:defaultPassword.title"),
    message: (
      <Stack gap={4} data-testid="default-password-warning">
        <Text size="sm">{i18n.t("auth:defaultPassword.text")}</Text>
        <Anchor
          href="/setting"
          size="sm"
          onClick={(e) => {
            e.preventDefault();
            notifications.hide(id);
            void navigate("/setting");
          }}
        >
          {i18n.t("auth:defaultPassword.link")}
        </Anchor>
      </Stack>
    ),
  });
}

