import { Title } from "@mantine/core";

// Placeholder: this page is being written.
export default function ResetRequest() {
  return <Title order={2}>ResetRequest</Title>;
}
