import { Title } from "@mantine/core";

// Placeholder: this page is being written.
export default function UserList() {
  return <Title order={2}>UserList</Title>;
}
