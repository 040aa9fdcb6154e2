// Toasts for API results: the server's own message when it sent one, a translated
// generic text for network/rate-limit failures.
import { notifications } from "@mantine/notifications";

import { ApiError } from "../api/client";
import i18n from "../i18n";

export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.message === "network") return i18n.t("errors.network");
    if (error.message === "rate_limited") return i18n.t("errors.rate_limited");
    return error.message;
  }
  if (error instanceof Error && error.message) return error.message;
  return i18n.t("errors.generic");
}

export function notifyError(error: unknown): void {
  if (error instanceof DOMException && error.name === "AbortError") return;
  notifications.show({ color: "red", title: i18n.t("errors.generic"), message: errorMessage(error) });
}

export function notifySuccess(message: string): void {
  notifications.show({ color: "green", message });
}
