// Copy text to the clipboard; false when the browser refuses (no permission, an
// insecure origin), so the caller can show the text for copying by hand instead.
export async function copyText(text: string): Promise<boolean> {
  try {
    if (!navigator.clipboard) return false;
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}
