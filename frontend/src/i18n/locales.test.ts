import { describe, expect, it } from "vitest";

import { collectResources, LANGUAGES } from "./index";

function keys(value: unknown, prefix = ""): string[] {
  if (value === null || typeof value !== "object") return [prefix];
  return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => keys(v, prefix ? `${prefix}.${k}` : k));
}

describe("translations", () => {
  const resources = collectResources();

  it("has every namespace in every language", () => {
    const namespaces = Object.keys(resources.en).sort();
    for (const lang of LANGUAGES) expect(Object.keys(resources[lang] ?? {}).sort()).toEqual(namespaces);
  });

  it("has the same keys in English and Chinese", () => {
    for (const ns of Object.keys(resources.en)) {
      const en = keys(resources.en[ns]).sort();
      const zh = keys(resources.zh?.[ns]).sort();
      expect({ ns, keys: zh }).toEqual({ ns, keys: en });
    }
  });

  it("has no empty strings", () => {
    for (const lang of LANGUAGES) {
      for (const [ns, tree] of Object.entries(resources[lang] ?? {})) {
        const flat = JSON.stringify(tree);
        expect({ lang, ns, empty: flat.includes('""') }).toEqual({ lang, ns, empty: false });
      }
    }
  });
});
