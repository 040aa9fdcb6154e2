import { Button, Group, TextInput } from "@mantine/core";
import { IconSearch } from "@tabler/icons-react";
import { useState, type FormEvent, type ReactNode } from "react";
import { useTranslation } from "react-i18next";

/** A list page's search: the trimmed keyword is applied on submit (button or Enter);
 * `children` are further controls on the same line (e.g. a sort select). */
export function SearchBar({
  label,
  placeholder,
  onSearch,
  children,
}: {
  label: string;
  placeholder: string;
  onSearch: (keyword: string) => void;
  children?: ReactNode;
}) {
  const { t } = useTranslation();
  const [input, setInput] = useState("");
  const submit = (event: FormEvent) => {
    event.preventDefault();
    onSearch(input.trim());
  };
  return (
    <Group component="form" onSubmit={submit} align="flex-end" gap="sm" mb="md" wrap="wrap">
      <TextInput
        label={label}
        placeholder={placeholder}
        value={input}
        onChange={(e) => setInput(e.currentTarget.value)}
        leftSection={<IconSearch size={16} />}
        style={{ flex: "1 1 240px" }}
      />
      <Button type="submit" variant="light">
        {t("actions.search")}
      </Button>
      {children}
    </Group>
  );
}
