// The operator's Notice, shown once per change of its text: a hash of the text seen
// last is kept in localStorage.
import { Modal } from "@mantine/core";
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";

import { api } from "../../api/client";
import { RichContent } from "../../components/RichContent";
import { loadJson, saveJson } from "../../lib/storage";

const SEEN_KEY = "noticeSeen";

/** A short, stable fingerprint (FNV-1a) - enough to tell one notice text from the next. */
export function hashText(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16);
}

export function NoticeModal() {
  const { t } = useTranslation("home");
  const [notice, setNotice] = useState("");

  useEffect(() => {
    const controller = new AbortController();
    api
      .get<string>("/api/notice", undefined, controller.signal)
      .then((text) => {
        const trimmed = (text ?? "").trim();
        if (trimmed && loadJson<string>(SEEN_KEY) !== hashText(trimmed)) setNotice(trimmed);
      })
      .catch(() => {
        /* no notice is not worth a toast */
      });
    return () => controller.abort();
  }, []);

  const close = () => {
    saveJson(SEEN_KEY, hashText(notice));
    setNotice("");
  };

  return (
    <Modal opened={!!notice} onClose={close} title={t("notice")} size="lg" centered>
      <RichContent content={notice} title={t("notice")} />
    </Modal>
  );
}
