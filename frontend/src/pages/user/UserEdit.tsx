import { Title } from "@mantine/core";

// Placeholder: this page is being written.
export default function UserEdit() {
  return <Title order={2}>UserEdit</Title>;
}
