import { Title } from "@mantine/core";

// Placeholder: this page is being written.
export default function Register() {
  return <Title order={2}>Register</Title>;
}
