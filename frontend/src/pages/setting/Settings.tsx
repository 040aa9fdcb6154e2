import { Title } from "@mantine/core";

// Placeholder: this page is being written.
export default function Settings() {
  return <Title order={2}>Settings</Title>;
}
