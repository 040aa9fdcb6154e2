import { Title } from "@mantine/core";

// Placeholder: this page is being written.
export default function Home() {
  return <Title order={2}>Home</Title>;
}
