// Building blocks of the settings tabs: a titled section, a form of option fields
// saved together (only what changed), and switches saved as soon as they flip.
import {
  Button,
  Group,
  NumberInput,
  Paper,
  PasswordInput,
  Select,
  SimpleGrid,
  Stack,
  Switch,
  Text,
  Textarea,
  TextInput,
  Title,
} from "@mantine/core";
import { useEffect, useState, type ReactNode } from "react";
import { useTranslation } from "react-i18next";

import { RichContent } from "../../components/RichContent";
import { notifyError, notifySuccess } from "../../lib/notify";
import { checkRatioJson, prettyJson, type RatioProblem } from "./ratioJson";
import type { OptionsApi } from "./useOptions";

export type FieldKind = "text" | "number" | "secret" | "textarea" | "ratio" | "markdown" | "select";

export interface FieldSpec {
  name: string;
  kind?: FieldKind;
  /** Choices of a "select" field. */
  choices?: string[];
  /** Take the whole row of the form's grid. */
  wide?: boolean;
}

export function Section({ title, children }: { title: string; children: ReactNode }) {
  return (
    <Paper withBorder p="md" radius="md">
      <Title order={4} mb="sm">
        {title}
      </Title>
      <Stack gap="sm">{children}</Stack>
    </Paper>
  );
}

function useLabels() {
  const { t } = useTranslation("setting");
  return {
    label: (name: string) => t(`options.${name}.label`),
    hint: (name: string) => t(`options.${name}.hint`, { defaultValue: "" }) || undefined,
  };
}

function ratioMessage(t: (key: string, values?: Record<string, string>) => string, problem: RatioProblem): string {
  switch (problem.code) {
    case "syntax":
      return t("ratio.syntax", { detail: problem.detail });
    case "notObject":
      return t("ratio.notObject");
    case "notNumber":
      return t("ratio.notNumber", { name: problem.name });
    case "negative":
      return t("ratio.negative", { name: problem.name });
  }
}

const initialValue = (spec: FieldSpec, value: string | undefined): string =>
  spec.kind === "ratio" ? prettyJson(value ?? "") : (value ?? "");

/** Fields saved together by one Save button; only changed values are sent. */
export function OptionForm({ ctx, fields, cols = 2 }: { ctx: OptionsApi; fields: FieldSpec[]; cols?: number }) {
  const { t } = useTranslation("setting");
  const labels = useLabels();
  const { options, save } = ctx;
  const baseline = (spec: FieldSpec) => initialValue(spec, options?.[spec.name]);
  const [draft, setDraft] = useState<Record<string, string>>({});
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [saving, setSaving] = useState(false);
  const [previews, setPreviews] = useState<Record<string, boolean>>({});

  // Options arrive (or change) after mount: start from the stored values again.
  useEffect(() => {
    if (!options) return;
    setDraft(Object.fromEntries(fields.map((spec) => [spec.name, initialValue(spec, options[spec.name])])));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [options === null]);

  const value = (name: string) => draft[name] ?? "";
  const set = (name: string, next: string) => {
    setDraft((d) => ({ ...d, [name]: next }));
    setErrors((e) => ({ ...e, [name]: "" }));
  };
  const changed = fields.filter((spec) =>
    spec.kind === "secret" ? value(spec.name) !== "" : value(spec.name) !== baseline(spec),
  );

  const submit = async () => {
    const problems: Record<string, string> = {};
    for (const spec of changed) {
      if (spec.kind !== "ratio") continue;
      const problem = checkRatioJson(value(spec.name));
      if (problem) problems[spec.name] = ratioMessage(t, problem);
    }
    setErrors(problems);
    if (Object.keys(problems).length) return;
    setSaving(true);
    try {
      for (const spec of changed) {
        const text = spec.kind === "ratio" ? JSON.stringify(JSON.parse(value(spec.name)), null, 2) : value(spec.name);
        await save(spec.name, text);
        // Show what was stored (secrets are never read back: the field empties again).
        set(spec.name, spec.kind === "secret" ? "" : text);
      }
      notifySuccess(t("saved"));
    } catch (error) {
      notifyError(error);
    } finally {
      setSaving(false);
    }
  };

  const render = (spec: FieldSpec) => {
    const common = {
      label: labels.label(spec.name),
      description: labels.hint(spec.name),
      value: value(spec.name),
      error: errors[spec.name] || undefined,
      disabled: !options,
    };
    const onText = (e: { currentTarget: { value: string } }) => set(spec.name, e.currentTarget.value);
    switch (spec.kind ?? "text") {
      case "number":
        return (
          <NumberInput
            {...common}
            value={common.value}
            onChange={(v) => set(spec.name, String(v))}
            allowNegative={false}
            thousandSeparator=""
          />
        );
      case "secret":
        return (
          <PasswordInput {...common} placeholder={t("secretPlaceholder")} onChange={onText} autoComplete="off" />
        );
      case "select":
        return (
          <Select
            {...common}
            data={spec.choices ?? []}
            onChange={(v) => set(spec.name, v ?? "")}
            allowDeselect={false}
          />
        );
      case "ratio":
        return (
          <Textarea
            {...common}
            onChange={onText}
            autosize
            minRows={6}
            maxRows={20}
            spellCheck={false}
            styles={{ input: { fontFamily: "var(--mantine-font-family-monospace)" } }}
          />
        );
      case "markdown":
        return (
          <Stack gap={4}>
            <Textarea {...common} onChange={onText} autosize minRows={4} maxRows={16} />
            <Group>
              <Button
                variant="subtle"
                size="compact-sm"
                onClick={() => setPreviews((p) => ({ ...p, [spec.name]: !p[spec.name] }))}
                aria-expanded={Boolean(previews[spec.name])}
              >
                {previews[spec.name] ? t("hidePreview") : t("showPreview")}
              </Button>
            </Group>
            {previews[spec.name] ? (
              <Paper withBorder p="sm" data-testid={`preview-${spec.name}`}>
                {value(spec.name).trim() ? (
                  <RichContent content={value(spec.name)} title={labels.label(spec.name)} />
                ) : (
                  <Text c="dimmed" size="sm">
                    {t("emptyPreview")}
                  </Text>
                )}
              </Paper>
            ) : null}
          </Stack>
        );
      case "textarea":
        return <Textarea {...common} onChange={onText} autosize minRows={2} maxRows={8} />;
      default:
        return <TextInput {...common} onChange={onText} />;
    }
  };

  return (
    <Stack gap="sm">
      <SimpleGrid cols={{ base: 1, sm: cols }} spacing="sm">
        {fields.map((spec) => (
          <div key={spec.name} style={spec.wide ? { gridColumn: "1 / -1" } : undefined}>
            {render(spec)}
          </div>
        ))}
      </SimpleGrid>
      <Group justify="flex-end">
        <Button onClick={() => void submit()} loading={saving} disabled={!options || changed.length === 0}>
          {t("common:actions.save")}
        </Button>
      </Group>
    </Stack>
  );
}

/** A yes/no option, saved as soon as it is flipped. */
export function OptionSwitch({ ctx, name }: { ctx: OptionsApi; name: string }) {
  const labels = useLabels();
  const { t } = useTranslation("setting");
  const [busy, setBusy] = useState(false);
  const checked = ctx.options?.[name] === "true";
  return (
    <Switch
      label={labels.label(name)}
      description={labels.hint(name)}
      checked={checked}
      disabled={!ctx.options || busy}
      onChange={(e) => {
        const next = e.currentTarget.checked;
        setBusy(true);
        ctx
          .save(name, next ? "true" : "false")
          .then(() => notifySuccess(t("saved")))
          .catch(notifyError)
          .finally(() => setBusy(false));
      }}
    />
  );
}

export function OptionSwitches({ ctx, names }: { ctx: OptionsApi; names: string[] }) {
  return (
    <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="sm">
      {names.map((name) => (
        <OptionSwitch key={name} ctx={ctx} name={name} />
      ))}
    </SimpleGrid>
  );
}
