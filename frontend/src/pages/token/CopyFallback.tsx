// When the browser will not write to the clipboard, show the text selected in a
// dialog so the user can copy it by hand.
import { Textarea } from "@mantine/core";
import { modals } from "@mantine/modals";

import { notifySuccess } from "../../lib/notify";
import { copyText } from "./clipboard";

/** Copy `text` and toast `copied`; where the browser refuses, show it for copying by hand. */
export async function copyOrShow(text: string, copied: string, manualTitle: string): Promise<void> {
  if (await copyText(text)) notifySuccess(copied);
  else showCopyFallback(manualTitle, text);
}

export function showCopyFallback(title: string, text: string): void {
  modals.open({
    title,
    children: (
      <Textarea
        label={title}
        value={text}
        readOnly
        autosize
        minRows={2}
        data-autofocus
        onFocus={(e) => e.currentTarget.select()}
      />
    ),
  });
}
