import { Title } from "@mantine/core";

// Placeholder: this page is being written.
export default function Dashboard() {
  return <Title order={2}>Dashboard</Title>;
}
