// Operator-provided content (home page, about, notice): an https:// URL is shown in
// an iframe, anything else is Markdown (which may contain HTML), sanitised.
import { Box } from "@mantine/core";
import DOMPurify from "dompurify";
import { marked } from "marked";
import { useMemo } from "react";

export function isIframeUrl(content: string): boolean {
  return /^https:\/\/\S+$/.test(content.trim());
}

export function renderMarkdown(content: string): string {
  return DOMPurify.sanitize(marked.parse(content, { async: false }));
}

export function RichContent({ content, title }: { content: string; title: string }) {
  const html = useMemo(() => (isIframeUrl(content) ? "" : renderMarkdown(content)), [content]);
  if (isIframeUrl(content)) {
    return (
      <Box
        component="iframe"
        src={content.trim()}
        title={title}
        style={{ width: "100%", height: "80vh", border: "none" }}
      />
    );
  }
  return <Box className="rich-content" dangerouslySetInnerHTML={{ __html: html }} />;
}
