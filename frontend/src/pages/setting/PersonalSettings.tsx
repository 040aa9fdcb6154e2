// The "Personal" settings tab (also /user/edit): profile, password, access token,
// invite link, linked accounts and account deletion.
import { SimpleGrid, Stack } from "@mantine/core";
import { useEffect } from "react";

import { useAuth } from "../../context/AuthContext";
import { AccessCard } from "./personal/AccessCard";
import { BindingsCard } from "./personal/BindingsCard";
import { DeleteCard } from "./personal/DeleteCard";
import { PasswordCard } from "./personal/PasswordCard";
import { ProfileCard } from "./personal/ProfileCard";

export default function PersonalSettings() {
  const { user, isRoot, refresh } = useAuth();

  useEffect(() => {
    // The login reply carries only the session fields; load email, bindings, ...
    void refresh();
  }, [refresh]);

  if (!user) return null;
  return (
    <Stack>
      <SimpleGrid cols={{ base: 1, md: 2 }}>
        <ProfileCard user={user} onSaved={refresh} />
        <PasswordCard />
        <AccessCard />
        <BindingsCard user={user} onChanged={refresh} />
      </SimpleGrid>
      {isRoot ? null : <DeleteCard />}
    </Stack>
  );
}
