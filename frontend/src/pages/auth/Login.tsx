import { Title } from "@mantine/core";

// Placeholder: this page is being written.
export default function Login() {
  return <Title order={2}>Login</Title>;
}
