import { Text } from "@mantine/core";

// Placeholder: the "Personal" settings tab (edit self) is being written.
export default function PersonalSettings() {
  return <Text>PersonalSettings</Text>;
}
