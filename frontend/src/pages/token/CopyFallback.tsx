// When the browser will not write to the clipboard, show the text selected in a
// dialog so the user can copy it by hand.
import { Textarea } from "@mantine/core";
import { modals } from "@mantine/modals";

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
